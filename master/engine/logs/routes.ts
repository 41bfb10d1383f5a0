/**
 * User routes of the log store (mounted at /api/v1 behind user auth, req.principal set):
 *   GET /builds/:id/log?stageRunId=  text/plain, the stored log (format in build-log.ts); 404 outside the team
 *   GET /logs/search?q=&job=&limit=  SearchHit[] over the caller's visible teams, newest first; header
 *                                    X-Slipway-Index-Lag = chunks stored but not yet searchable. `job` is a job
 *                                    reference (`name` or `team/name`, master/jobs/resolve.ts): 404 for a job
 *                                    outside the caller's teams, 409 for a name several of their teams use
 */
import { Router } from 'express';
import { badRequest, notFound } from '../../../shared/errors';
import type { MasterContext } from '../../context';
import { stageRunsOf, writeBuildLog } from './build-log';
import { optionalString, positiveInt, principalOf, visibleBuild } from './http';
import type { LogStore } from './log-store';
import { MAX_SEARCH_LIMIT, searchLogs } from './search';
import { createLogsStore } from '../../store/logs';
import { createJobsTable } from '../../store/jobs';
import { resolveJobRef } from '../../jobs/resolve';
import { allow } from '../../route-access';

const DEFAULT_SEARCH_LIMIT = 50;

export function logRoutes(ctx: MasterContext, logs: LogStore): Router {
  const router = Router();
  const logsStore = createLogsStore(ctx.db);
  const jobsTable = createJobsTable(ctx.db);

  router.get('/builds/:id/log', allow({ kind: 'team', action: 'read' }), async (req, res) => {
    const build = visibleBuild(ctx, principalOf(req), positiveInt(req.params.id, 'build id'));
    let runs = stageRunsOf(ctx.db, build.id);
    const only = optionalString(req, 'stageRunId');
    if (only !== undefined) {
      const id = positiveInt(only, 'stageRunId');
      runs = runs.filter((r) => r.id === id);
      if (runs.length === 0) throw notFound(`stage run ${id} of build ${build.id}`);
    }
    res.status(200).type('text/plain; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    if (await writeBuildLog(logs, runs, res)) res.end();
  });

  router.get('/logs/search', allow({ kind: 'user', scope: 'read' }), (req, res) => {
    const p = principalOf(req);
    const q = optionalString(req, 'q');
    if (q === undefined || q.trim() === '') throw badRequest('q: required, the words to search for');
    const job = optionalString(req, 'job');
    const limitText = optionalString(req, 'limit');
    const limit = limitText === undefined ? DEFAULT_SEARCH_LIMIT : positiveInt(limitText, 'limit');
    if (limit > MAX_SEARCH_LIMIT) throw badRequest(`limit: at most ${MAX_SEARCH_LIMIT} (got ${limit})`);
    const jobId = job ? resolveJobRef(ctx.access, p, job, jobsTable.idsAndTeamsByName).id : undefined;
    const hits = searchLogs(logsStore, { q, jobId, teamIds: ctx.access.visibleTeamIds(p), limit });
    res.setHeader('X-Slipway-Index-Lag', String(logs.indexLag()));
    res.json(hits);
  });

  return router;
}
