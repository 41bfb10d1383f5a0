/** The web UI's in-memory session: it ends at the token's expiry, on log-out and on the first 401. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

const realFetch = globalThis.fetch;
let calls: string[];

function answer(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.resetModules();
  calls = [];
  (globalThis as { window?: unknown }).window = { location: { origin: 'http://ui.test' } };
  globalThis.fetch = (async (input: string | URL | Request) => {
    const url = String(input);
    calls.push(url);
    if (url.endsWith('/auth/login')) return answer(200, { token: 'jwt-1', expiresAt: Date.now() + 60_000, user: { id: 1, username: 'u', isAdmin: false, teams: [] } });
    if (url.endsWith('/me')) return answer(401, { error: { code: 'unauthenticated', message: 'token expired' } });
    return answer(200, []);
  }) as typeof fetch;
});

afterEach(() => {
  vi.useRealTimers();
  globalThis.fetch = realFetch;
  delete (globalThis as { window?: unknown }).window;
});

describe('web session', () => {
  it('ends when the token expires', async () => {
    const s = await import('../../web/src/session');
    const changes = vi.fn();
    s.onSessionChange(changes);
    await s.login('u', 'p');
    expect(s.session()?.me.username).toBe('u');
    expect(calls).toEqual(['http://ui.test/api/v1/auth/login']);
    vi.advanceTimersByTime(59_999);
    expect(s.session()).not.toBeNull();
    vi.advanceTimersByTime(1);
    expect(s.session()).toBeNull();
    expect(s.endReason()).toMatch(/expired/);
    expect(changes).toHaveBeenCalledTimes(2);
  });

  it('ends on the first 401 and on log-out', async () => {
    const s = await import('../../web/src/session');
    await s.login('u', 'p');
    await s.session()!.client.listJobs();
    expect(s.session()).not.toBeNull();
    await expect(s.session()!.client.me()).rejects.toThrow(/token expired/);
    expect(s.session()).toBeNull();
    expect(s.endReason()).toMatch(/log in again/);
    await s.login('u', 'p');
    s.logout();
    expect(s.session()).toBeNull();
    expect(s.endReason()).toBeNull();
  });
});
