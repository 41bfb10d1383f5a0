/**
 * Read-only views of the queue for explaining it (scheduler/waiting.ts) and for deploy locks: a build's queued
 * stage runs, the running leases per agent and the running stages. The dispatcher keeps its own statements on
 * the hot path.
 */
import type { Db } from './db';

export interface QueuedRunRow {
  id: number;
  job_id: number;
  build_id: number;
  stage_index: number;
  environment: string;
  labels: string;
  queued_at: number;
}

export interface SchedulingStore {
  queuedOfBuild(buildId: number): QueuedRunRow[];
  /** agent id -> stage runs running on it. */
  runningPerAgent(): Map<number, number>;
  /** The build a partial re-run re-ran and the stage it started from, if `buildId` is one. */
  rerunOf(buildId: number): { from: number; stage: string } | undefined;
  /** Stage runs leased now (deploy locks, scheduler/deploy-locks.ts). */
  runningStages(): { buildId: number; stageIndex: number; number: number; job: string }[];
  /** Every queued stage run in FIFO order (the deploy-lock order of the queue). */
  queuedAll(): QueuedRunRow[];
}

export function createSchedulingStore(db: Db): SchedulingStore {
  const queued = db.prepare<[number], QueuedRunRow>(
    `SELECT sr.id, b.job_id, sr.build_id, sr.stage_index, sr.environment, sr.labels, sr.queued_at
     FROM stage_runs sr JOIN builds b ON b.id = sr.build_id WHERE sr.build_id = ? AND sr.status = 'queued'`,
  );
  const running = db.prepare<[], { agent_id: number; n: number }>(
    "SELECT agent_id, COUNT(*) AS n FROM stage_runs WHERE status = 'running' AND agent_id IS NOT NULL GROUP BY agent_id",
  );
  const trigger = db.prepare<[number], { trigger: string }>('SELECT trigger FROM builds WHERE id = ?');
  const runningStages = db.prepare<[], { buildId: number; stageIndex: number; number: number; job: string }>(
    `SELECT sr.build_id AS buildId, sr.stage_index AS stageIndex, b.number, j.name AS job
     FROM stage_runs sr JOIN builds b ON b.id = sr.build_id JOIN jobs j ON j.id = b.job_id WHERE sr.status = 'running'`,
  );
  const queuedAll = db.prepare<[], QueuedRunRow>(
    `SELECT sr.id, b.job_id, sr.build_id, sr.stage_index, sr.environment, sr.labels, sr.queued_at
     FROM stage_runs sr JOIN builds b ON b.id = sr.build_id WHERE sr.status = 'queued' ORDER BY sr.queued_at, sr.id`,
  );
  return {
    queuedOfBuild: (buildId) => queued.all(buildId),
    runningPerAgent: () => new Map(running.all().map((r) => [r.agent_id, r.n])),
    runningStages: () => runningStages.all(),
    queuedAll: () => queuedAll.all(),
    rerunOf(buildId) {
      const t = JSON.parse(trigger.get(buildId)?.trigger ?? '{}') as { from?: unknown; stage?: unknown };
      return typeof t.from === 'number' && typeof t.stage === 'string' ? { from: t.from, stage: t.stage } : undefined;
    },
  };
}
