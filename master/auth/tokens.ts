/**
 * Bearer secrets shown once and stored only as their sha256: personal API tokens (`slp_`) and agent tokens
 * (`sla_`). 32 random bytes make guessing hopeless, so a fast hash is enough (no salt or bcrypt needed),
 * and lookups by hash are a single indexed query.
 */
import { createHash, randomBytes } from 'node:crypto';

export const API_TOKEN_PREFIX = 'slp_';
export const AGENT_TOKEN_PREFIX = 'sla_';

/** A fresh token: prefix + 32 random bytes in base64url (43 characters). */
export function newToken(prefix: string): string {
  return prefix + randomBytes(32).toString('base64url');
}

/** The stored form of a token: lowercase hex sha256 of its UTF-8 text. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** True when the text has the shape of a token with this prefix (cheap reject before a db lookup). */
export function looksLikeToken(text: string, prefix: string): boolean {
  return text.startsWith(prefix) && /^[A-Za-z0-9_-]{43}$/.test(text.slice(prefix.length));
}
