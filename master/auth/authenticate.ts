/**
 * Turns a bearer credential into a Principal: a login JWT (HS256, 12 h, all scopes) or a personal API
 * token (its scopes). The user row is re-read on every call so a deleted user or a lost admin flag takes
 * effect at once, and so does disabling a user (neither their sessions nor their tokens work while disabled). A token without the 'admin' scope never carries admin powers, even for an admin user.
 */
import jwt from 'jsonwebtoken';
import type { Principal, TokenScope } from '../context';
import type { Db } from '../store/db';
import { lookupApiToken } from './api-tokens';
import { API_TOKEN_PREFIX } from './tokens';
import { findUserById } from './users';

export const JWT_TTL_S = 12 * 3600;
const ALL_SCOPES: TokenScope[] = ['read', 'write', 'admin'];

/** Signs a login session for a user; returns the token and its expiry (ms since epoch). */
export function signSession(secret: string, user: { id: number; username: string }): { token: string; expiresAt: number } {
  const token = jwt.sign({ sub: String(user.id), name: user.username }, secret, { algorithm: 'HS256', expiresIn: JWT_TTL_S });
  const { exp } = jwt.decode(token) as { exp: number };
  return { token, expiresAt: exp * 1000 };
}

export function createAuthenticator(db: Db, jwtSecret: string): (bearer: string) => Principal | null {
  return (bearer) => {
    if (!bearer) return null;
    if (bearer.startsWith(API_TOKEN_PREFIX)) {
      const t = lookupApiToken(db, bearer);
      const user = t && findUserById(db, t.userId);
      if (!t || !user || user.disabled_at !== null) return null;
      return { userId: user.id, username: user.username, isAdmin: user.is_admin === 1 && t.scopes.includes('admin'), scopes: t.scopes, via: 'token' };
    }
    let claims: jwt.JwtPayload;
    try {
      // Pinning the algorithm refuses 'none' and key-confusion tricks.
      claims = jwt.verify(bearer, jwtSecret, { algorithms: ['HS256'] }) as jwt.JwtPayload;
    } catch {
      return null;
    }
    const user = findUserById(db, Number(claims.sub));
    if (!user || user.disabled_at !== null) return null;
    return { userId: user.id, username: user.username, isAdmin: user.is_admin === 1, scopes: [...ALL_SCOPES], via: 'jwt' };
  };
}
