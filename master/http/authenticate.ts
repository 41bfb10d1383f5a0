/**
 * Express middleware for /api/v1 after the public routes: reads `Authorization: Bearer <credential>`,
 * sets req.principal, or answers 401 unauthenticated.
 */
import type { RequestHandler } from 'express';
import { unauthenticated } from '../../shared/errors';
import type { MasterContext } from '../context';
import './principal';

export function bearerOf(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return m?.[1];
}

export function requireUser(ctx: Pick<MasterContext, 'authenticate'>): RequestHandler {
  return (req, _res, next) => {
    const bearer = bearerOf(req.headers.authorization);
    if (!bearer) return next(unauthenticated('login required: send Authorization: Bearer <token>'));
    const p = ctx.authenticate(bearer);
    if (!p) return next(unauthenticated('invalid, expired or revoked credential'));
    req.principal = p;
    next();
  };
}
