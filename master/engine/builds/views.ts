/** Database rows -> the API shapes of shared/api.ts (BuildInfo, BuildDetail). Read-only queries. */
import type { ApprovalInfo, EndReason, BuildDetail, BuildInfo, BuildStatus, ReportInfo, StageRunInfo } from '../../../shared/api';
import type { Db } from '../../store/db';
import type { StoredOutput } from '../../store/outputs';

/**
 * What a build's detail shows besides its rows: outputs, reports and approval gates (their stores), waiting
 * reasons (the scheduler).
 */
export interface BuildExtras {
  outputs: StoredOutput[];
  reports: ReportInfo[];
  approvals: ApprovalInfo[];
  /** Why a queued stage run waits (scheduler/waiting.ts). */
  waiting(stageRunId: number): string | null;
}

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

const BUILD_COLS = `b.id, b.job_id, j.name AS job, t.name AS team, j.team_id, b.number, b.status, b.params, b.trigger, b.branch,
  b.ref, b.commit_sha, b.commit_info, b.request, b.approved_by, b.error, b.end_reason, b.created_at, b.started_at, b.finished_at
  FROM builds b JOIN jobs j ON j.id = b.job_id JOIN teams t ON t.id = j.team_id`;

export function getBuildRow(db: Db, id: number): BuildJoinRow | undefined {
  return db.prepare<[number], BuildJoinRow>(`SELECT ${BUILD_COLS} WHERE b.id = ?`).get(id);
}

/** Newest first; `before` is a build number (pagination). */
export function listBuildRows(db: Db, jobId: number, limit: number, before?: number): BuildJoinRow[] {
  return db
    .prepare<[number, number, number], BuildJoinRow>(`SELECT ${BUILD_COLS} WHERE b.job_id = ? AND b.number < ? ORDER BY b.number DESC LIMIT ?`)
    .all(jobId, before ?? Number.MAX_SAFE_INTEGER, limit);
}

export function toBuildInfo(r: BuildJoinRow): BuildInfo {
  return {
    id: r.id,
    job: r.job,
    team: r.team,
    number: r.number,
    status: r.status as BuildStatus,
    params: JSON.parse(r.params) as Record<string, string>,
    trigger: JSON.parse(r.trigger) as BuildInfo['trigger'],
    branch: r.branch,
    ref: r.ref,
    commit: r.commit_sha,
    commitInfo: r.commit_info ? (JSON.parse(r.commit_info) as BuildInfo['commitInfo']) : null,
    request: r.request ? (JSON.parse(r.request) as BuildInfo['request']) : null,
    approvedBy: r.approved_by,
    error: r.error,
    endReason: r.end_reason as EndReason | null,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
  };
}

export function toBuildDetail(db: Db, r: BuildJoinRow, extras: BuildExtras): BuildDetail {
  const runs = db
    .prepare<[number], { id: number; stage_index: number; name: string; environment: string; attempt: number; status: string; agent: string | null; error: string | null; end_reason: string | null; queued_at: number | null; started_at: number | null; finished_at: number | null; log_bytes: number }>(
      `SELECT sr.id, sr.stage_index, sr.name, sr.environment, sr.attempt, sr.status, a.name AS agent, sr.error, sr.end_reason, sr.queued_at,
              sr.started_at, sr.finished_at, sr.log_bytes
       FROM stage_runs sr LEFT JOIN agents a ON a.id = sr.agent_id WHERE sr.build_id = ? ORDER BY sr.stage_index, sr.attempt`,
    )
    .all(r.id);
  const steps = db.prepare<[number], { step_index: number; name: string; kind: string; status: string; exit_code: number | null; error: string | null; started_at: number | null; finished_at: number | null; duration_ms: number | null }>(
    'SELECT step_index, name, kind, status, exit_code, error, started_at, finished_at, duration_ms FROM step_runs WHERE stage_run_id = ? ORDER BY step_index',
  );
  const stages: StageRunInfo[] = runs.map((s) => ({
    id: s.id,
    index: s.stage_index,
    name: s.name,
    environment: s.environment,
    attempt: s.attempt,
    status: s.status,
    agent: s.agent,
    error: s.error,
    endReason: s.end_reason as EndReason | null,
    queuedAt: s.queued_at,
    startedAt: s.started_at,
    finishedAt: s.finished_at,
    logBytes: s.log_bytes,
    waiting: s.status === 'queued' ? extras.waiting(s.id) : s.status === 'waiting' ? gateReason(extras.approvals, s.id) : null,
    steps: steps.all(s.id).map((st) => ({
      index: st.step_index,
      name: st.name,
      kind: st.kind,
      status: st.status,
      exitCode: st.exit_code,
      error: st.error,
      startedAt: st.started_at,
      finishedAt: st.finished_at,
      durationMs: st.duration_ms,
      outputs: Object.fromEntries(extras.outputs.filter((o) => o.stageRunId === s.id && o.stepIndex === st.step_index).map((o) => [o.key, o.value])),
    })),
  }));
  return { ...toBuildInfo(r), stages, reports: extras.reports, approvals: extras.approvals };
}

/** Who must approve a stage run waiting at its gate, and until when. */
function gateReason(approvals: ApprovalInfo[], stageRunId: number): string | null {
  const g = approvals.find((a) => a.stageRunId === stageRunId && a.status === 'waiting');
  if (!g) return null;
  return `waiting for approval by ${g.required}; expires ${new Date(g.expiresAt).toISOString()}`;
}
