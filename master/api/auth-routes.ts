/**
 * POST /auth/login (public, rate-limited per client IP + username: 429 with Retry-After) and the caller's
 * own identity and personal API tokens: GET /me, GET/POST /tokens, DELETE /tokens/:id.
 */
import express, { type Router } from 'express';
import type { LoginResponse, Me } from '../../shared/api';
import { SlipwayError, badRequest, unauthenticated } from '../../shared/errors';
import { createApiToken, listApiTokens, revokeApiToken } from '../auth/api-tokens';
import { signSession } from '../auth/authenticate';
import { verifyPassword } from '../auth/passwords';
import { findUserByName } from '../auth/users';
import type { Db } from '../store/db';
import { identitiesStore } from '../store/identities';
import { body, intParam, principal, type Platform } from './platform';
import { allow } from '../route-access';

/** Mounted before user authentication. */
export function loginRoutes(pf: Platform): Router {
  const r = express.Router();
  r.post('/auth/login', allow({ kind: 'public' }), async (req, res) => {
    const { username, password } = body(req);
    if (typeof username !== 'string' || !username) throw badRequest('username: required');
    if (typeof password !== 'string' || !password) throw badRequest('password: required');
    const key = `${req.ip}|${username.slice(0, 100)}`;
    const retryAfter = pf.loginLimiter.hit(key);
    if (retryAfter) {
      res.setHeader('Retry-After', String(retryAfter));
      throw new SlipwayError('rate_limited', `too many login attempts for '${username}'; retry in ${retryAfter} s`);
    }
    const user = findUserByName(pf.ctx.db, username);
    // A disabled user gets the answer of a wrong password: the login tells nothing about the account.
    if (!(await verifyPassword(password, user?.password_hash)) || !user || user.disabled_at !== null) {
      pf.ctx.log.warn({ username, ip: req.ip }, 'failed login');
      throw unauthenticated('invalid username or password');
    }
    pf.loginLimiter.reset(key);
    const session = signSession(pf.ctx.config.jwtSecret, user);
    const out: LoginResponse = { ...session, user: me(pf.ctx.db, user.id) };
    res.json(out);
  });
  return r;
}

export function meRoutes(pf: Platform): Router {
  const r = express.Router();
  const db = pf.ctx.db;
  r.get('/me', allow({ kind: 'user', scope: 'read' }), (req, res) => {
    res.json(me(db, principal(req).userId));
  });
  r.get('/tokens', allow({ kind: 'user', scope: 'read' }), (req, res) => {
    const p = principal(req);
    res.json(listApiTokens(db, p.userId));
  });
  r.post('/tokens', allow({ kind: 'user', scope: 'write' }), (req, res) => {
    // Creating a credential is a write; createApiToken also caps the new token's scopes at the caller's.
    const p = principal(req);
    res.status(201).json(createApiToken(db, p, body(req)));
  });
  r.delete('/tokens/:id', allow({ kind: 'user', scope: 'write' }), (req, res) => {
    const p = principal(req);
    const owner = revokeApiToken(db, p, intParam(req, 'id'));
    pf.ctx.accessChanged({ kind: 'token-revoked', userId: owner });
    res.status(204).end();
  });
  return r;
}

function me(db: Db, userId: number): Me {
  const ids = identitiesStore(db);
  const u = ids.userById(userId)!;
  const teams = ids.teamRolesOf(userId);
  return { id: u.id, username: u.username, isAdmin: u.is_admin === 1, teams };
}
