/**
 * API shapes of reports, findings, test history and notifications (the quality part of shared/api.ts, which
 * re-exports everything here).
 */
export interface ReportInfo {
  id: number;
  stageRunId: number;
  stepIndex: number;
  format: string;
  /** Workspace-relative path of the report file. */
  path: string;
  /** The file, downloadable as an artifact (null when it was missing). */
  artifactId: number | null;
  /** 'missing': the step did not write the file; 'malformed': the parser refused it (see error). */
  status: 'parsed' | 'missing' | 'malformed';
  error: string | null;
  tests: number;
  failures: number;
  errors: number;
  skipped: number;
  durationMs: number;
  /** Findings of a SARIF report (0 for test reports); `newFindings` of them are not in the previous build of the branch. */
  findings: number;
  newFindings: number;
}
/** What the reports upload answers the agent: the report plus its first failing tests (for the step log). */
export interface ReportSummary extends ReportInfo {
  failed: { name: string; classname: string | null; message: string | null }[];
  /** For SARIF reports: counts per severity (what a quality gate checks) and the first findings, worst first. */
  findingsSummary?: FindingsSummary;
}
/**
 * Severity of a finding: SARIF's `properties.security-severity` when the tool gives one (>= 7 high, >= 4
 * medium, else low), else its level (error -> high, warning -> medium, note and none -> low).
 */
export type Severity = 'high' | 'medium' | 'low';
export type SarifLevel = 'error' | 'warning' | 'note' | 'none';
export interface SeverityCounts {
  high: number;
  medium: number;
  low: number;
}
export interface FindingsSummary {
  /** All findings per severity. */
  total: SeverityCounts;
  /** Findings whose fingerprint the baseline build did not have. */
  new: SeverityCounts;
  /**
   * The baseline compared with: the latest earlier successful build of the job and branch with a parsed SARIF
   * report (when the report was stored); null: none, all are new.
   */
  previousBuildId: number | null;
  top: { ruleId: string; severity: Severity; message: string; file: string | null; line: number | null; isNew: boolean }[];
}
export interface FindingInfo {
  reportId: number;
  stageRunId: number;
  stepIndex: number;
  /** The tool (SARIF run's driver name) that found it. */
  tool: string;
  ruleId: string;
  level: SarifLevel;
  severity: Severity;
  message: string;
  file: string | null;
  line: number | null;
  /** Stable across builds (tool, rule, file, message; not the line), what "new" is decided on (vs the baseline). */
  fingerprint: string;
  isNew: boolean;
}
/** GET /builds/:id/findings */
export interface FindingsPage {
  buildId: number;
  previousBuildId: number | null;
  total: SeverityCounts;
  new: SeverityCounts;
  /** The findings asked for (filters, limit), high first, then file and line. */
  findings: FindingInfo[];
}
export interface TestResultInfo {
  reportId: number;
  stageRunId: number;
  stepIndex: number;
  suite: string;
  classname: string | null;
  name: string;
  status: 'passed' | 'failed' | 'error' | 'skipped';
  durationMs: number | null;
  message: string | null;
  details: string | null;
}
/** One test, by suite, class and name (what "the same test" means across builds). */
export interface TestRef {
  suite: string;
  classname: string | null;
  name: string;
  status: TestResultInfo['status'];
  durationMs: number | null;
  message: string | null;
}
/** GET /builds/:id/test-report */
export interface TestReport {
  buildId: number;
  /** The latest earlier build of the job and branch with a parsed JUnit report; null: none. */
  previousBuildId: number | null;
  totals: { tests: number; passed: number; failed: number; errors: number; skipped: number; durationMs: number };
  /** Failing (failed or error) here, but passed in the previous build of the branch, or not run there. */
  newlyFailing: (TestRef & { before: 'passed' | 'skipped' | 'absent' })[];
  /** Passing here, failing in the previous build of the branch. */
  fixed: TestRef[];
  /** Passed in one and failed in another build of the same job and commit (a re-run), this one included. */
  flaky: (TestRef & { passedIn: number[]; failedIn: number[] })[];
  /** The slowest tests of this build, slowest first. */
  slowest: TestRef[];
}
/** GET /jobs/:job/test-trend: one point per build that stored test reports. */
export interface TestTrendPoint {
  buildId: number;
  number: number;
  branch: string | null;
  status: string;
  createdAt: number;
  tests: number;
  failures: number;
  errors: number;
  skipped: number;
  durationMs: number;
}
/** One notification of a build event to one channel (GET /builds/:id/notifications). */
export interface NotificationInfo {
  id: number;
  event: 'failure' | 'fixed' | 'deploy' | 'approval';
  /** A built-in channel kind, or a plugin notifier's kind. */
  kind: 'webhook' | 'slack' | 'dingtalk' | 'feishu' | 'email' | (string & {});
  /** Where it goes, without credentials: a webhook's host, a chat channel's secret name, the mail recipients. */
  target: string;
  /** 'pending' (retried with backoff), 'delivered', or 'failed' after the last attempt. */
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  lastError: string | null;
  nextAt: number | null;
  createdAt: number;
  deliveredAt: number | null;
}
/** A team's own notification channel: told about every job of the team (the channel as in a job's notify entry). */
export interface TeamNotifierInfo {
  name: string;
  channel: Record<string, unknown>;
  updatedAt: number;
}
