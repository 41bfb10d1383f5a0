/**
 * Builds API (shared/api.ts, [E] routes): trigger, list, detail, cancel, re-run, approve (fork requests). Mounted after user
 * authentication; every route checks the caller's team: 'read' for GETs, 'trigger' for the rest. A build
 * of a team the caller is not in answers 404, exactly like a build that does not exist.
 */
import { Router, type Request } from 'express';
import type { CommitInfo, RequestInfo, TriggerRequest } from '../../../shared/api';
import { badRequest, conflict, notFound } from '../../../shared/errors';
import { parsePositiveInt } from '../../../shared/ids';
import type { Principal } from '../../context';
import { createMasterGit } from '../../git';
import { headForBuild } from '../../git/head';
import { Effects, type EngineCore } from '../core';
import { createBuild, resolveParams } from './create-build';
import { requestStop } from './transitions';
import { approverOfOpenGate, queueOrGate } from './gates';
import { queuedRun, queueLocks } from '../scheduler/dispatcher';
import { connectedAgents, waitingReason } from '../scheduler/waiting';
import type { TestResultInfo } from '../../../shared/api';
import { getBuildRow, listBuildRows, toBuildDetail, toBuildInfo } from './views';
import { buildsStore } from '../../store/builds';
import { inTransaction } from '../../store/db';
import { createJobsTable, type JobKey } from '../../store/jobs';
import { resolveJobRef } from '../../jobs/resolve';
import { allow } from '../../route-access';
import { approvalsStore } from '../../store/approvals';

function principal(req: Request): Principal {
  if (!req.principal) throw new Error('engine router mounted without user authentication');
  return req.principal;
}

const idParam = (v: unknown, what: string): number => parsePositiveInt(v, what);

export function buildRoutes(core: EngineCore): Router {
  const { ctx, db } = core;
  const r = Router();
  const git = createMasterGit(ctx);
  const builds = buildsStore(db);
  const jobsTable = createJobsTable(db);

  /** The build and the caller's right to do `action` on it (404 when outside its team). */
  function buildFor(req: Request, action: 'read' | 'trigger') {
    const id = idParam(req.params.id, 'build id');
    const row = getBuildRow(db, id);
    if (!row) throw notFound(`build ${id}`);
    ctx.access.check(principal(req), row.team_id, action, `build ${id}`);
    return row;
  }

  /** Like buildFor(req, 'read'), and the approvers of an open approval gate of the build see it too. */
  function detailFor(req: Request) {
    const id = idParam(req.params.id, 'build id');
    const row = getBuildRow(db, id);
    if (!row) throw notFound(`build ${id}`);
    const p = principal(req);
    if (ctx.access.roleIn(p, row.team_id) === null && approverOfOpenGate(core, p, id)) return row;
    ctx.access.check(p, row.team_id, 'read', `build ${id}`);
    return row;
  }

  r.post('/jobs/:job/builds', allow({ kind: 'team', action: 'trigger' }), async (req, res) => {
    const p = principal(req);
    const ref = String(req.params.job);
    const job = ctx.jobs.byId(jobOf(p, ref).id);
    if (!job) throw notFound(`job '${ref}'`);
    ctx.access.check(p, job.teamId, 'trigger', `job '${ref}'`);
    if (!job.enabled) throw conflict(`job '${job.name}' is disabled`);
    const body = (req.body ?? {}) as TriggerRequest;
    if (body.branch !== undefined && (typeof body.branch !== 'string' || !body.branch)) throw badRequest('branch must be a non-empty string');
    const params = resolveParams(job.config, body.params);
    const branch = body.branch ?? job.config.repo?.branch ?? null;
    // A job with a repo builds the branch head as it is now: the build records the exact commit.
    const head = job.config.repo && branch ? await headForBuild(git, job, branch) : null;
    const fx = new Effects();
    const id = createBuild(core, fx, {
      jobId: job.id,
      yaml: job.yaml,
      config: job.config,
      params,
      branch,
      ref: head?.ref ?? null,
      sha: head?.sha ?? null,
      trigger: { kind: 'manual', user: p.username },
    });
    core.apply(fx);
    res.status(201).json(toBuildInfo(getBuildRow(db, id)!));
  });

  r.get('/jobs/:job/builds', allow({ kind: 'team', action: 'read' }), (req, res) => {
    const job = jobOf(principal(req), String(req.params.job));
    ctx.access.check(principal(req), job.teamId, 'read', `job '${req.params.job}'`);
    const limit = req.query.limit === undefined ? 50 : idParam(req.query.limit, 'limit');
    const before = req.query.before === undefined ? undefined : idParam(req.query.before, 'before');
    res.json(listBuildRows(db, job.id, Math.min(limit, 500), before).map(toBuildInfo));
  });

  r.get('/builds/:id', allow({ kind: 'team', action: 'read' }), (req, res) => {
    const row = detailFor(req);
    const queued = new Map(core.scheduling.queuedOfBuild(row.id).map((q) => [q.id, q]));
    const locks = queued.size ? queueLocks(core, core.scheduling.queuedAll()) : new Map<number, string>();
    const agents = queued.size ? connectedAgents(core.sessions.values(), core.scheduling.runningPerAgent()) : [];
    res.json(
      toBuildDetail(db, row, {
        outputs: core.outputs.forBuild(row.id),
        reports: core.reports.forBuild(row.id),
        approvals: approvalsStore(db).forBuild(row.id),
        waiting: (id) => {
          const q = queued.get(id);
          const enabled = core.ctx.plugins?.enabledKinds();
          const scanners = core.ctx.plugins?.enabledScanners();
          // A report format names the plugin that converts it (the one to install or fix on an agent).
          const formatNote = (f: string) => {
            const def = enabled?.reportFormats.get(f);
            return def ? `plugin ${def.plugin.name}@${def.plugin.version}` : enabled?.reportFormats.refusal(f);
          };
          return q ? waitingReason({ ...queuedRun(core, q), blocked: locks.get(id) }, agents, (k) => enabled?.refusal(k), (s) => scanners?.refusal(s), formatNote) : null;
        },
      }),
    );
  });

  r.get('/builds/:id/outputs', allow({ kind: 'team', action: 'read' }), (req, res) => {
    res.json(core.outputs.forBuild(buildFor(req, 'read').id));
  });

  r.get('/builds/:id/reports', allow({ kind: 'team', action: 'read' }), (req, res) => {
    res.json(core.reports.forBuild(buildFor(req, 'read').id));
  });

  r.get('/builds/:id/tests', allow({ kind: 'team', action: 'read' }), (req, res) => {
    const row = buildFor(req, 'read');
    const status = req.query.status === undefined ? undefined : String(req.query.status);
    if (status !== undefined && !['passed', 'failed', 'error', 'skipped'].includes(status)) throw badRequest('status must be passed, failed, error or skipped');
    const limit = req.query.limit === undefined ? 1000 : idParam(String(req.query.limit), 'limit');
    res.json(core.reports.tests(row.id, { status: status as TestResultInfo['status'] | undefined, limit: Math.min(limit, 100_000) }));
  });

  r.post('/builds/:id/cancel', allow({ kind: 'team', action: 'trigger' }), (req, res) => {
    const row = buildFor(req, 'trigger');
    const fx = new Effects();
    inTransaction(db, () => requestStop(db, fx, row.id, 'cancelled', `cancelled by ${principal(req).username}`, Date.now()));
    core.apply(fx);
    res.json(toBuildInfo(getBuildRow(db, row.id)!));
  });

  r.post('/builds/:id/rerun', allow({ kind: 'team', action: 'trigger' }), (req, res) => {
    const src = buildFor(req, 'trigger');
    const config = core.buildConfig(src.id);
    const stage = (req.body as { stage?: unknown } | undefined)?.stage;
    let fromStage = 0;
    if (stage !== undefined) {
      if (typeof stage !== 'string') throw badRequest('stage must be a stage name');
      fromStage = config.stages.findIndex((s) => s.name === stage);
      if (fromStage < 0) throw badRequest(`build ${src.id} has no stage '${stage}' (stages: ${config.stages.map((s) => s.name).join(', ')})`);
    }
    const yaml = builds.buildYaml(src.id)!;
    const fx = new Effects();
    const id = createBuild(core, fx, {
      jobId: src.job_id,
      yaml,
      config,
      params: JSON.parse(src.params) as Record<string, string>,
      branch: src.branch,
      trigger: { kind: 'rerun', user: principal(req).username, from: src.id, ...(stage !== undefined ? { stage } : {}) },
      fromStage,
      // Same commit and request: a re-run of a fork's build stays a fork build (no secrets); the caller's
      // trigger right is its approval.
      ref: src.ref,
      sha: src.commit_sha,
      commitInfo: src.commit_info ? (JSON.parse(src.commit_info) as CommitInfo) : null,
      request: src.request ? (JSON.parse(src.request) as RequestInfo) : null,
    });
    core.apply(fx);
    res.status(201).json(toBuildInfo(getBuildRow(db, id)!));
  });

  /**
   * Approves a fork's request build ('waiting'): records the approver and queues its first stage.
   * Trigger role on the job's team; any other status is a conflict (409).
   */
  r.post('/builds/:id/approve', allow({ kind: 'team', action: 'trigger' }), (req, res) => {
    const row = buildFor(req, 'trigger');
    const user = principal(req).username;
    const fx = new Effects();
    const now = Date.now();
    inTransaction(db, () => {
      // A build waiting at a stage's approval gate is approved on that stage (approval-routes.ts), by its approvers.
      const gated = builds.waitingStage(row.id);
      if (gated) throw conflict(`build ${row.id} waits for the approval of stage '${gated}': POST /api/v1/builds/${row.id}/stages/${gated}/approve (slipway approve ${row.id} --stage ${gated})`);
      if (!builds.approveForkBuild(row.id, user)) throw conflict(`build ${row.id} is not waiting for approval (status ${row.status})`);
      fx.status.push({ type: 'stream:status', buildId: row.id, status: 'queued' });
      const first = builds.firstPending(row.id);
      // Its first stage may itself wait behind an approval gate.
      if (first) queueOrGate(core, fx, row.id, first, now);
    });
    core.apply(fx);
    res.json(toBuildInfo(getBuildRow(db, row.id)!));
  });

  /** The job `ref` (`name` or `team/name`) names among the caller's teams, enabled or not (history outlives a job). */
  function jobOf(p: Principal, ref: string): JobKey {
    return resolveJobRef(ctx.access, p, ref, jobsTable.idsAndTeamsByName);
  }

  return r;
}
