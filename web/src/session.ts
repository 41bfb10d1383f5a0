/**
 * The login session: the JWT lives in memory only (never localStorage or a cookie), so a script injected
 * elsewhere cannot read it from storage and no other site can ride on it (no CSRF surface); the price is a
 * new login after a reload. The session ends at the token's expiresAt, on log-out, or on the first 401 the
 * master answers (token expired, user disabled): every view then falls back to the login page with why.
 */
import type { LoginResponse, Me } from '../../shared/api';
import { ApiClient } from '../../shared/client/api-client';

export interface Session {
  client: ApiClient;
  token: string;
  me: Me;
  expiresAt: number;
}

let current: Session | null = null;
let endedBecause: string | null = null;
let expiryTimer: ReturnType<typeof setTimeout> | undefined;
const listeners = new Set<() => void>();

const origin = () => window.location.origin;

export function session(): Session | null {
  return current;
}

/** Why the last session ended ('session expired', ...), null after a log-out or before any login. */
export function endReason(): string | null {
  return endedBecause;
}

export function onSessionChange(fn: () => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function changed(): void {
  for (const fn of listeners) fn();
}

/** Logs in with the documented POST /api/v1/auth/login; throws the master's SlipwayError on failure. */
export async function login(username: string, password: string): Promise<void> {
  const res: LoginResponse = await new ApiClient({ url: origin() }).login(username, password);
  // A 401 from any later call means the credential is no longer good: end the session at once.
  const guarded: typeof fetch = async (input, init) => {
    const r = await fetch(input, init);
    if (r.status === 401 && current?.token === res.token) logout('session expired or revoked: log in again');
    return r;
  };
  current = { client: new ApiClient({ url: origin(), token: res.token, fetch: guarded }), token: res.token, me: res.user, expiresAt: res.expiresAt };
  endedBecause = null;
  clearTimeout(expiryTimer);
  // setTimeout takes at most 2^31-1 ms; a longer session is checked again when that timer fires.
  const arm = () => {
    const left = res.expiresAt - Date.now();
    if (left <= 0) return logout('session expired: log in again');
    expiryTimer = setTimeout(arm, Math.min(left, 2 ** 31 - 1));
  };
  arm();
  changed();
}

export function logout(reason?: string): void {
  if (!current) return;
  current = null;
  endedBecause = reason ?? null;
  clearTimeout(expiryTimer);
  changed();
}
