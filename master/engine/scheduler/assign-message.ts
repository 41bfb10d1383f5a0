/**
 * Builds the master:assign for a stage run that was just leased: steps from the build's config snapshot,
 * env (job env, stage env, parameters, then the SLIPWAY_* variables, which a parameter cannot override),
 * the team's secrets named by the job, and the artifacts of earlier stages as inputs. For a partial re-run
 * the earlier stages were skipped, so their artifacts come from the build that was re-run (followed back
 * through re-runs of re-runs).
 *
 * Jobs with a repo get `source` (the exact commit, its ref, depth, submodules, the credentials' secret
 * name, the trusted SSH host keys, the previous built commit of the branch for diffs, a per-job cache key)
 * once the build knows its commit. Request builds from forks get no secrets at all, not even the
 * repository credentials: their code is not the team's.
 */
import { artifactsStore } from '../../store/artifacts';
import { buildsStore, type AssignRunRow } from '../../store/builds';
import { createHash } from 'node:crypto';
import type { CommitInfo, RequestInfo } from '../../../shared/api';
import { normalizeRepoUrl, parseRef } from '../../../shared/git';
import type { JobConfig } from '../../../shared/job';
import type { MasterAssign, Source } from '../../../shared/protocol/messages';
import type { EngineCore } from '../core';
import { findEnvironment } from '../../store/environments';

type RunInfo = AssignRunRow;

type ArtifactRow = { id: number; path: string; size: number; sha256: string };

export function buildAssign(core: EngineCore, stageRunId: number): MasterAssign | undefined {
  const { db, ctx } = core;
  const r = buildsStore(db).assignRun(stageRunId);
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
  const fork = r.request ? (JSON.parse(r.request) as RequestInfo).fork : false;
  const secrets = fork || !config.secrets.length ? {} : ctx.secrets.resolve(r.team_id, config.secrets);
  const source = sourceOf(core, r, config);
  if (source?.credentials) {
    if (fork) delete source.credentials;
    else Object.assign(secrets, ctx.secrets.resolve(r.team_id, [source.credentials]));
  }
  return {
    type: 'master:assign',
    stageRunId: r.id,
    epoch: r.lease_epoch,
    build: { id: r.build_id, number: r.number, job: r.job, jobId: r.job_id, team: r.team },
    stage: {
      index: r.stage_index,
      name: stage.name,
      attempt: r.attempt,
      steps: stage.steps,
      artifacts: stage.artifacts,
      timeoutMs: stage.timeoutMs,
    },
    env,
    secrets,
    outputs: earlierOutputs(core, r.build_id, r.stage_index),
    inputArtifacts: inputArtifacts(core, r.build_id, r.stage_index),
    leaseTtlMs: ctx.config.leaseTtlMs,
    ...(source ? { source } : {}),
    // Registry credentials only reach stages that use the engine (image, deploy), and never a fork's build.
    ...(stage.capabilities.includes('docker') && !fork ? { registries: ctx.registries.grantedTo(r.team_id) } : {}),
    ...(stage.kinds.includes('deploy') ? { deployPolicy: findEnvironment(ctx.db, stage.environment)?.deployPolicy } : {}),
  };
}

/** The commit to check out; undefined without a repo or before the build knows its commit. */
function sourceOf(core: EngineCore, r: RunInfo, config: JobConfig): Source | undefined {
  const repo = config.repo;
  if (!repo || !r.commit_sha) return undefined;
  const ref = r.ref ?? `refs/heads/${r.branch ?? repo.branch}`;
  const branch = parseRef(ref).branch ?? r.branch ?? undefined;
  // The base for the agent's diff: the newest earlier build of this job on the same branch (or ref) that knows its commit.
  const prevSha = buildsStore(core.db).previousCommit(r.job_id, r.build_id, r.branch, ref);
  const info = r.commit_info ? (JSON.parse(r.commit_info) as CommitInfo) : {};
  const repoHash = createHash('sha256').update(normalizeRepoUrl(repo.url)).digest('hex').slice(0, 16);
  return {
    url: repo.url,
    sha: r.commit_sha,
    ref,
    ...(branch ? { branch } : {}),
    depth: repo.depth,
    submodules: repo.submodules,
    ...(repo.credentials ? { credentials: repo.credentials } : {}),
    credentialsInEnv: !!repo.credentials && config.secrets.includes(repo.credentials),
    // Public keys, not secrets: fork builds get them too, so their checkout verifies the host like any other.
    ...(repo.knownHosts ? { knownHosts: repo.knownHosts } : {}),
    ...(prevSha && prevSha !== r.commit_sha ? { previousSha: prevSha } : {}),
    knowsChangedFiles: Array.isArray(info.changedFiles),
    cacheKey: `job-${r.job_id}-${repoHash}`,
  };
}

/**
 * Outputs of steps with an id in stages before `beforeIndex`, by step id. A partial re-run skipped the earlier
 * stages: their outputs come from the build it re-ran (followed like inputArtifacts); this build's own win.
 */
export function earlierOutputs(core: EngineCore, buildId: number, beforeIndex: number): Record<string, Record<string, string | number | boolean | string[]>> {
  const out: ReturnType<typeof earlierOutputs> = {};
  let limit = beforeIndex;
  for (let id: number | undefined = buildId, hops = 0; id !== undefined && hops < 50; hops++) {
    for (const [step, outputs] of Object.entries(core.outputs.byStepId(id, limit))) out[step] ??= outputs;
    const rerun = core.scheduling.rerunOf(id);
    if (!rerun) break;
    const idx = core.buildConfig(id).stages.findIndex((s) => s.name === rerun.stage);
    if (idx < 0) break;
    limit = Math.min(limit, idx);
    id = rerun.from;
  }
  return out;
}

/** Artifacts of stages before `beforeIndex`; a later stage's file wins over an earlier one at the same path. */
export function inputArtifacts(core: EngineCore, buildId: number, beforeIndex: number): ArtifactRow[] {
  const db = core.db;
  const artifacts = artifactsStore(db);
  const builds = buildsStore(db);
  const byPath = new Map<string, ArtifactRow>();
  let limit = beforeIndex;
  // Follow partial re-runs back; the hop count bounds a corrupt chain.
  for (let id: number | undefined = buildId, hops = 0; id !== undefined && hops < 50; hops++) {
    for (const a of artifacts.inputsOf(id, limit)) if (!byPath.has(a.path)) byPath.set(a.path, a);
    const trig = JSON.parse(builds.buildTrigger(id) ?? '{}') as { from?: number; stage?: string };
    if (typeof trig.from !== 'number' || typeof trig.stage !== 'string') break;
    const idx = core.buildConfig(id).stages.findIndex((s) => s.name === trig.stage);
    if (idx < 0) break;
    limit = Math.min(limit, idx);
    id = trig.from;
  }
  return [...byPath.values()];
}
