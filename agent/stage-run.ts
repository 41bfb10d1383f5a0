/**
 * Runs one assigned stage on this agent: a workspace (fresh, or the job's pooled one, cleaned, when a step's
 * kind declares it needs a repository) owned by the job's build user when the agent is root (build-users.ts),
 * input artifacts, the steps in order through their StepExecutors, declared artifacts on success, and the
 * ordered records the master stores (step-started, log chunks, step-finished, stage-finished). Step and stage
 * timeouts and master:cancel all abort through one AbortSignal whose reason (StopReason) decides the status;
 * continueOnError lets a failed step pass.
 *
 * The loop knows no step kind: what a kind needs is read from its definition (workspace, reports), and every
 * step gets the same things around it (step-run.ts): output references substituted, $SLIPWAY_OUTPUT, its
 * outputs checked and masked, its reports uploaded.
 */
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { OutputsByStep } from '../shared/job/outputs';
import { SecretMasker } from '../shared/mask';
import { LOG_HEADER_BYTES, type MasterAssign } from '../shared/protocol';
import { collectArtifacts, downloadArtifact, uploadArtifact, type MasterEndpoint, type UploadedArtifact } from './artifacts';
import type { DeployHooksSlot } from './services/types';
import type { ExecutorRegistry } from './executors/registry';
import { removeOwnedTree } from './git/as-build-user';
import { gitEnv } from '../shared/node/git/env';
import { runCommand } from '../shared/node/git/run';
import { checkoutTarget, prepareReusedWorkspace } from './git/workspace-reuse';
import type { HostSettings, RunAs, StepStatus, StopReason } from './executors/types';
import { LogShipper } from './log-shipper';
import { createOutputDir, createOutputFile } from './step-outputs';
import { runStep, type StepRun } from './step-run';
import type { RecordLog } from './record-log';
import type { PooledWorkspace, Workspaces } from './workspace';

/**
 * Log chunks are coalesced up to this size (or the master's frame limit, if lower). Each chunk costs a
 * frame, a row and a stream message, so a busy step ships few big chunks; a quiet one still flushes every FLUSH_MS.
 */
export const MAX_CHUNK_BYTES = 256 * 1024;
export const FLUSH_MS = 50;

export interface StageRunDeps {
  executors: ExecutorRegistry;
  workspaces: Workspaces;
  endpoint: MasterEndpoint;
  log: Logger;
  maxFrameBytes: number;
  killGraceMs: number;
  keepWorkspaces: boolean;
  /** Per-executor sections of the agent config file, by kind, validated (handed to the executor as ctx.settings). */
  executorSettings?: Record<string, unknown>;
  /** Host sections of the agent config file (ctx.host). */
  host?: HostSettings;
  /** The environment this agent serves (ctx.environment). */
  environment: string;
  /** This agent's name (ctx.agentName: the deploy step labels its containers with it). */
  agentName?: string;
  /** Live/leaving hooks of deployed instances, when a service registers them (ctx.deployHooks). */
  deployHooks?: DeployHooksSlot;
  /** Milliseconds since the agent last heard from the master (ctx.masterSilentMs). */
  masterSilentMs?: () => number;
}

/** The environment every step of the stage sees, before the step's own env. */
export function stageEnv(a: MasterAssign, workspace: string): Record<string, string> {
  return {
    PATH: process.env.PATH || '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: workspace,
    LANG: process.env.LANG || 'C.UTF-8',
    CI: 'true',
    SLIPWAY: 'true',
    SLIPWAY_JOB: a.build.job,
    SLIPWAY_TEAM: a.build.team,
    SLIPWAY_BUILD_ID: String(a.build.id),
    SLIPWAY_BUILD_NUMBER: String(a.build.number),
    SLIPWAY_STAGE: a.stage.name,
    SLIPWAY_STAGE_RUN_ID: String(a.stageRunId),
    SLIPWAY_ATTEMPT: String(a.stage.attempt),
    SLIPWAY_WORKSPACE: workspace,
    ...a.env,
  };
}

function stopped(signal: AbortSignal): StopReason | undefined {
  return signal.aborted ? (signal.reason as StopReason) : undefined;
}

/**
 * Runs the stage to its agent:stage-finished record. Never rejects. `release` is called just before that
 * record is appended: the master may assign the next stage as soon as it commits the record, so the
 * slot must already be free then; afterwards a fresh workspace is removed, a pooled one released (kept).
 */
export async function runStage(
  deps: StageRunDeps,
  a: MasterAssign,
  records: RecordLog,
  stageSignal: AbortSignal,
  release: () => void = () => {},
): Promise<void> {
  const maxChunkBytes = Math.max(1024, Math.min(MAX_CHUNK_BYTES, deps.maxFrameBytes - LOG_HEADER_BYTES - 1024));
  const shipper = new LogShipper(records, new SecretMasker(Object.values(a.secrets)), { maxChunkBytes, flushMs: FLUSH_MS });
  let status: StepStatus = 'success';
  let error: string | undefined;
  let artifacts: UploadedArtifact[] = [];
  let workspace: string | undefined;
  let pooled: PooledWorkspace | undefined;
  let outputDir: string | undefined;
  try {
    // Every build of the job runs as the job's user: other jobs' workspaces are another user's (0700).
    const runAs = await deps.workspaces.userFor(a.build.jobId);
    const repositories = repositoryTargets(deps, a);
    if (a.source && repositories) {
      // Reused by the job's next build (an incremental checkout); cleaned before anything of this build lands in it.
      pooled = await deps.workspaces.acquire(a.source.cacheKey, runAs);
      workspace = pooled.dir;
      if (pooled.recreatedFrom !== undefined) shipper.write(`workspace belonged to uid ${pooled.recreatedFrom}, not this job's build user: emptied\n`);
      const notes = await prepareWorkspace(a, repositories, workspace, runAs, stageSignal).catch(async (e: Error) => {
        if (stageSignal.aborted) throw e;
        await deps.workspaces.wipe(pooled!);
        return [`workspace not cleanable (${e.message.split('\n')[0]}): emptied, the checkout starts afresh`];
      });
      for (const note of notes) shipper.write(`${note}\n`);
      await placeInputArtifacts(deps, a, workspace, runAs);
    } else {
      // Root's until handed over: the agent's downloads cannot meet anything a build process planted.
      workspace = await deps.workspaces.create(a.build.id, a.stageRunId);
      for (const input of a.inputArtifacts) await downloadArtifact(deps.endpoint, a.stageRunId, a.epoch, input, workspace);
      await deps.workspaces.handOver(workspace, runAs);
    }
    const stagingDir = join(deps.workspaces.workDir, 'builds');
    outputDir = await createOutputDir(stagingDir, a.stageRunId);
    for (const i of a.stage.steps.keys()) await createOutputFile(outputDir, i);
    await deps.workspaces.handOver(outputDir, runAs);
    const env = stageEnv(a, workspace);
    // Repository credentials serve the checkout; steps see them only when the job asked for that secret too.
    const stepSecrets = { ...a.secrets };
    if (a.source?.credentials && !a.source.credentialsInEnv) delete stepSecrets[a.source.credentials];
    const run: StepRun = { deps, assign: a, workspace, runAs, shipper, records, stageSignal, outputDir, stagingDir, secretValues: Object.values(a.secrets) };
    // Outputs by step id: earlier stages' (from the master), then this stage's as its steps finish.
    const outputs: OutputsByStep = { ...a.outputs };

    for (const [i, step] of a.stage.steps.entries()) {
      const stop = stopped(stageSignal);
      if (stop) {
        status = stop.status;
        error = stop.message;
        break;
      }
      const result = await runStep(run, i, { ...env, ...step.env, ...stepSecrets }, outputs);
      if (step.id && result.outputs) outputs[step.id] = result.outputs;
      if (result.status === 'success') continue;
      const stageStop = stopped(stageSignal);
      if (stageStop) {
        status = stageStop.status;
        error = stageStop.message;
        break;
      }
      if (step.continueOnError) continue;
      status = result.status;
      error = result.error ?? `step '${step.name}' ${result.status}${result.exitCode !== null ? ` with exit code ${result.exitCode}` : ''}`;
      break;
    }
    if (status === 'success' && a.stage.artifacts.length) {
      try {
        const files = await collectArtifacts(workspace, a.stage.artifacts);
        const readAs = runAs && { workspace, runAs, stagingDir };
        artifacts = [];
        for (const f of files) artifacts.push(await uploadArtifact(deps.endpoint, a.stageRunId, a.epoch, f, readAs));
      } catch (e) {
        status = 'failed';
        error = (e as Error).message;
      }
    }
  } catch (e) {
    // Infrastructure failure (workspace, input artifacts): told apart from a failing step.
    status = stopped(stageSignal)?.status ?? 'error';
    error = (e as Error).message;
  }
  shipper.flush();
  shipper.close();
  if (outputDir) await removeOwnedTree(outputDir).catch((e) => deps.log.warn({ err: (e as Error).message }, 'step output directory not removed'));
  // Freed before the slot: the job's next build, assigned as soon as the master sees the record, reuses it.
  if (pooled) await pooled.release();
  release();
  records.appendEvent({ type: 'agent:stage-finished', status, error: error?.slice(0, 4096), artifacts: status === 'success' ? artifacts : [], at: Date.now() });
  if (!pooled && workspace && !deps.keepWorkspaces) await deps.workspaces.remove(workspace).catch((e) => deps.log.warn({ err: (e as Error).message }, 'workspace not removed'));
}

/**
 * Directories of the workspace that steps declaring a 'repository' workspace occupy (kept when a pooled
 * workspace is cleaned), or undefined when no step of the stage needs a repository. A path the step will
 * refuse keeps nothing (undefined entry dropped): the workspace is emptied.
 */
function repositoryTargets(deps: StageRunDeps, a: MasterAssign): string[] | undefined {
  let targets: string[] | undefined;
  for (const step of a.stage.steps) {
    const def = deps.executors.get(step.kind)?.def;
    if (def?.workspace !== 'repository') continue;
    targets ??= [];
    const cfg = def.config.safeParse(step.config);
    const target = cfg.success ? checkoutTarget(def.repositoryPath?.(cfg.data)) : undefined;
    if (target !== undefined) targets.push(target);
  }
  return targets;
}

/** Cleans a pooled workspace, keeping the repositories at `targets` (workspace-reuse.ts). */
async function prepareWorkspace(a: MasterAssign, targets: string[], workspace: string, runAs: RunAs | undefined, signal: AbortSignal): Promise<string[]> {
  const g = await gitEnv({ url: a.source!.url });
  try {
    return await prepareReusedWorkspace({ workspace, targets, runAs, env: g.env, signal });
  } finally {
    await g.cleanup();
  }
}

/**
 * Input artifacts into a pooled workspace. As root they are downloaded into a root-only staging dir and copied in
 * by the build user: the workspace holds files of earlier builds (a committed symlink, say) that root must not follow.
 */
async function placeInputArtifacts(deps: StageRunDeps, a: MasterAssign, workspace: string, runAs: RunAs | undefined): Promise<void> {
  if (!a.inputArtifacts.length) return;
  if (!runAs) {
    for (const input of a.inputArtifacts) await downloadArtifact(deps.endpoint, a.stageRunId, a.epoch, input, workspace);
    return;
  }
  const staging = await mkdtemp(join(deps.workspaces.workDir, 'builds', `in-${a.stageRunId}-`));
  try {
    for (const input of a.inputArtifacts) await downloadArtifact(deps.endpoint, a.stageRunId, a.epoch, input, staging);
    await deps.workspaces.handOver(staging, runAs);
    const r = await runCommand('cp', ['-R', '--', `${staging}/.`, `${workspace}/`], { cwd: workspace, env: { PATH: '/usr/bin:/bin', LANG: 'C' }, runAs });
    if (r.code !== 0) throw new Error(`placing input artifacts in the workspace failed: ${r.stderr.trim().split('\n').slice(-2).join('; ')}`);
  } finally {
    await removeOwnedTree(staging);
  }
}
