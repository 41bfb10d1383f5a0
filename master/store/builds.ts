/**
 * Builds, their stage runs and step runs (tables builds, stage_runs, step_runs). All SQL on these tables
 * lives here; the engine's state machine (engine/builds/transitions.ts), scheduler, leases and routes call
 * these methods inside the transactions they open with inTransaction (db.ts). Statements are prepared once
 * per connection.
 */
import type { BuildStatus } from '../../shared/protocol/client';
import type { Db } from './db';

/** A build with its job and team names (the API's BuildInfo comes from it, engine/builds/views.ts). */
export interface BuildJoinRow {
  id: number;
  job_id: number;
  job: string;
  team: string;
  team_id: number;
  number: number;
  status: string;
  params: string;
  trigger: string;
  branch: string | null;
  ref: string | null;
  commit_sha: string | null;
  commit_info: string | null;
  request: string | null;
  approved_by: string | null;
  error: string | null;
  end_reason: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
}

/** What the state machine (engine/builds/transitions.ts) reads of a build. */
export interface BuildStateRow {
  id: number;
  job_id: number;
  number: number;
  status: string;
  error: string | null;
  stop_requested: 'cancelled' | 'timeout' | null;
  deadline_at: number | null;
}

/** A stage run as the state machine moves it. */
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

/** A stage run with its build's status, error and stop request (leases, hello). */
export type StageRunWithBuild = StageRunRow & { build_status: string; build_error: string | null; stop_requested: string | null };

export interface OpenRunRow {
  id: number;
  name: string;
  status: string;
  agent_id: number | null;
  lease_epoch: number;
}

export interface StageRunDetailRow {
  id: number;
  stage_index: number;
  name: string;
  environment: string;
  attempt: number;
  status: string;
  agent: string | null;
  error: string | null;
  end_reason: string | null;
  queued_at: number | null;
  started_at: number | null;
  finished_at: number | null;
  log_bytes: number;
}

export interface StepRunRow {
  step_index: number;
  name: string;
  kind: string;
  status: string;
  exit_code: number | null;
  error: string | null;
  started_at: number | null;
  finished_at: number | null;
  duration_ms: number | null;
}

export interface QueuedRunRow {
  id: number;
  job_id: number;
  build_id: number;
  stage_index: number;
  environment: string;
  labels: string;
  queued_at: number;
}

/** What master:assign needs of a stage run, its build, job and team. */
export interface AssignRunRow {
  id: number;
  build_id: number;
  stage_index: number;
  attempt: number;
  lease_epoch: number;
  number: number;
  params: string;
  branch: string | null;
  commit_sha: string | null;
  ref: string | null;
  commit_info: string | null;
  request: string | null;
  job_id: number;
  job: string;
  team: string;
  team_id: number;
}

/** A build with what team checks and the log and status routes need. */
export interface BuildRefRow {
  id: number;
  number: number;
  status: string;
  jobId: number;
  job: string;
  teamId: number;
  sha: string | null;
  ref: string | null;
  branch: string | null;
}

export interface NewBuildRow {
  jobId: number;
  status: 'queued' | 'waiting';
  yaml: string;
  params: string;
  trigger: string;
  branch: string | null;
  ref: string | null;
  sha: string | null;
  commitInfo: string | null;
  request: string | null;
}

/** What the record path (engine/records/record-batcher.ts) needs of a stage run to check a record. */
export type RecordRunState = StageRunRow & { log_bytes: number };

export interface BuildsStore {
  // Builds
  /** Takes the job's next build number and inserts the build; its id and number. */
  insertBuild(b: NewBuildRow, now: number): { id: number; number: number } | undefined;
  build(buildId: number): BuildJoinRow | undefined;
  /** A job's builds, newest first, numbers below `before`. */
  buildsOfJob(jobId: number, limit: number, before: number): BuildJoinRow[];
  buildState(buildId: number): BuildStateRow | undefined;
  buildRef(buildId: number): BuildRefRow | undefined;
  buildStatus(buildId: number): BuildStatus | undefined;
  buildYaml(buildId: number): string | undefined;
  buildTrigger(buildId: number): string | undefined;
  buildStartedAt(buildId: number): number | null | undefined;
  /** Whether the build belongs to the job. */
  buildOfJob(buildId: number, jobId: number): boolean;
  /**
   * Builds of a job and branch older than `beforeId` that run nothing now: queued, or waiting (at an approval
   * gate, or a fork build waiting to be let run). The candidates a newer build supersedes (cancelPrevious).
   */
  idleOlder(jobId: number, branch: string | null, beforeId: number): { id: number; status: 'queued' | 'waiting' }[];
  /** The commit of the job's newest build of a branch whose commit is not `notSha` (the base of a push's diff). */
  lastBuiltCommit(jobId: number, branch: string, notSha: string): string | undefined;
  /** The commit of the job's latest earlier build of the same branch (or, without one, the same ref). */
  previousCommit(jobId: number, beforeId: number, branch: string | null, ref: string): string | undefined;
  finishBuild(buildId: number, status: BuildStatus, reason: string, error: string | null, now: number): void;
  /** Records a stop request of a running build (kind and reason); it ends when its stage reports. */
  requestStop(buildId: number, kind: 'cancelled' | 'timeout', reason: string): void;
  setBuildWaiting(buildId: number): void;
  /** A build leaving its approval gate: status, and the deadline moved by the time it waited. */
  resumeBuild(buildId: number, status: 'queued' | 'running', waitedMs: number): void;
  /** A fork build approved to run; false when it was not waiting. */
  approveForkBuild(buildId: number, by: string): boolean;
  /** The first stage lease of a queued build starts it. */
  startBuild(buildId: number, now: number, deadlineAt: number | null): void;
  /** Running builds past their deadline with no stop requested yet. */
  overdueBuilds(now: number): { id: number; started_at: number; deadline_at: number }[];
  /** Running builds with a stop requested. */
  stoppingBuilds(): { id: number; error: string; status: string; stop_requested: string }[];
  /** Finished builds beyond the newest `keep` of their job. */
  buildsBeyond(keep: number): number[];
  /** Deletes builds (their stage runs, steps, artifacts rows, log chunks and reports go along). */
  deleteBuilds(ids: readonly number[]): void;

  // Stage runs
  /** Inserts a stage run and its steps; its id. */
  insertStageRun(r: { buildId: number; index: number; name: string; environment: string; labels: string[]; attempt: number; status: 'pending' | 'queued' | 'skipped'; steps: { name: string; kind: string }[] }, now: number): number;
  finishStageRun(stageRunId: number, status: string, reason: string, error: string | null, now: number): void;
  /** Ends the open steps of a stage run: the running one with `runningTo`, pending ones skipped. */
  finishSteps(stageRunId: number, runningTo: string, now: number): void;
  /** The newest pending attempt of a build's stage. */
  nextPending(buildId: number, stageIndex: number): { id: number; name: string } | undefined;
  /** The first pending stage run of a build. */
  firstPending(buildId: number): { id: number; name: string; stage_index: number } | undefined;
  openRuns(buildId: number): OpenRunRow[];
  /** The name of a build's stage run waiting at a gate, if any. */
  waitingStage(buildId: number): string | undefined;
  queueRun(stageRunId: number, now: number): void;
  waitRun(stageRunId: number): void;
  /** A waiting stage run queued after its approval. */
  queueApprovedRun(stageRunId: number, now: number): void;
  /** A waiting stage run failed at its gate: the run failed with reason and error, its pending steps skipped. */
  failWaitingRun(stageRunId: number, reason: string, error: string, now: number): void;
  stageRunsOfBuild(buildId: number): StageRunDetailRow[];
  stepRuns(stageRunId: number): StepRunRow[];
  /** Stage runs of a build for its log: id, name, attempt, stage index, in log order. */
  logSections(buildId: number): { id: number; name: string; attempt: number; stageIndex: number }[];
  stageRunWithBuild(stageRunId: number): StageRunWithBuild | undefined;
  /** Running stage runs whose lease expired, with their build and agent names. */
  expiredLeases(now: number): (StageRunWithBuild & { agent_name: string | null })[];
  runningOfBuild(buildId: number): StageRunRow[];
  runningOfAgent(agentId: number): StageRunRow[];
  extendLease(stageRunId: number, until: number): void;
  /** Every running lease until `until` (master start: agents get time to come back). */
  extendAllLeases(until: number): void;
  /** Running leases of agents ending before `until` are moved to it. */
  extendLeasesBefore(until: number): void;
  /** A leased stage run nothing was stored for goes back to the queue; its build and name, or undefined. */
  requeueUnstarted(stageRunId: number, agentId: number, epoch: number): { build_id: number; name: string } | undefined;
  queuedRuns(): QueuedRunRow[];
  runningPerAgent(): { agent_id: number; n: number }[];
  /** Leases a queued stage run to an agent (epoch + 1); its build and name, or undefined when not queued. */
  lease(stageRunId: number, agentId: number, expiresAt: number, now: number): { build_id: number; name: string } | undefined;
  assignRun(stageRunId: number): AssignRunRow | undefined;
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
  const BUILD_COLS = `b.id, b.job_id, j.name AS job, t.name AS team, j.team_id, b.number, b.status, b.params, b.trigger, b.branch,
    b.ref, b.commit_sha, b.commit_info, b.request, b.approved_by, b.error, b.end_reason, b.created_at, b.started_at, b.finished_at
    FROM builds b JOIN jobs j ON j.id = b.job_id JOIN teams t ON t.id = j.team_id`;
  const nextNumber = db.prepare<[number], { n: number }>('UPDATE jobs SET next_number = next_number + 1 WHERE id = ? RETURNING next_number - 1 AS n');
  const insertBuild = db.prepare(
    `INSERT INTO builds (job_id, number, status, yaml, params, trigger, branch, ref, commit_sha, commit_info, request, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const build = db.prepare<[number], BuildJoinRow>(`SELECT ${BUILD_COLS} WHERE b.id = ?`);
  const buildsOfJob = db.prepare<[number, number, number], BuildJoinRow>(`SELECT ${BUILD_COLS} WHERE b.job_id = ? AND b.number < ? ORDER BY b.number DESC LIMIT ?`);
  const buildState = db.prepare<[number], BuildStateRow>('SELECT id, job_id, number, status, error, stop_requested, deadline_at FROM builds WHERE id = ?');
  const buildRef = db.prepare<[number], BuildRefRow>(
    `SELECT b.id, b.number, b.status, b.job_id AS jobId, j.name AS job, j.team_id AS teamId, b.commit_sha AS sha, b.ref, b.branch
       FROM builds b JOIN jobs j ON j.id = b.job_id WHERE b.id = ?`,
  );
  const buildStatus = db.prepare<[number], BuildStatus>('SELECT status FROM builds WHERE id = ?').pluck();
  const buildYaml = db.prepare<[number], string>('SELECT yaml FROM builds WHERE id = ?').pluck();
  const buildTrigger = db.prepare<[number], string>('SELECT trigger FROM builds WHERE id = ?').pluck();
  const buildStartedAt = db.prepare<[number], { started_at: number | null }>('SELECT started_at FROM builds WHERE id = ?');
  const buildOfJob = db.prepare<[number, number], number>('SELECT 1 FROM builds WHERE id = ? AND job_id = ?').pluck();
  const idleOlder = db.prepare<[number, string | null, number], { id: number; status: 'queued' | 'waiting' }>(
    "SELECT id, status FROM builds WHERE job_id = ? AND branch IS ? AND status IN ('queued', 'waiting') AND id < ? ORDER BY id",
  );
  const previousCommit = db.prepare<[{ job: number; id: number; branch: string | null; ref: string }], string>(
    `SELECT commit_sha FROM builds WHERE job_id = @job AND id < @id AND commit_sha IS NOT NULL
       AND (branch = @branch OR (@branch IS NULL AND ref = @ref)) ORDER BY id DESC LIMIT 1`,
  ).pluck();
  const lastBuilt = db.prepare<[number, string, string], string>(
    `SELECT commit_sha FROM builds WHERE job_id = ? AND branch = ? AND commit_sha IS NOT NULL AND commit_sha != ?
     ORDER BY id DESC LIMIT 1`,
  ).pluck();
  const finishBuild = db.prepare('UPDATE builds SET status = ?, end_reason = ?, error = ?, finished_at = ? WHERE id = ?');
  const setStop = db.prepare('UPDATE builds SET stop_requested = ?, error = ? WHERE id = ?');
  const setWaiting = db.prepare("UPDATE builds SET status = 'waiting' WHERE id = ?");
  const resume = db.prepare(
    "UPDATE builds SET status = ?, deadline_at = CASE WHEN deadline_at IS NULL THEN NULL ELSE deadline_at + ? END WHERE id = ? AND status = 'waiting'",
  );
  const approveFork = db.prepare("UPDATE builds SET status = 'queued', approved_by = ? WHERE id = ? AND status = 'waiting'");
  const startBuild = db.prepare("UPDATE builds SET status = 'running', started_at = ?, deadline_at = ? WHERE id = ? AND status = 'queued'");
  const overdue = db.prepare<[number], { id: number; started_at: number; deadline_at: number }>(
    "SELECT id, started_at, deadline_at FROM builds WHERE status = 'running' AND stop_requested IS NULL AND deadline_at < ?",
  );
  const stopping = db.prepare<[], { id: number; error: string; status: string; stop_requested: string }>(
    "SELECT id, error, status, stop_requested FROM builds WHERE status = 'running' AND stop_requested IS NOT NULL",
  );
  const beyond = db.prepare<[number], number>(
    `SELECT id FROM (
       SELECT id, ROW_NUMBER() OVER (PARTITION BY job_id ORDER BY number DESC) AS rn
       FROM builds WHERE status IN ('success','failed','cancelled','timeout')
     ) WHERE rn > ?`,
  ).pluck();
  const deleteBuild = db.prepare('DELETE FROM builds WHERE id = ?');
  const deleteBuilds = db.transaction((ids: readonly number[]) => {
    for (const id of ids) deleteBuild.run(id);
  });

  const insertRun = db.prepare(
    `INSERT INTO stage_runs (build_id, stage_index, name, environment, labels, attempt, status, queued_at, finished_at, end_reason)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const insertStep = db.prepare('INSERT INTO step_runs (stage_run_id, step_index, name, kind, status) VALUES (?, ?, ?, ?, ?)');
  const finishRun = db.prepare('UPDATE stage_runs SET status = ?, end_reason = ?, error = ?, finished_at = ?, lease_expires_at = NULL WHERE id = ?');
  const finishSteps = db.prepare(
    `UPDATE step_runs SET status = CASE status WHEN 'running' THEN ? ELSE 'skipped' END, finished_at = ?
     WHERE stage_run_id = ? AND status IN ('pending', 'running')`,
  );
  const nextPending = db.prepare<[number, number], { id: number; name: string }>(
    "SELECT id, name FROM stage_runs WHERE build_id = ? AND stage_index = ? AND status = 'pending' ORDER BY attempt DESC LIMIT 1",
  );
  const firstPending = db.prepare<[number], { id: number; name: string; stage_index: number }>(
    "SELECT id, name, stage_index FROM stage_runs WHERE build_id = ? AND status = 'pending' ORDER BY stage_index, attempt LIMIT 1",
  );
  const openRuns = db.prepare<[number], OpenRunRow>(
    "SELECT id, name, status, agent_id, lease_epoch FROM stage_runs WHERE build_id = ? AND status IN ('pending','waiting','queued','running')",
  );
  const waitingStage = db.prepare<[number], string>("SELECT name FROM stage_runs WHERE build_id = ? AND status = 'waiting' LIMIT 1").pluck();
  const queueRun = db.prepare("UPDATE stage_runs SET status = 'queued', queued_at = ? WHERE id = ?");
  const waitRun = db.prepare("UPDATE stage_runs SET status = 'waiting', queued_at = NULL WHERE id = ?");
  const queueApproved = db.prepare("UPDATE stage_runs SET status = 'queued', queued_at = ? WHERE id = ? AND status = 'waiting'");
  const failWaiting = db.prepare("UPDATE stage_runs SET status = 'failed', end_reason = ?, error = ?, finished_at = ? WHERE id = ? AND status = 'waiting'");
  const skipPending = db.prepare("UPDATE step_runs SET status = 'skipped', finished_at = ? WHERE stage_run_id = ? AND status = 'pending'");
  const runsOfBuild = db.prepare<[number], StageRunDetailRow>(
    `SELECT sr.id, sr.stage_index, sr.name, sr.environment, sr.attempt, sr.status, a.name AS agent, sr.error, sr.end_reason, sr.queued_at,
            sr.started_at, sr.finished_at, sr.log_bytes
     FROM stage_runs sr LEFT JOIN agents a ON a.id = sr.agent_id WHERE sr.build_id = ? ORDER BY sr.stage_index, sr.attempt`,
  );
  const stepRuns = db.prepare<[number], StepRunRow>(
    'SELECT step_index, name, kind, status, exit_code, error, started_at, finished_at, duration_ms FROM step_runs WHERE stage_run_id = ? ORDER BY step_index',
  );
  const logSections = db.prepare<[number], { id: number; name: string; attempt: number; stageIndex: number }>(
    'SELECT id, name, attempt, stage_index AS stageIndex FROM stage_runs WHERE build_id = ? ORDER BY stage_index, attempt, id',
  );
  const RUN_COLS = 'sr.id, sr.build_id, sr.stage_index, sr.name, sr.environment, sr.attempt, sr.status, sr.agent_id, sr.lease_epoch, sr.last_seq';
  const withBuild = db.prepare<[number], StageRunWithBuild>(
    `SELECT ${RUN_COLS}, b.status AS build_status, b.error AS build_error, b.stop_requested
     FROM stage_runs sr JOIN builds b ON b.id = sr.build_id WHERE sr.id = ?`,
  );
  const expired = db.prepare<[number], StageRunWithBuild & { agent_name: string | null }>(
    `SELECT ${RUN_COLS}, b.status AS build_status, b.error AS build_error, b.stop_requested, a.name AS agent_name
     FROM stage_runs sr JOIN builds b ON b.id = sr.build_id LEFT JOIN agents a ON a.id = sr.agent_id
     WHERE sr.status = 'running' AND sr.lease_expires_at < ?`,
  );
  const runningOfBuild = db.prepare<[number], StageRunRow>(`SELECT ${RUN_COLS} FROM stage_runs sr WHERE sr.build_id = ? AND sr.status = 'running'`);
  const runningOfAgent = db.prepare<[number], StageRunRow>(`SELECT ${RUN_COLS} FROM stage_runs sr WHERE sr.agent_id = ? AND sr.status = 'running'`);
  const extend = db.prepare('UPDATE stage_runs SET lease_expires_at = ? WHERE id = ?');
  const extendAll = db.prepare("UPDATE stage_runs SET lease_expires_at = ? WHERE status = 'running'");
  const extendBefore = db.prepare("UPDATE stage_runs SET lease_expires_at = ? WHERE status = 'running' AND agent_id IS NOT NULL AND lease_expires_at < ?");
  const requeue = db.prepare<[number, number, number], { build_id: number; name: string }>(
    `UPDATE stage_runs SET status = 'queued', agent_id = NULL, lease_expires_at = NULL, started_at = NULL
     WHERE id = ? AND status = 'running' AND agent_id = ? AND lease_epoch = ? AND last_seq = 0
     RETURNING build_id, name`,
  );
  const queued = db.prepare<[], QueuedRunRow>(
    `SELECT sr.id, b.job_id, sr.build_id, sr.stage_index, sr.environment, sr.labels, sr.queued_at
     FROM stage_runs sr JOIN builds b ON b.id = sr.build_id
     WHERE sr.status = 'queued' ORDER BY sr.queued_at, sr.id`,
  );
  const runningPerAgent = db.prepare<[], { agent_id: number; n: number }>(
    "SELECT agent_id, COUNT(*) AS n FROM stage_runs WHERE status = 'running' AND agent_id IS NOT NULL GROUP BY agent_id",
  );
  const lease = db.prepare<[number, number, number, number], { build_id: number; name: string }>(
    `UPDATE stage_runs SET status = 'running', agent_id = ?, lease_epoch = lease_epoch + 1, lease_expires_at = ?,
       started_at = ?, finished_at = NULL, error = NULL
     WHERE id = ? AND status = 'queued' RETURNING build_id, name`,
  );
  const assignRun = db.prepare<[number], AssignRunRow>(
    `SELECT sr.id, sr.build_id, sr.stage_index, sr.attempt, sr.lease_epoch, b.number, b.params, b.branch, b.commit_sha,
            b.ref, b.commit_info, b.request, b.job_id, j.name AS job, t.name AS team, j.team_id
     FROM stage_runs sr JOIN builds b ON b.id = sr.build_id JOIN jobs j ON j.id = b.job_id JOIN teams t ON t.id = j.team_id
     WHERE sr.id = ?`,
  );
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
    insertBuild(b, now) {
      const n = nextNumber.get(b.jobId)?.n;
      if (n === undefined) return undefined;
      const id = Number(insertBuild.run(b.jobId, n, b.status, b.yaml, b.params, b.trigger, b.branch, b.ref, b.sha, b.commitInfo, b.request, now).lastInsertRowid);
      return { id, number: n };
    },
    build: (id) => build.get(id),
    buildsOfJob: (jobId, limit, before) => buildsOfJob.all(jobId, before, limit),
    buildState: (id) => buildState.get(id),
    buildRef: (id) => buildRef.get(id),
    buildStatus: (id) => buildStatus.get(id),
    buildYaml: (id) => buildYaml.get(id),
    buildTrigger: (id) => buildTrigger.get(id),
    buildStartedAt: (id) => buildStartedAt.get(id)?.started_at,
    buildOfJob: (id, jobId) => buildOfJob.get(id, jobId) !== undefined,
    idleOlder: (jobId, branch, beforeId) => idleOlder.all(jobId, branch, beforeId),
    lastBuiltCommit: (jobId, branch, notSha) => lastBuilt.get(jobId, branch, notSha),
    previousCommit: (jobId, beforeId, branch, ref) => previousCommit.get({ job: jobId, id: beforeId, branch, ref }),
    finishBuild: (id, status, reason, error, now) => void finishBuild.run(status, reason, error, now, id),
    requestStop: (id, kind, reason) => void setStop.run(kind, reason, id),
    setBuildWaiting: (id) => void setWaiting.run(id),
    resumeBuild: (id, status, waitedMs) => void resume.run(status, waitedMs, id),
    approveForkBuild: (id, by) => approveFork.run(by, id).changes > 0,
    startBuild: (id, now, deadlineAt) => void startBuild.run(now, deadlineAt, id),
    overdueBuilds: (now) => overdue.all(now),
    stoppingBuilds: () => stopping.all(),
    buildsBeyond: (keep) => beyond.all(keep),
    deleteBuilds: (ids) => deleteBuilds(ids),

    insertStageRun(r, now) {
      const id = Number(
        insertRun.run(r.buildId, r.index, r.name, r.environment, JSON.stringify(r.labels), r.attempt, r.status,
          r.status === 'queued' ? now : null, r.status === 'skipped' ? now : null, r.status === 'skipped' ? 'skipped' : null).lastInsertRowid,
      );
      r.steps.forEach((step, i) => insertStep.run(id, i, step.name, step.kind, r.status === 'skipped' ? 'skipped' : 'pending'));
      return id;
    },
    finishStageRun: (id, status, reason, error, now) => void finishRun.run(status, reason, error, now, id),
    finishSteps: (id, runningTo, now) => void finishSteps.run(runningTo, now, id),
    nextPending: (buildId, stageIndex) => nextPending.get(buildId, stageIndex),
    firstPending: (buildId) => firstPending.get(buildId),
    openRuns: (buildId) => openRuns.all(buildId),
    waitingStage: (buildId) => waitingStage.get(buildId),
    queueRun: (id, now) => void queueRun.run(now, id),
    waitRun: (id) => void waitRun.run(id),
    queueApprovedRun: (id, now) => void queueApproved.run(now, id),
    failWaitingRun(id, reason, error, now) {
      failWaiting.run(reason, error, now, id);
      skipPending.run(now, id);
    },
    stageRunsOfBuild: (buildId) => runsOfBuild.all(buildId),
    stepRuns: (id) => stepRuns.all(id),
    logSections: (buildId) => logSections.all(buildId),
    stageRunWithBuild: (id) => withBuild.get(id),
    expiredLeases: (now) => expired.all(now),
    runningOfBuild: (buildId) => runningOfBuild.all(buildId),
    runningOfAgent: (agentId) => runningOfAgent.all(agentId),
    extendLease: (id, until) => void extend.run(until, id),
    extendAllLeases: (until) => void extendAll.run(until),
    extendLeasesBefore: (until) => void extendBefore.run(until, until),
    requeueUnstarted: (id, agentId, epoch) => requeue.get(id, agentId, epoch),
    queuedRuns: () => queued.all(),
    runningPerAgent: () => runningPerAgent.all(),
    lease: (id, agentId, expiresAt, now) => lease.get(agentId, expiresAt, now, id),
    assignRun: (id) => assignRun.get(id),

    recordState: (id) => recordState.get(id),
    saveProgress: (id, lastSeq, logBytes) => void saveProgress.run(lastSeq, logBytes, id),
    stepStarted: (id, stepIndex, at) => stepStarted.get(at, id, stepIndex)?.name,
    stepFinished: (id, stepIndex, r, now) => stepFinished.get(r.status, r.exitCode, r.error, now, r.durationMs, id, stepIndex)?.name,
    recordCommit: (buildId, sha, info) => void recordCommit.run(sha, JSON.stringify(info), buildId),
  };
}
