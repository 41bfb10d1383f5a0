/**
 * Every route declares who may call it (master/route-access.ts); createApp refuses to build an app with a
 * route that declares none.
 * The express app: security headers, /healthz, the agent bundle and installer at /agent/*, the engine's agent routes (agent-token auth, before user
 * auth), the Git webhooks (their own credentials and raw bodies, before user auth), JSON bodies, login, user authentication, the platform routes, the engine's routes, a JSON 404 for
 * unknown /api paths, the web UI at `/`, and the one error handler.
 */
import express, { type Express, type Router } from 'express';
import { readFileSync } from 'node:fs';
import { loginRoutes, platformRoutes, type Platform } from '../api';
import { AgentBundle } from '../agent-bundle/bundle';
import { agentBundleRoutes } from '../agent-bundle/routes';
import type { Engine } from '../engine';
import { requireUser } from './authenticate';
import { apiNotFound, errorHandler } from './errors';
import { allow, assertEveryRouteDeclared, declareAll } from '../route-access';
import { securityHeaders } from './security-headers';
import { webRoot, webUi } from './static';

export const JSON_BODY_LIMIT = '1mb';
const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** `hooks` (master/webhooks/routes.ts) is mounted at /api/v1/hooks before user auth, with its own raw-body parser. */
export function createApp(pf: Platform, engine: Pick<Engine, 'agentRouter' | 'router'>, hooks?: Router): Express {
  const { ctx } = pf;
  const app = express();
  app.disable('x-powered-by');
  app.use(securityHeaders(Boolean(ctx.config.tls)));
  app.get('/healthz', allow({ kind: 'public' }), (_req, res) => {
    res.json({ ok: true, version: VERSION });
  });
  // The agent bundle, its version and sha256, and the installer (public: code, no secret).
  app.use(agentBundleRoutes(new AgentBundle(ctx.config.agentBundleDir), ctx.config.publicUrl));
  // These routers carry their own credential (agent tokens; the jobs' webhook secrets): one rule for each.
  app.use('/api/v1/agent', declareAll({ kind: 'agent' }, engine.agentRouter));
  if (hooks) app.use('/api/v1/hooks', declareAll({ kind: 'webhook' }, hooks));
  app.use('/api/v1', express.json({ limit: JSON_BODY_LIMIT }));
  app.use('/api/v1', loginRoutes(pf));
  app.use('/api/v1', requireUser(ctx));
  app.use('/api/v1', platformRoutes(pf));
  app.use('/api/v1', engine.router);
  app.use('/api', apiNotFound);
  const web = webRoot();
  if (web) app.use(webUi(web));
  app.use(errorHandler(ctx.log));
  // Deny by default: a route that declares no access rule stops the master here, at start.
  assertEveryRouteDeclared(app);
  return app;
}
