/**
 * Deployment history and rollback (shared/api.ts):
 *  - GET /deployments?app&environment&limit: newest first, only deployments made by jobs of the caller's teams.
 *  - POST /deployments/rollback { app, environment }: the previous deployment of the app in that environment
 *    is the newest one before the current whose image differs; a new build of the job that made it re-runs only
 *    the stage that deployed it (a partial re-run of that build, like `rerun --stage`, limited to the one stage),
 *    so its `${{ steps.ID.outputs.reference }}` resolves to that build's image: the exact digest deployed then.
 *    The new build passes the stage's approval gates like any other (a protected environment waits for its
 *    approvers). Trigger role on the job's team; outside it, the deployment does not exist for the caller.
 * Both routes are `user` routes: the team is found through the deployment, and the handlers check it.
 */
import { buildsStore } from '../../store/builds';
import { Router, type Request } from 'express';
import type { CommitInfo, DeploymentInfo, RequestInfo, RollbackRequest } from '../../../shared/api';
import { badRequest, conflict, notFound } from '../../../shared/errors';
import { parsePositiveInt } from '../../../shared/ids';
import { NAME_RE } from '../../../shared/job';
import type { Principal } from '../../context';
import { allow } from '../../route-access';
import { current as currentDeployment, type DeploymentRow } from '../../store/deployments';
import { createBuild } from '../builds/create-build';
import { getBuildRow, toBuildInfo } from '../builds/views';
import { Effects, type EngineCore } from '../core';

function principal(req: Request): Principal {
  if (!req.principal) throw new Error('engine router mounted without user authentication');
  return req.principal;
}

function nameField(v: unknown, field: string, required: boolean): string | undefined {
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || !NAME_RE.test(v)) throw badRequest(`${field}: a name of 1-63 characters of a-z, 0-9, '.', '_' or '-'`);
  return v;
}

const toInfo = ({ jobId: _j, teamId: _t, ...d }: DeploymentRow): DeploymentInfo => d;

export function deploymentRoutes(core: EngineCore): Router {
  const { ctx, db } = core;
  const r = Router();

  r.get('/deployments', allow({ kind: 'user', scope: 'read' }), (req, res) => {
    const app = nameField(req.query.app, 'app', false);
    const environment = nameField(req.query.environment, 'environment', false);
    const limit = req.query.limit === undefined ? 50 : parsePositiveInt(req.query.limit, 'limit');
    const rows = core.deployments.list({ app, environment, teamIds: ctx.access.visibleTeamIds(principal(req)), limit: Math.min(limit, 500) });
    res.json(rows.map(toInfo));
  });

  r.post('/deployments/rollback', allow({ kind: 'user', scope: 'write' }), (req, res) => {
    const p = principal(req);
    const b = (req.body ?? {}) as Partial<RollbackRequest>;
    const app = nameField(b.app, 'app', true)!;
    const environment = nameField(b.environment, 'environment', true)!;
    const what = `deployment of app '${app}' in environment '${environment}'`;
    const history = core.deployments.list({ app, environment, teamIds: ctx.access.visibleTeamIds(p), limit: 500 });
    if (!history.length) throw notFound(what);
    // Failed attempts were rolled back: what runs is the newest successful deployment, and the target is an
    // earlier successful one of another image.
    const done = history.filter((d) => d.failure === null);
    const current = done[0];
    if (!current) throw notFound(what);
    const target = done.find((d) => d.id < current.id && d.image !== current.image);
    ctx.access.check(p, current.teamId, 'trigger', what);
    if (!target) throw conflict(`app '${app}' in environment '${environment}' has no earlier deployment of another image to roll back to (current: ${current.image}, ${current.job}#${current.buildNumber})`);
    ctx.access.check(p, target.teamId, 'trigger', what);
    const id = rerunDeployStage(target, what, { kind: 'rollback', user: p.username, deployment: target.id, image: target.image });
    ctx.log.info({ app, environment, by: p.username, buildId: id, to: target.image }, 'rollback started');
    res.status(201).json(toBuildInfo(getBuildRow(db, id)!));
  });

  /**
   * Scale: the current deployment's deploy stage runs again (a partial re-run of its build, like a rollback, with
   * the same approval gates and deploy lock) with SLIPWAY_REPLICAS set; the deploy step sees an unchanged service
   * and only adds or removes instances, never touching the ones it keeps.
   */
  r.post('/deployments/scale', allow({ kind: 'user', scope: 'write' }), (req, res) => {
    const p = principal(req);
    const b = (req.body ?? {}) as { app?: unknown; environment?: unknown; replicas?: unknown };
    const app = nameField(b.app, 'app', true)!;
    const environment = nameField(b.environment, 'environment', true)!;
    if (typeof b.replicas !== 'number' || !Number.isInteger(b.replicas) || b.replicas < 0 || b.replicas > 100) throw badRequest('replicas: a whole number from 0 to 100');
    const what = `deployment of app '${app}' in environment '${environment}'`;
    const current = currentDeployment(core.deployments.list({ app, environment, teamIds: ctx.access.visibleTeamIds(p), limit: 50 }));
    if (!current) throw notFound(what);
    ctx.access.check(p, current.teamId, 'trigger', what);
    const id = rerunDeployStage(current, what, { kind: 'scale', user: p.username, deployment: current.id, replicas: b.replicas }, { SLIPWAY_REPLICAS: String(b.replicas) });
    ctx.log.info({ app, environment, by: p.username, buildId: id, replicas: b.replicas }, 'scale started');
    res.status(201).json(toBuildInfo(getBuildRow(db, id)!));
  });

  /** A new build of the job that made `target`, running only the stage that deployed it (a partial re-run). */
  function rerunDeployStage(target: DeploymentRow, what: string, trigger: Record<string, unknown> & { kind: string }, params: Record<string, string> = {}): number {
    if (target.buildId === null) throw conflict(`the build that made the previous ${what} (${target.job}#${target.buildNumber}) was removed by retention`);
    const src = getBuildRow(db, target.buildId)!;
    const job = ctx.jobs.byId(src.job_id);
    if (!job) throw conflict(`job '${src.job}' is disabled`);
    const config = core.buildConfig(src.id);
    const fromStage = config.stages.findIndex((s) => s.name === target.stage);
    if (fromStage < 0) throw conflict(`build ${src.id} has no stage '${target.stage}'`);
    const yaml = buildsStore(db).buildYaml(src.id)!;
    const fx = new Effects();
    const id = createBuild(core, fx, {
      jobId: src.job_id,
      yaml,
      config,
      params: { ...(JSON.parse(src.params) as Record<string, string>), ...params },
      branch: src.branch,
      // from + stage make it a partial re-run of that build: earlier stages' outputs and artifacts come from it.
      trigger: { ...trigger, from: src.id, stage: target.stage },
      fromStage,
      onlyStage: true,
      ref: src.ref,
      sha: src.commit_sha,
      commitInfo: src.commit_info ? (JSON.parse(src.commit_info) as CommitInfo) : null,
      request: src.request ? (JSON.parse(src.request) as RequestInfo) : null,
    });
    core.apply(fx);
    return id;
  }

  return r;
}
