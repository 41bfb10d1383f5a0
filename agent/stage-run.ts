/**
 * Runs one assigned stage on this agent: fresh workspace, input artifacts, the steps in order through their
 * StepExecutors, declared artifacts on success, and the ordered records the master stores (step-started,
 * log chunks, step-finished, stage-finished). Step and stage timeouts and master:cancel all abort through
 * one AbortSignal whose reason (StopReason) decides the status; continueOnError lets a failed step pass.
 */
import type { Logger } from 'pino';
import { SecretMasker } from '../shared/mask';
import { LOG_HEADER_BYTES, type MasterAssign } from '../shared/protocol';
import { collectArtifacts, downloadArtifact, uploadArtifact, type MasterEndpoint, type UploadedArtifact } from './artifacts';
import type { ExecutorRegistry } from './executors/registry';
import type { StepResult, StepStatus, StopReason } from './executors/types';
import { LogShipper } from './log-shipper';
import type { RecordLog } from './record-log';
import type { Workspaces } from './workspace';

/** Log chunks are coalesced up to this size (or the master's frame limit, if lower). */
export const MAX_CHUNK_BYTES = 64 * 1024;
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
 * slot must already be free then; the workspace is removed afterwards.
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
  try {
    workspace = await deps.workspaces.create(a.build.id, a.stageRunId);
    for (const input of a.inputArtifacts) await downloadArtifact(deps.endpoint, a.stageRunId, a.epoch, input, workspace);
    if (a.inputArtifacts.length) await deps.workspaces.handOver(workspace);
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
      const result = await runStep(deps, a, i, { ...env, ...step.env, ...stepSecrets }, workspace, shipper, records, stageSignal);
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
        artifacts = [];
        for (const f of files) artifacts.push(await uploadArtifact(deps.endpoint, a.stageRunId, a.epoch, f));
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
  release();
  records.appendEvent({ type: 'agent:stage-finished', status, error: error?.slice(0, 4096), artifacts: status === 'success' ? artifacts : [], at: Date.now() });
  if (workspace && !deps.keepWorkspaces) await deps.workspaces.remove(workspace).catch((e) => deps.log.warn({ err: (e as Error).message }, 'workspace not removed'));
}

async function runStep(
  deps: StageRunDeps,
  a: MasterAssign,
  index: number,
  env: Record<string, string>,
  workspace: string,
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
        runAs: deps.workspaces.runAs,
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
