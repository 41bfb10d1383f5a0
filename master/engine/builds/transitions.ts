/**
 * The build state machine. Every function here runs INSIDE the caller's transaction and records what the
 * outside world must hear in `fx` (see core.ts). Stage runs move pending -> queued -> running -> a final
 * status; a build is queued until its first stage runs, running until a final status, and never left
 * running: a stage that fails, times out, is cancelled or is lost without retries finishes the build.
 *
 * A stop (cancel or build timeout) of a build with a running stage is a request: builds.stop_requested holds
 * its kind and builds.error the reason while the build is still 'running', the agent gets master:cancel, and
 * the build takes its final status when the stage reports or its lease expires. Every final status comes
 * with an end_reason column (shared/api.ts EndReason); error is only the human message.
 */
import type { EndReason } from '../../../shared/api';
import type { BuildStatus, StageStatus } from '../../../shared/protocol/client';
import type { StageConfig } from '../../../shared/job';
import type { Db } from '../../store/db';
import { buildsStore, type BuildStateRow, type StageRunRow } from '../../store/builds';
import type { EngineCore, Effects } from '../core';
import { approvalsStore } from '../../store/approvals';
import { queueOrGate } from './gates';

export const FINAL_BUILD: readonly string[] = ['success', 'failed', 'cancelled', 'timeout'];

export type { StageRunRow } from '../../store/builds';
export type BuildRow = BuildStateRow;

export type StopKind = 'cancelled' | 'timeout';

/** 'cancelled' or 'timeout' when a stop was requested for this running build, else null. */
export function stopKind(b: { status: string; stop_requested: string | null }): StopKind | null {
  if (b.status !== 'running' || b.stop_requested === null) return null;
  return b.stop_requested as StopKind;
}

export function timeoutReason(timeoutMs: number): string {
  return `build timed out after ${Math.round(timeoutMs / 1000)}s`;
}

/** The end reason of a stage run that reached this final status (gates pass their own). */
export function stageEndReason(status: StageStatus): EndReason {
  switch (status) {
    case 'success':
      return 'succeeded';
    case 'cancelled':
    case 'timeout':
    case 'lost':
    case 'skipped':
      return status;
    default:
      return 'failed';
  }
}

/** Inserts one stage run (and its step rows) of a build. */
export function insertStageRun(
  db: Db,
  buildId: number,
  index: number,
  stage: StageConfig,
  attempt: number,
  status: 'pending' | 'queued' | 'skipped',
  now: number,
): number {
  return buildsStore(db).insertStageRun(
    { buildId, index, name: stage.name, environment: stage.environment, labels: stage.labels, attempt, status, steps: stage.steps.map((st) => ({ name: st.name, kind: st.kind })) },
    now,
  );
}

/**
 * Puts a build into a final status; open stage runs become 'cancelled' (queued, waiting for approval) or
 * 'skipped' (pending), and an open approval gate is closed 'cancelled'.
 */
export function finalizeBuild(db: Db, fx: Effects, buildId: number, status: BuildStatus, reason: EndReason, error: string | null, now: number): void {
  const st = buildsStore(db);
  for (const r of st.openRuns(buildId)) {
    const to: StageStatus = r.status === 'pending' ? 'skipped' : 'cancelled';
    st.finishStageRun(r.id, to, stageEndReason(to), null, now);
    st.finishSteps(r.id, 'cancelled', now);
    fx.status.push({ type: 'stream:status', buildId, status, stageRunId: r.id, stage: r.name, stageStatus: to });
  }
  approvalsStore(db).cancelOpen(buildId, now);
  st.finishBuild(buildId, status, reason, error, now);
  fx.status.push({ type: 'stream:status', buildId, status });
  fx.ends.push({ buildId, status });
}

/**
 * A running stage run reached a final status (reported by its agent, or 'lost' when its lease expired).
 * Moves the build on: next stage queued, a retry attempt for a lost stage, or the build's final status.
 */
export function finishStage(
  core: EngineCore,
  fx: Effects,
  run: StageRunRow,
  status: StageStatus,
  error: string | null,
  now: number,
): void {
  const db = core.db;
  const st = buildsStore(db);
  st.finishStageRun(run.id, status, stageEndReason(status), error, now);
  st.finishSteps(run.id, status === 'success' ? 'skipped' : status, now);
  // The agent's slot is free again: queued work of any build may go there now.
  fx.dispatch = true;
  const build = st.buildState(run.build_id);
  if (!build) return;
  fx.status.push({ type: 'stream:status', buildId: build.id, status: build.status as BuildStatus, stageRunId: run.id, stage: run.name, stageStatus: status });
  if (FINAL_BUILD.includes(build.status)) return;

  const stop = stopKind(build);
  if (stop) return finalizeBuild(db, fx, build.id, stop, stop, build.error, now);
  if (status === 'success') {
    const next = st.nextPending(build.id, run.stage_index + 1);
    if (!next) return finalizeBuild(db, fx, build.id, 'success', 'succeeded', null, now);
    queueOrGate(core, fx, build.id, { id: next.id, name: next.name, stage_index: run.stage_index + 1 }, now);
    return;
  }
  if (status === 'lost') {
    const stage = core.buildConfig(build.id).stages[run.stage_index];
    if (stage && run.attempt <= stage.retryLost) {
      const id = insertStageRun(db, build.id, run.stage_index, stage, run.attempt + 1, 'queued', now);
      fx.status.push({ type: 'stream:status', buildId: build.id, status: 'running', stageRunId: id, stage: run.name, stageStatus: 'queued' });
      return;
    }
    const retries = stage?.retryLost ?? 0;
    const left = retries ? `no retries left (retry.lost: ${retries})` : 'no retries (retry.lost is 0)';
    return finalizeBuild(db, fx, build.id, 'failed', 'lost', `stage '${run.name}': ${error ?? 'agent lost'}${run.attempt > 1 ? ` (attempt ${run.attempt})` : ''}; ${left}`, now);
  }
  const buildStatus: BuildStatus & EndReason = status === 'cancelled' ? 'cancelled' : status === 'timeout' ? 'timeout' : 'failed';
  const why = error ?? (status === 'timeout' ? `stage '${run.name}' timed out` : `stage '${run.name}' ${status}`);
  finalizeBuild(db, fx, build.id, buildStatus, buildStatus, why, now);
}

/**
 * Stops a build (user cancel, or build timeout with kind 'timeout'). Queued work ends at once; a running
 * stage gets master:cancel and the build finishes when it reports or its lease expires.
 * Returns false when the build was already finished or already stopping.
 */
export function requestStop(db: Db, fx: Effects, buildId: number, kind: 'cancelled' | 'timeout', reason: string, now: number): boolean {
  const st = buildsStore(db);
  const build = st.buildState(buildId);
  if (!build || FINAL_BUILD.includes(build.status) || stopKind(build)) return false;
  const open = st.openRuns(buildId);
  const running = open.filter((r) => r.status === 'running');
  if (!running.length) {
    finalizeBuild(db, fx, buildId, kind, kind, reason, now);
    return true;
  }
  for (const r of open) {
    if (r.status === 'running') continue;
    const to: StageStatus = r.status === 'pending' ? 'skipped' : 'cancelled';
    st.finishStageRun(r.id, to, stageEndReason(to), null, now);
    st.finishSteps(r.id, 'cancelled', now);
  }
  st.requestStop(buildId, kind, reason);
  for (const r of running) {
    if (r.agent_id !== null) fx.cancels.push({ agentId: r.agent_id, stageRunId: r.id, epoch: r.lease_epoch, reason });
  }
  return true;
}
