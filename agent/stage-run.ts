/**
 * Runs one assigned stage on this agent: a workspace (fresh, or the job's pooled one, cleaned, when the stage
 * checks out a repository) owned by the job's build user when the agent is root (build-users.ts), input artifacts, the steps in order through their
 * StepExecutors, declared artifacts on success, and the ordered records the master stores (step-started,
 * log chunks, step-finished, stage-finished). Step and stage timeouts and master:cancel all abort through
 * one AbortSignal whose reason (StopReason) decides the status; continueOnError lets a failed step pass.
 */
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { SecretMasker } from '../shared/mask';
import { LOG_HEADER_BYTES, type MasterAssign } from '../shared/protocol';
import { collectArtifacts, downloadArtifact, uploadArtifact, type MasterEndpoint, type UploadedArtifact } from './artifacts';
import type { ExecutorRegistry } from './executors/registry';
import { removeOwnedTree } from './git/as-build-user';
import { gitEnv } from '../shared/node/git/env';
import { runCommand } from '../shared/node/git/run';
import { checkoutTarget, prepareReusedWorkspace } from './git/workspace-reuse';
import type { RunAs, StepResult, StepStatus, StopReason } from './executors/types';
import { LogShipper } from './log-shipper';
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
  try {
    // Every build of the job runs as the job's user: other jobs' workspaces are another user's (0700).
    const runAs = await deps.workspaces.userFor(a.build.jobId);
    if (a.source) {
      // Reused by the job's next build (an incremental checkout); cleaned before anything of this build lands in it.
      pooled = await deps.workspaces.acquire(a.source.cacheKey, runAs);
      workspace = pooled.dir;
      if (pooled.recreatedFrom !== undefined) shipper.write(`workspace belonged to uid ${pooled.recreatedFrom}, not this job's build user: emptied\n`);
      const notes = await prepareWorkspace(deps, a, workspace, runAs, stageSignal).catch(async (e: Error) => {
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
    const env = stageEnv(a, workspace);
    // Repository credentials serve the checkout; steps see them only when the job asked for that secret too.
    const stepSecrets = { ...a.secrets };
    if (a.source?.credentials && !a.source.credentialsInEnv) delete stepSecrets[a.source.credentials];

    for (const [i, step] of a.stage.steps.entries()) {
      const stop = stopped(stageSignal);
      if (stop) {
        status = stop.status;
        error = stop.message;
        break;
      }
      const result = await runStep(deps, a, i, { ...env, ...step.env, ...stepSecrets }, workspace, runAs, shipper, records, stageSignal);
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
        const readAs = runAs && { workspace, runAs, stagingDir: join(deps.workspaces.workDir, 'builds') };
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
  // Freed before the slot: the job's next build, assigned as soon as the master sees the record, reuses it.
  if (pooled) await pooled.release();
  release();
  records.appendEvent({ type: 'agent:stage-finished', status, error: error?.slice(0, 4096), artifacts: status === 'success' ? artifacts : [], at: Date.now() });
  if (!pooled && workspace && !deps.keepWorkspaces) await deps.workspaces.remove(workspace).catch((e) => deps.log.warn({ err: (e as Error).message }, 'workspace not removed'));
}

/** Cleans a pooled workspace, keeping the repositories of the stage's checkout steps (workspace-reuse.ts). */
async function prepareWorkspace(deps: StageRunDeps, a: MasterAssign, workspace: string, runAs: RunAs | undefined, signal: AbortSignal): Promise<string[]> {
  const paths = a.stage.steps.filter((s) => s.kind === 'checkout').map((s) => checkoutTarget(s.config.path));
  // A path the checkout step will refuse keeps nothing: the workspace is emptied.
  const targets = paths.filter((p): p is string => p !== undefined);
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

async function runStep(
  deps: StageRunDeps,
  a: MasterAssign,
  index: number,
  env: Record<string, string>,
  workspace: string,
  runAs: RunAs | undefined,
  shipper: LogShipper,
  records: RecordLog,
  stageSignal: AbortSignal,
): Promise<StepResult> {
  const step = a.stage.steps[index];
  const controller = new AbortController();
  const forward = () => controller.abort(stageSignal.reason);
  if (stageSignal.aborted) forward();
  else stageSignal.addEventListener('abort', forward, { once: true });
  const timer = step.timeoutMs
    ? setTimeout(
        () => controller.abort({ status: 'timeout', graceMs: deps.killGraceMs, message: `step '${step.name}' timed out after ${step.timeoutMs} ms` } satisfies StopReason),
        step.timeoutMs,
      )
    : undefined;
  let startedAt: number | undefined;
  const started = (at: number) => {
    if (startedAt !== undefined) return;
    startedAt = at;
    records.appendEvent({ type: 'agent:step-started', stepIndex: index, at });
  };
  const executor = deps.executors.get(step.kind);
  let result: StepResult;
  if (!executor) {
    result = { status: 'error', exitCode: null, error: `no executor for step kind '${step.kind}' on agent (has: ${deps.executors.list().map((e) => e.kind).join(', ')})` };
  } else {
    result = await executor
      .run({
        step,
        workspace,
        env,
        output: shipper,
        signal: controller.signal,
        runAs,
        started,
        source: a.source,
        secrets: a.secrets,
        workDir: deps.workspaces.workDir,
        recordCheckout: (info) => {
          // The log line before it must be stored first: records share one seq order.
          shipper.flush();
          records.appendEvent({ type: 'agent:checkout', ...info });
        },
      })
      .catch((e: unknown) => ({ status: 'error' as const, exitCode: null, error: `executor '${step.kind}' failed: ${(e as Error).message}` }));
  }
  clearTimeout(timer);
  stageSignal.removeEventListener('abort', forward);
  const now = Date.now();
  started(now);
  shipper.flush();
  records.appendEvent({
    type: 'agent:step-finished',
    stepIndex: index,
    exitCode: result.exitCode,
    status: result.status,
    durationMs: Math.max(0, now - (startedAt ?? now)),
    error: result.error?.slice(0, 4096),
    at: now,
  });
  return result;
}
