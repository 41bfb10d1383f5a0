/**
 * Builds the master:assign for a stage run that was just leased: steps from the build's config snapshot,
 * env (job env, stage env, parameters, then the SLIPWAY_* variables, which a parameter cannot override),
 * the team's secrets named by the job, and the artifacts of earlier stages as inputs. For a partial re-run
 * the earlier stages were skipped, so their artifacts come from the build that was re-run (followed back
 * through re-runs of re-runs).
 */
import type { MasterAssign } from '../../../shared/protocol/messages';
import type { EngineCore } from '../core';

interface RunInfo {
  id: number;
  build_id: number;
  stage_index: number;
  attempt: number;
  lease_epoch: number;
  number: number;
  params: string;
  branch: string | null;
  commit_sha: string | null;
  job: string;
  team: string;
  team_id: number;
}

type ArtifactRow = { id: number; path: string; size: number; sha256: string };

export function buildAssign(core: EngineCore, stageRunId: number): MasterAssign | undefined {
  const { db, ctx } = core;
  const r = db
    .prepare<[number], RunInfo>(
      `SELECT sr.id, sr.build_id, sr.stage_index, sr.attempt, sr.lease_epoch, b.number, b.params, b.branch, b.commit_sha,
              j.name AS job, t.name AS team, j.team_id
       FROM stage_runs sr JOIN builds b ON b.id = sr.build_id JOIN jobs j ON j.id = b.job_id JOIN teams t ON t.id = j.team_id
       WHERE sr.id = ?`,
    )
    .get(stageRunId);
  if (!r) return undefined;
  const config = core.buildConfig(r.build_id);
  const stage = config.stages[r.stage_index];
  if (!stage) return undefined;
  const params = JSON.parse(r.params) as Record<string, string>;
  const env: Record<string, string> = {
    ...config.env,
    ...stage.env,
    ...params,
    SLIPWAY_JOB: r.job,
    SLIPWAY_BUILD_NUMBER: String(r.number),
    SLIPWAY_BUILD_ID: String(r.build_id),
    SLIPWAY_STAGE: stage.name,
  };
  if (r.branch) env.SLIPWAY_BRANCH = r.branch;
  if (r.commit_sha) env.SLIPWAY_COMMIT = r.commit_sha;
  return {
    type: 'master:assign',
    stageRunId: r.id,
    epoch: r.lease_epoch,
    build: { id: r.build_id, number: r.number, job: r.job, team: r.team },
    stage: {
      index: r.stage_index,
      name: stage.name,
      attempt: r.attempt,
      steps: stage.steps,
      artifacts: stage.artifacts,
      timeoutMs: stage.timeoutMs,
    },
    env,
    secrets: config.secrets.length ? ctx.secrets.resolve(r.team_id, config.secrets) : {},
    inputArtifacts: inputArtifacts(core, r.build_id, r.stage_index),
    leaseTtlMs: ctx.config.leaseTtlMs,
  };
}

/** Artifacts of stages before `beforeIndex`; a later stage's file wins over an earlier one at the same path. */
export function inputArtifacts(core: EngineCore, buildId: number, beforeIndex: number): ArtifactRow[] {
  const db = core.db;
  const q = db.prepare<[number, number], ArtifactRow>(
    `SELECT a.id, a.path, a.size, a.sha256 FROM artifacts a JOIN stage_runs sr ON sr.id = a.stage_run_id
     WHERE a.build_id = ? AND sr.stage_index < ? ORDER BY sr.stage_index DESC, a.id DESC`,
  );
  const triggerOf = db.prepare<[number], { trigger: string }>('SELECT trigger FROM builds WHERE id = ?');
  const byPath = new Map<string, ArtifactRow>();
  let limit = beforeIndex;
  // Follow partial re-runs back; the hop count bounds a corrupt chain.
  for (let id: number | undefined = buildId, hops = 0; id !== undefined && hops < 50; hops++) {
    for (const a of q.all(id, limit)) if (!byPath.has(a.path)) byPath.set(a.path, a);
    const trig = JSON.parse(triggerOf.get(id)?.trigger ?? '{}') as { from?: number; stage?: string };
    if (typeof trig.from !== 'number' || typeof trig.stage !== 'string') break;
    const idx = core.buildConfig(id).stages.findIndex((s) => s.name === trig.stage);
    if (idx < 0) break;
    limit = Math.min(limit, idx);
    id = trig.from;
  }
  return [...byPath.values()];
}
