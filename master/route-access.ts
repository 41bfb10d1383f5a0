/**
 * Who may call an HTTP route, declared in one place: the `allow(rule)` middleware given when the route is
 * registered (`r.get('/jobs/:job', allow({ kind: 'team', action: 'read' }), handler)`), or `declareAll(rule,
 * router)` for a whole router that carries its own credential (agent tokens, webhook secrets).
 *
 * Deny by default: createApp calls assertEveryRouteDeclared, so a master with a route that declares no rule
 * refuses to start, and the security matrix (test/integration/security-matrix.test.ts) walks the same route
 * table (listRoutes) to call every route as every kind of caller.
 *
 * What the middleware enforces before the handler runs, per kind:
 *  - public:  nothing (login, health).
 *  - agent, webhook: nothing here; the handler checks the agent token or the job's webhook secret, and a
 *    user's credential counts for nothing there.
 *  - user:    a signed-in caller (401) whose credential has `scope` (403). Own profile and tokens,
 *    instance-wide lists (environments, agents, plugins), listings filtered to the caller's teams.
 *  - admin:   an instance admin acting with the admin scope (403).
 *  - team:    a signed-in caller (401) whose credential has the scope the action needs (403; a property of
 *    the credential alone, so it tells nothing about any team's objects). The handler then resolves the
 *    route's team object and calls ctx.access.check(action): 404 for outsiders (the answer for an object
 *    that does not exist), 403 for a role below the action's.
 */
import type { Express, RequestHandler, Router } from 'express';
import { unauthenticated } from '../shared/errors';
import { NEEDED_SCOPE, requireAdmin, requireScope } from './access';
import type { Action, TokenScope } from './context';
import './http/principal';

export type RouteAccess =
  | { kind: 'public' }
  | { kind: 'agent' }
  | { kind: 'webhook' }
  | { kind: 'user'; scope: TokenScope }
  | { kind: 'admin' }
  | { kind: 'team'; action: Action };

/** One registered route as the router holds it. `access` is undefined when the route declares none. */
export interface RouteInfo {
  method: string;
  /** The full path pattern, e.g. /api/v1/builds/:id/log. */
  path: string;
  access: RouteAccess | undefined;
}

const ACCESS = Symbol('slipway.routeAccess');
type Tagged = { [ACCESS]?: RouteAccess };

/** The middleware that declares (and enforces the credential part of) a route's access rule. */
export function allow(rule: RouteAccess): RequestHandler {
  const guard: RequestHandler = (req, _res, next) => {
    const what = `${req.method} ${req.baseUrl}${req.route?.path ?? ''}`;
    switch (rule.kind) {
      case 'public':
      case 'agent':
      case 'webhook':
        return next();
      case 'user':
        if (!req.principal) return next(unauthenticated());
        requireScope(req.principal, rule.scope, what);
        return next();
      case 'admin':
        if (!req.principal) return next(unauthenticated());
        requireAdmin(req.principal, what);
        return next();
      case 'team':
        if (!req.principal) return next(unauthenticated());
        requireScope(req.principal, NEEDED_SCOPE[rule.action], what);
        return next();
      default: {
        const never: never = rule;
        throw new Error(`unknown route access ${JSON.stringify(never)}`);
      }
    }
  };
  (guard as Tagged)[ACCESS] = rule;
  return guard;
}

/** Declares `rule` for every route of `router` that declares none itself (routers with their own credential). */
export function declareAll<R extends Router>(rule: Extract<RouteAccess, { kind: 'agent' | 'webhook' | 'public' }>, router: R): R {
  (router as unknown as Tagged)[ACCESS] = rule;
  return router;
}

interface LayerLike {
  route?: { path: string; methods: Record<string, boolean>; stack: { handle: unknown }[] };
  handle: unknown;
  rawPath?: unknown;
}

/** Every route of the app with its declared rule, from express's own route table. */
export function listRoutes(app: Express): RouteInfo[] {
  const out: RouteInfo[] = [];
  const walk = (stack: LayerLike[], prefix: string, inherited: RouteAccess | undefined): void => {
    for (const layer of stack) {
      if (layer.route) {
        const own = layer.route.stack.map((l) => (l.handle as Tagged)[ACCESS]).find(Boolean);
        for (const [method, on] of Object.entries(layer.route.methods)) {
          if (on && method !== '_all') out.push({ method: method.toUpperCase(), path: join(prefix, layer.route.path), access: own ?? inherited });
        }
        continue;
      }
      const inner = (layer.handle as { stack?: LayerLike[] }).stack;
      if (!Array.isArray(inner)) continue;
      const mount = typeof layer.rawPath === 'string' && layer.rawPath !== '/' ? layer.rawPath : '';
      walk(inner, join(prefix, mount), (layer.handle as Tagged)[ACCESS] ?? inherited);
    }
  };
  const root = (app as unknown as { router: { stack: LayerLike[] } }).router;
  walk(root.stack, '', undefined);
  return out;
}

/** Throws naming every route without an access rule (createApp calls it: deny by default). */
export function assertEveryRouteDeclared(app: Express): void {
  const missing = listRoutes(app).filter((r) => !r.access);
  if (missing.length) {
    throw new Error(`routes without an access rule (declare one with allow() when registering them): ${missing.map((r) => `${r.method} ${r.path}`).join(', ')}`);
  }
}

function join(a: string, b: string): string {
  const p = `${a}/${b}`.replace(/\/{2,}/g, '/');
  return p.length > 1 ? p.replace(/\/$/, '') : p;
}
