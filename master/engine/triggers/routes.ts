/**
 * Trigger history API ([G] GET /api/v1/jobs/:job/triggers -> TriggerEventInfo[], newest first): which
 * webhook delivery or poll started which build of a job, or why it was ignored, rejected or a duplicate.
 * 'pending' events are path filters the master is still diffing (master/webhooks/path-checks.ts): the same
 * event id later reads 'queued' (with its build) or 'ignored', so a client polling this list sees it evolve.
 * Read role in the job's team; a job of another team answers 404 like a job that does not exist.
 * `?limit=` (default 50, at most 500) and `?before=<event id>` page through older events.
 * A job's history holds only deliveries its own webhook secret verified (and its polls): a delivery no job
 * verified is counted per repository instead, for instance admins only:
 *   [G] GET /api/v1/triggers/unverified -> [{repo, count, firstAt, lastAt, lastProvider, lastReason}], newest first
 */
import { Router } from 'express';
import type { TriggerEventInfo } from '../../../shared/api';
import { parsePositiveInt } from '../../../shared/ids';
import type { MasterContext } from '../../context';
import { allow } from '../../route-access';
import { MAX_REPOS, unverifiedDeliveries } from '../../webhooks/unverified';
import { createJobsTable } from '../../store/jobs';
import { resolveJobRef } from '../../jobs/resolve';
import { triggersStore } from '../../store/triggers';

function positive(v: unknown, what: string): number | undefined {
  if (v === undefined) return undefined;
  return parsePositiveInt(v, what);
}

export function triggerRoutes(ctx: MasterContext): Router {
  const r = Router();
  // Disabled jobs keep their history: look the job up in the table, not only among enabled jobs.
  const jobs = createJobsTable(ctx.db);
  const store = triggersStore(ctx.db);

  r.get('/jobs/:job/triggers', allow({ kind: 'team', action: 'read' }), (req, res) => {
    if (!req.principal) throw new Error('trigger routes mounted without user authentication');
    const job = resolveJobRef(ctx.access, req.principal, String(req.params.job), jobs.idsAndTeamsByName);
    ctx.access.check(req.principal, job.teamId, 'read', `job '${req.params.job}'`);
    const limit = Math.min(positive(req.query.limit, 'limit') ?? 50, 500);
    const before = positive(req.query.before, 'before') ?? Number.MAX_SAFE_INTEGER;
    const out: TriggerEventInfo[] = store.eventsOf(job.id, before, limit).map((e) => ({
      id: e.id,
      provider: e.provider,
      event: e.event,
      deliveryId: e.delivery_id,
      ref: e.ref,
      sha: e.sha,
      outcome: e.outcome,
      reason: e.reason,
      buildId: e.build_id,
      createdAt: e.created_at,
    }));
    res.json(out);
  });

  const unverified = unverifiedDeliveries(ctx.db);
  r.get('/triggers/unverified', allow({ kind: 'admin' }), (req, res) => {
    res.json(unverified.list(Math.min(positive(req.query.limit, 'limit') ?? MAX_REPOS, MAX_REPOS)));
  });

  return r;
}
