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
import type { EngineCore, Effects } from '../core';
import { approvalsStore } from '../../store/approvals';
import { queueOrGate } from './gates';

export const FINAL_BUILD: readonly string[] = ['success', 'failed', 'cancelled', 'timeout'];

export interface StageRunRow {
  id: number;
  build_id: number;
  stage_index: number;
  name: string;
  environment: string;
  attempt: number;
  status: string;
  agent_id: number | null;
  lease_epoch: number;
  last_seq: number;
}

export interface BuildRow {
  id: number;
  job_id: number;
  number: number;
  status: string;
  error: string | null;
  stop_requested: 'cancelled' | 'timeout' | null;
  deadline_at: number | null;
}

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

function stmts(db: Db) {
  return {
    insertRun: db.prepare(
      `INSERT INTO stage_runs (build_id, stage_index, name, environment, labels, attempt, status, queued_at, finished_at, end_reason)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    insertStep: db.prepare('INSERT INTO step_runs (stage_run_id, step_index, name, kind, status) VALUES (?, ?, ?, ?, ?)'),
    build: db.prepare<[number], BuildRow>('SELECT id, job_id, number, status, error, stop_requested, deadline_at FROM builds WHERE id = ?'),
    finishRun: db.prepare(
      'UPDATE stage_runs SET status = ?, end_reason = ?, error = ?, finished_at = ?, lease_expires_at = NULL WHERE id = ?',
    ),
    finishSteps: db.prepare(
      `UPDATE step_runs SET status = CASE status WHEN 'running' THEN ? ELSE 'skipped' END, finished_at = ?
       WHERE stage_run_id = ? AND status IN ('pending', 'running')`,
    ),
    nextPending: db.prepare<[number, number], { id: number; name: string }>(
      "SELECT id, name FROM stage_runs WHERE build_id = ? AND stage_index = ? AND status = 'pending' ORDER BY attempt DESC LIMIT 1",
    ),
    finishBuild: db.prepare('UPDATE builds SET status = ?, end_reason = ?, error = ?, finished_at = ? WHERE id = ?'),
    setStop: db.prepare('UPDATE builds SET stop_requested = ?, error = ? WHERE id = ?'),
    openRuns: db.prepare<[number], { id: number; name: string; status: string; agent_id: number | null; lease_epoch: number }>(
      "SELECT id, name, status, agent_id, lease_epoch FROM stage_runs WHERE build_id = ? AND status IN ('pending','waiting','queued','running')",
    ),
  };
}
type Stmts = ReturnType<typeof stmts>;
const cache = new WeakMap<Db, Stmts>();
function s(db: Db): Stmts {
  let v = cache.get(db);
  if (!v) cache.set(db, (v = stmts(db)));
  return v;
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
  const st = s(db);
  const id = Number(
    st.insertRun.run(buildId, index, stage.name, stage.environment, JSON.stringify(stage.labels), attempt, status,
      status === 'queued' ? now : null, status === 'skipped' ? now : null, status === 'skipped' ? 'skipped' : null).lastInsertRowid,
  );
  stage.steps.forEach((step, i) => st.insertStep.run(id, i, step.name, step.kind, status === 'skipped' ? 'skipped' : 'pending'));
  return id;
}

/**
 * Puts a build into a final status; open stage runs become 'cancelled' (queued, waiting for approval) or
 * 'skipped' (pending), and an open approval gate is closed 'cancelled'.
 */
export function finalizeBuild(db: Db, fx: Effects, buildId: number, status: BuildStatus, reason: EndReason, error: string | null, now: number): void {
  const st = s(db);
  for (const r of st.openRuns.all(buildId)) {
    const to: StageStatus = r.status === 'pending' ? 'skipped' : 'cancelled';
    st.finishRun.run(to, stageEndReason(to), null, now, r.id);
    st.finishSteps.run('cancelled', now, r.id);
    fx.status.push({ type: 'stream:status', buildId, status, stageRunId: r.id, stage: r.name, stageStatus: to });
  }
  approvalsStore(db).cancelOpen(buildId, now);
  st.finishBuild.run(status, reason, error, now, buildId);
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
  const st = s(db);
  st.finishRun.run(status, stageEndReason(status), error, now, run.id);
  st.finishSteps.run(status === 'success' ? 'skipped' : status, now, run.id);
  // The agent's slot is free again: queued work of any build may go there now.
  fx.dispatch = true;
  const build = st.build.get(run.build_id);
  if (!build) return;
  fx.status.push({ type: 'stream:status', buildId: build.id, status: build.status as BuildStatus, stageRunId: run.id, stage: run.name, stageStatus: status });
  if (FINAL_BUILD.includes(build.status)) return;

  const stop = stopKind(build);
  if (stop) return finalizeBuild(db, fx, build.id, stop, stop, build.error, now);
  if (status === 'success') {
    const next = st.nextPending.get(build.id, run.stage_index + 1);
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
  const st = s(db);
  const build = st.build.get(buildId);
  if (!build || FINAL_BUILD.includes(build.status) || stopKind(build)) return false;
  const open = st.openRuns.all(buildId);
  const running = open.filter((r) => r.status === 'running');
  if (!running.length) {
    finalizeBuild(db, fx, buildId, kind, kind, reason, now);
    return true;
  }
  for (const r of open) {
    if (r.status === 'running') continue;
    const to: StageStatus = r.status === 'pending' ? 'skipped' : 'cancelled';
    st.finishRun.run(to, stageEndReason(to), null, now, r.id);
    st.finishSteps.run('cancelled', now, r.id);
  }
  st.setStop.run(kind, reason, buildId);
  for (const r of running) {
    if (r.agent_id !== null) fx.cancels.push({ agentId: r.agent_id, stageRunId: r.id, epoch: r.lease_epoch, reason });
  }
  return true;
}
