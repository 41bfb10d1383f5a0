/**
 * Personal API tokens for the CLI and automation: `slp_` + 32 random bytes, stored as sha256, with scopes
 * (read < write < admin), revocable. Creating one needs the 'write' scope, and a token can only be created
 * with scopes its creator holds, so a read-only token cannot mint any token and a write token no admin one.
 */
import type { ApiTokenInfo, CreatedToken } from '../../shared/api';
import { badRequest, forbidden, notFound } from '../../shared/errors';
import type { Principal, TokenScope } from '../context';
import type { Db } from '../store/db';
import { identitiesStore } from '../store/identities';
import { API_TOKEN_PREFIX, hashToken, looksLikeToken, newToken } from './tokens';

const SCOPES: readonly TokenScope[] = ['read', 'write', 'admin'];
// last_used_at is a hint for humans; writing it at most once a minute keeps reads off the write lock.
const LAST_USED_RESOLUTION_MS = 60_000;

/** True when the held scopes include `needed` (admin implies write implies read). */
export function hasScope(held: readonly TokenScope[], needed: TokenScope): boolean {
  const rank = SCOPES.indexOf(needed);
  return held.some((s) => SCOPES.indexOf(s) >= rank);
}

export function createApiToken(db: Db, p: Principal, input: { name?: unknown; scopes?: unknown }): CreatedToken {
  const name = input.name;
  if (typeof name !== 'string' || !name.trim() || name.length > 100) throw badRequest('name: required, at most 100 characters');
  const scopes = input.scopes;
  if (!Array.isArray(scopes) || !scopes.length || scopes.some((s) => !SCOPES.includes(s)))
    throw badRequest(`scopes: a non-empty list of ${SCOPES.join(', ')} (got ${JSON.stringify(scopes)})`);
  for (const s of scopes as TokenScope[]) {
    if (!hasScope(p.scopes, s)) throw forbidden(`scopes: your credential lacks the '${s}' scope it would grant`);
    if (s === 'admin' && !p.isAdmin) throw forbidden("scopes: only instance admins can create 'admin' tokens");
  }
  // Checked here too, not only by the route: any caller of this function mints a credential.
  if (!hasScope(p.scopes, 'write')) throw forbidden("creating a token needs the 'write' scope; your credential has only: " + p.scopes.join(', '));
  const token = newToken(API_TOKEN_PREFIX);
  const id = identitiesStore(db).insertApiToken(p.userId, name.trim(), hashToken(token), JSON.stringify([...new Set(scopes)]), Date.now());
  return { id, name: name.trim(), token };
}

export function listApiTokens(db: Db, userId: number): ApiTokenInfo[] {
  return identitiesStore(db).apiTokensOf(userId).map((r) => ({
    id: r.id,
    name: r.name,
    scopes: JSON.parse(r.scopes),
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at,
    revokedAt: r.revoked_at,
  }));
}

/**
 * Revokes one of the caller's tokens (admins: anyone's). not_found for others' or unknown ids. Returns the
 * token owner's user id (the caller tells the access-change listeners).
 */
export function revokeApiToken(db: Db, p: Principal, id: number): number {
  const ids = identitiesStore(db);
  const row = ids.apiTokenById(id);
  if (!row || (row.user_id !== p.userId && !p.isAdmin)) throw notFound(`token ${id}`);
  if (row.revoked_at === null) ids.revokeApiToken(id, Date.now());
  return row.user_id;
}

/** The live token's owner and scopes, or null (unknown, malformed or revoked). Updates last_used_at. */
export function lookupApiToken(db: Db, token: string, now = Date.now()): { userId: number; scopes: TokenScope[] } | null {
  if (!looksLikeToken(token, API_TOKEN_PREFIX)) return null;
  const ids = identitiesStore(db);
  const row = ids.apiTokenByHash(hashToken(token));
  if (!row || row.revoked_at !== null) return null;
  if (row.last_used_at === null || now - row.last_used_at > LAST_USED_RESOLUTION_MS) ids.touchApiToken(row.id, now);
  return { userId: row.user_id, scopes: JSON.parse(row.scopes) };
}
