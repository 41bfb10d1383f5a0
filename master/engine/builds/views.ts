/** Database rows -> the API shapes of shared/api.ts (BuildInfo, BuildDetail). Read-only queries. */
import type { ApprovalInfo, EndReason, BuildDetail, BuildInfo, BuildStatus, ReportInfo, StageRunInfo } from '../../../shared/api';
import type { Db } from '../../store/db';
import { buildsStore, type BuildJoinRow } from '../../store/builds';
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

export type { BuildJoinRow } from '../../store/builds';

export function getBuildRow(db: Db, id: number): BuildJoinRow | undefined {
  return buildsStore(db).build(id);
}

/** Newest first; `before` is a build number (pagination). */
export function listBuildRows(db: Db, jobId: number, limit: number, before?: number): BuildJoinRow[] {
  return buildsStore(db).buildsOfJob(jobId, limit, before ?? Number.MAX_SAFE_INTEGER);
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
  const builds = buildsStore(db);
  const runs = builds.stageRunsOfBuild(r.id);
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
    steps: builds.stepRuns(s.id).map((st) => ({
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
