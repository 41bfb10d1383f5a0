/**
 * Approval gates (table approvals): one row per gate a stage run waits or waited at, with the decision. Written
 * by the engine's gates (master/engine/builds/gates.ts) inside its transactions; read for build details and the
 * sweeper's expiry. All SQL on the table lives here.
 */
import type { ApprovalInfo } from '../../shared/api';
import type { Db } from './db';

export type ApprovalStatus = ApprovalInfo['status'];

export interface ApprovalRow {
  id: number;
  build_id: number;
  stage_run_id: number;
  stage_index: number;
  stage: string;
  environment: string;
  required: string;
  status: ApprovalStatus;
  created_at: number;
  expires_at: number;
  decided_by: string | null;
  decided_at: number | null;
  comment: string | null;
}

export interface ApprovalsStore {
  /** Opens a gate for a stage run (inside the caller's transaction). */
  open(gate: { buildId: number; stageRunId: number; stageIndex: number; stage: string; environment: string; required: string; expiresAt: number }, now: number): void;
  /** The open gate of a build's stage, by stage name. */
  waitingOf(buildId: number, stage: string): ApprovalRow | undefined;
  /** Closes an open gate with a decision; false when it was no longer open (decided concurrently). */
  decide(id: number, status: Exclude<ApprovalStatus, 'waiting'>, by: string | null, comment: string | null, now: number): boolean;
  /** Open gates of a build are closed 'cancelled' (the build ended otherwise). */
  cancelOpen(buildId: number, now: number): void;
  /** Whether the build waits at an open gate. */
  hasOpen(buildId: number): boolean;
  /** Open gates whose time ran out. */
  expired(now: number): ApprovalRow[];
  /** Every open gate, oldest first (GET /approvals filters them to the caller). */
  allWaiting(): ApprovalRow[];
  /** Every gate of a build, oldest first. */
  forBuild(buildId: number): ApprovalInfo[];
  /** Who approved the last gate of this stage of the build (the deployment history shows it). */
  approverOf(buildId: number, stageIndex: number): string | null;
}

const cache = new WeakMap<Db, ApprovalsStore>();

/** One store per database (the engine's transitions and the routes share the prepared statements). */
export function approvalsStore(db: Db): ApprovalsStore {
  let s = cache.get(db);
  if (!s) cache.set(db, (s = create(db)));
  return s;
}

function create(db: Db): ApprovalsStore {
  const insert = db.prepare(
    `INSERT INTO approvals (build_id, stage_run_id, stage_index, stage, environment, required, status, created_at, expires_at)
     VALUES (?, ?, ?, ?, ?, ?, 'waiting', ?, ?)`,
  );
  const waiting = db.prepare<[number, string], ApprovalRow>("SELECT * FROM approvals WHERE build_id = ? AND stage = ? AND status = 'waiting' ORDER BY id DESC LIMIT 1");
  const decide = db.prepare("UPDATE approvals SET status = ?, decided_by = ?, decided_at = ?, comment = ? WHERE id = ? AND status = 'waiting'");
  const cancel = db.prepare("UPDATE approvals SET status = 'cancelled', decided_at = ? WHERE build_id = ? AND status = 'waiting'");
  const hasOpen = db.prepare<[number], number>("SELECT 1 FROM approvals WHERE build_id = ? AND status = 'waiting' LIMIT 1").pluck();
  const expired = db.prepare<[number], ApprovalRow>("SELECT * FROM approvals WHERE status = 'waiting' AND expires_at < ? ORDER BY id");
  const allWaiting = db.prepare<[], ApprovalRow>("SELECT * FROM approvals WHERE status = 'waiting' ORDER BY id");
  const ofBuild = db.prepare<[number], ApprovalRow>('SELECT * FROM approvals WHERE build_id = ? ORDER BY id');
  const approver = db.prepare<[number, number], { decided_by: string | null }>(
    "SELECT decided_by FROM approvals WHERE build_id = ? AND stage_index = ? AND status = 'approved' ORDER BY id DESC LIMIT 1",
  );
  return {
    open(g, now) {
      insert.run(g.buildId, g.stageRunId, g.stageIndex, g.stage, g.environment, g.required, now, g.expiresAt);
    },
    waitingOf: (buildId, stage) => waiting.get(buildId, stage),
    decide: (id, status, by, comment, now) => decide.run(status, by, now, comment, id).changes === 1,
    cancelOpen(buildId, now) {
      cancel.run(now, buildId);
    },
    hasOpen: (buildId) => hasOpen.get(buildId) !== undefined,
    expired: (now) => expired.all(now),
    allWaiting: () => allWaiting.all(),
    forBuild: (buildId) => ofBuild.all(buildId).map(toApprovalInfo),
    approverOf: (buildId, stageIndex) => approver.get(buildId, stageIndex)?.decided_by ?? null,
  };
}

/** A row as the API shows it. */
export function toApprovalInfo(r: ApprovalRow): ApprovalInfo {
  return {
    stage: r.stage,
    stageRunId: r.stage_run_id,
    environment: r.environment,
    status: r.status,
    required: r.required,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    decidedBy: r.decided_by,
    decidedAt: r.decided_at,
    comment: r.comment,
  };
}
