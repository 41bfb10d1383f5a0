/**
 * Builds, their stage runs and step runs (tables builds, stage_runs, step_runs). All SQL on these tables
 * lives here; the engine's state machine (engine/builds/transitions.ts), scheduler, leases and routes call
 * these methods inside the transactions they open with inTransaction (db.ts). Statements are prepared once
 * per connection.
 */
import type { Db } from './db';

/** What the record path (engine/records/record-batcher.ts) needs of a stage run to check a record. */
export interface RecordRunState {
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
  log_bytes: number;
}

export interface BuildsStore {
  /** The stage run as the record path checks records against it; undefined when there is none. */
  recordState(stageRunId: number): RecordRunState | undefined;
  /** Stores the highest record seq committed and the log bytes of a stage run. */
  saveProgress(stageRunId: number, lastSeq: number, logBytes: number): void;
  /** A step started (agent's clock); its name, or undefined when there is no such step. */
  stepStarted(stageRunId: number, stepIndex: number, at: number): string | undefined;
  /** A step finished; its name, or undefined when there is no such step. */
  stepFinished(stageRunId: number, stepIndex: number, r: { status: string; exitCode: number | null; error: string | null; durationMs: number | null }, now: number): string | undefined;
  /** The commit a checkout found: sha, and commit info merged under what the webhook already told. */
  recordCommit(buildId: number, sha: string, info: Record<string, unknown>): void;
}

const cache = new WeakMap<Db, BuildsStore>();

/** One store per connection (the engine and the routes share the prepared statements). */
export function buildsStore(db: Db): BuildsStore {
  let s = cache.get(db);
  if (!s) cache.set(db, (s = create(db)));
  return s;
}

function create(db: Db): BuildsStore {
  const recordState = db.prepare<[number], RecordRunState>(
    `SELECT id, build_id, stage_index, name, environment, attempt, status, agent_id, lease_epoch, last_seq, log_bytes
     FROM stage_runs WHERE id = ?`,
  );
  const saveProgress = db.prepare('UPDATE stage_runs SET last_seq = ?, log_bytes = ? WHERE id = ?');
  const stepStarted = db.prepare<[number, number, number], { name: string }>(
    "UPDATE step_runs SET status = 'running', started_at = ? WHERE stage_run_id = ? AND step_index = ? RETURNING name",
  );
  const stepFinished = db.prepare<[string, number | null, string | null, number, number | null, number, number], { name: string }>(
    `UPDATE step_runs SET status = ?, exit_code = ?, error = ?, finished_at = ?, duration_ms = ?
     WHERE stage_run_id = ? AND step_index = ? RETURNING name`,
  );
  const recordCommit = db.prepare(`UPDATE builds SET commit_sha = ?, commit_info = json_patch(?, COALESCE(commit_info, '{}')) WHERE id = ?`);
  return {
    recordState: (id) => recordState.get(id),
    saveProgress: (id, lastSeq, logBytes) => void saveProgress.run(lastSeq, logBytes, id),
    stepStarted: (id, stepIndex, at) => stepStarted.get(at, id, stepIndex)?.name,
    stepFinished: (id, stepIndex, r, now) => stepFinished.get(r.status, r.exitCode, r.error, now, r.durationMs, id, stepIndex)?.name,
    recordCommit: (buildId, sha, info) => void recordCommit.run(sha, JSON.stringify(info), buildId),
  };
}
