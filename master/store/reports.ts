/**
 * Reports and their structured results (tables reports, test_results): one row per report a step attached,
 * one row per test case of a parsed JUnit report; a SARIF report's findings go to findings.ts in the same
 * transaction. All SQL on these tables lives here.
 */
import type { FindingsPage, FindingsSummary, ReportInfo, Severity, TestResultInfo } from '../../shared/api';
import { createFindingsStore } from './findings';
import type { ParsedReport } from '../reports/types';
import type { Db } from './db';

export interface NewReport {
  buildId: number;
  stageRunId: number;
  stepIndex: number;
  format: string;
  path: string;
  artifactId: number | null;
  status: ReportInfo['status'];
  error: string | null;
}

export interface ReportsStore {
  /**
   * Stores a report and its cases in one transaction, replacing an earlier upload of the same step and path
   * (a replayed upload). Returns the report as the API shows it.
   */
  put(report: NewReport, parsed: ParsedReport | null, now: number): ReportInfo & { findingsSummary?: FindingsSummary };
  /** Reports of a build, in stage run and step order. */
  forBuild(buildId: number): ReportInfo[];
  /** Test cases of a build, failures and errors first; `status` filters. */
  tests(buildId: number, opts?: { status?: TestResultInfo['status']; limit?: number }): TestResultInfo[];
  /** SARIF findings of a build with their totals, high first; `onlyNew` keeps those new since the previous build of the branch. */
  findings(buildId: number, opts?: { severity?: Severity; onlyNew?: boolean; limit?: number }): FindingsPage;
}

interface ReportRow {
  id: number;
  stage_run_id: number;
  step_index: number;
  format: string;
  path: string;
  artifact_id: number | null;
  status: ReportInfo['status'];
  error: string | null;
  tests: number;
  failures: number;
  errors: number;
  skipped: number;
  duration_ms: number;
  findings: number;
  new_findings: number;
}

const REPORT_COLS = 'id, stage_run_id, step_index, format, path, artifact_id, status, error, tests, failures, errors, skipped, duration_ms, findings, new_findings';

function toInfo(r: ReportRow): ReportInfo {
  return {
    id: r.id,
    stageRunId: r.stage_run_id,
    stepIndex: r.step_index,
    format: r.format,
    path: r.path,
    artifactId: r.artifact_id,
    status: r.status,
    error: r.error,
    tests: r.tests,
    failures: r.failures,
    errors: r.errors,
    skipped: r.skipped,
    durationMs: r.duration_ms,
    findings: r.findings,
    newFindings: r.new_findings,
  };
}

export function createReportsStore(db: Db): ReportsStore {
  const remove = db.prepare('DELETE FROM reports WHERE stage_run_id = ? AND step_index = ? AND path = ?');
  const insert = db.prepare(
    `INSERT INTO reports (build_id, stage_run_id, step_index, format, path, artifact_id, status, error, tests, failures, errors, skipped, duration_ms, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING ${REPORT_COLS}`,
  );
  const insertCase = db.prepare(
    'INSERT INTO test_results (report_id, suite, classname, name, status, duration_ms, message, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const ofBuild = db.prepare<[number], ReportRow>(`SELECT ${REPORT_COLS} FROM reports WHERE build_id = ? ORDER BY stage_run_id, step_index, id`);
  const testsOf = db.prepare<[number, string | null, string | null, number]>(
    `SELECT t.report_id AS reportId, r.stage_run_id AS stageRunId, r.step_index AS stepIndex, t.suite, t.classname, t.name, t.status,
            t.duration_ms AS durationMs, t.message, t.details
     FROM test_results t JOIN reports r ON r.id = t.report_id
     WHERE r.build_id = ? AND (? IS NULL OR t.status = ?)
     ORDER BY CASE t.status WHEN 'error' THEN 0 WHEN 'failed' THEN 1 WHEN 'skipped' THEN 2 ELSE 3 END, t.id LIMIT ?`,
  );
  const findings = createFindingsStore(db);
  const setFindings = db.prepare('UPDATE reports SET findings = ?, new_findings = ? WHERE id = ?');
  const put = db.transaction((r: NewReport, parsed: ParsedReport | null, now: number): ReportInfo & { findingsSummary?: FindingsSummary } => {
    remove.run(r.stageRunId, r.stepIndex, r.path);
    const row = insert.get(
      r.buildId, r.stageRunId, r.stepIndex, r.format, r.path, r.artifactId, r.status, r.error,
      parsed?.tests ?? 0, parsed?.failures ?? 0, parsed?.errors ?? 0, parsed?.skipped ?? 0, parsed?.durationMs ?? 0, now,
    ) as ReportRow;
    for (const c of parsed?.cases ?? []) insertCase.run(row.id, c.suite, c.classname, c.name, c.status, c.durationMs, c.message, c.details);
    if (!parsed?.findings) return toInfo(row);
    const { count, newCount, ...findingsSummary } = findings.insert(row.id, r.buildId, parsed.findings);
    setFindings.run(count, newCount, row.id);
    return { ...toInfo({ ...row, findings: count, new_findings: newCount }), findingsSummary };
  });
  return {
    put: (r, parsed, now) => put(r, parsed, now),
    forBuild: (buildId) => ofBuild.all(buildId).map(toInfo),
    findings: (buildId, opts) => findings.page(buildId, opts),
    tests: (buildId, opts = {}) => testsOf.all(buildId, opts.status ?? null, opts.status ?? null, opts.limit ?? 1000) as TestResultInfo[],
  };
}
