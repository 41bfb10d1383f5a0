/**
 * HTTP routes of the log center (mounted at /api/v1 behind user authentication; shapes in shared/api-logs.ts):
 *   GET /app-logs            search: app, environment, instance, stream, q, from, to (ms or ISO time), limit,
 *                            cursor, context. Without app: every app the caller may read.
 *   GET /app-logs/tail       live tail of one app (required) across its instances, Server-Sent Events.
 *   GET|PUT /app-logs/retention   the retention policy per environment (admin).
 *   GET /app-logs/stats      what is stored (per environment) and where indexing stands (admin: host-wide).
 * An app the caller may not read answers 404 `app 'x' not found`, exactly as an app that does not exist.
 */
import { Router, type Request } from 'express';
import { AppLogRetentionSchema, type AppLogPage, type AppLogStats } from '../../shared/api-logs';
import { badRequest, notFound } from '../../shared/errors';
import { allow } from '../route-access';
import { bearerOf } from '../http/authenticate';
import type { Principal } from '../context';
import type { LogCenterStore, LogQuery } from '../logcenter';
import type { AppScope } from './scope';
import type { TailHub } from './tail';
import type { RetentionSettings } from './retention';

function str(req: Request, name: string): string | undefined {
  const v = req.query[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw badRequest(`${name}: give it once, as text`);
  return v;
}

function int(req: Request, name: string): number | undefined {
  const v = str(req, name);
  if (v === undefined || v === '') return undefined;
  if (!/^\d{1,15}$/.test(v)) throw badRequest(`${name}: must be a whole number (got '${v.slice(0, 40)}')`);
  return Number(v);
}

/** ms since epoch, or an ISO 8601 time. */
function time(req: Request, name: string): number | undefined {
  const v = str(req, name);
  if (v === undefined || v === '') return undefined;
  if (/^\d{1,15}$/.test(v)) return Number(v);
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw badRequest(`${name}: must be ms since epoch or an ISO 8601 time (got '${v.slice(0, 40)}')`);
  return t;
}

function stream(req: Request): 'stdout' | 'stderr' | undefined {
  const v = str(req, 'stream');
  if (v === undefined || v === '') return undefined;
  if (v !== 'stdout' && v !== 'stderr') throw badRequest(`stream: must be stdout or stderr (got '${v.slice(0, 40)}')`);
  return v;
}

export function appLogRoutes(store: LogCenterStore, scope: AppScope, tails: TailHub, retention: RetentionSettings): Router {
  const r = Router();
  const principalOf = (req: Request): Principal => req.principal!;

  /** The apps a request may search: the named one (404 outside the caller's) or all the caller's. */
  const appsFor = (p: Principal, app: string | undefined): string[] => {
    const visible = scope.visibleApps(p);
    if (app === undefined) return [...visible];
    if (!visible.has(app)) throw notFound(`app '${app}'`);
    return [app];
  };

  r.get('/app-logs', allow({ kind: 'user', scope: 'read' }), (req, res) => {
    const q: LogQuery = {
      apps: appsFor(principalOf(req), str(req, 'app') || undefined),
      environment: str(req, 'environment') || undefined,
      instance: str(req, 'instance') || undefined,
      stream: stream(req),
      q: str(req, 'q'),
      from: time(req, 'from'),
      to: time(req, 'to'),
      limit: int(req, 'limit'),
      cursor: str(req, 'cursor') || undefined,
      context: int(req, 'context'),
    };
    const page: AppLogPage = store.search(q);
    res.json(page);
  });

  r.get('/app-logs/tail', allow({ kind: 'user', scope: 'read' }), (req, res) => {
    const app = str(req, 'app');
    if (!app) throw badRequest('app: required, the app to follow');
    appsFor(principalOf(req), app);
    const lines = int(req, 'lines') ?? 0;
    if (lines > 1000) throw badRequest(`lines: at most 1000 (got ${lines})`);
    const q = str(req, 'q');
    // Checked now, so a bad query is a 400 rather than an error inside the stream.
    if (q !== undefined) store.since({ apps: [], q, limit: 1 });
    // Only the Authorization header reaches /api/v1 (requireUser): the tail re-checks that same credential.
    const credential = bearerOf(req.headers.authorization) ?? '';
    tails.open({ credential, lines, query: { app, environment: str(req, 'environment') || undefined, instance: str(req, 'instance') || undefined, stream: stream(req), q } }, res);
  });

  r.get('/app-logs/retention', allow({ kind: 'admin' }), (_req, res) => {
    res.json(retention.get());
  });

  r.get('/app-logs/stats', allow({ kind: 'admin' }), (_req, res) => {
    const { indexing, ...stored } = store.stats();
    const { workerFailures, ...rest } = indexing;
    const body: AppLogStats = {
      ...stored,
      retention: retention.get(),
      indexing: { ...rest, lagRows: Math.max(0, indexing.storedSeq - indexing.indexedSeq), workerFailuresInRow: workerFailures },
    };
    res.json(body);
  });

  r.put('/app-logs/retention', allow({ kind: 'admin' }), (req, res) => {
    const parsed = AppLogRetentionSchema.safeParse(req.body);
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      throw badRequest(`${i.path.map(String).join('.') || '(body)'}: ${i.message}`);
    }
    res.json(retention.set(parsed.data));
  });

  return r;
}
