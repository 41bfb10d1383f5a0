import type { FindingInfo } from '../../shared/api';

/**
 * Report parsers: one per format (junit.ts, sarif.ts), registered explicitly in
 * index.ts. A parser turns the uploaded file's text into structured results or throws ReportFormatError.
 */
export interface TestCaseResult {
  suite: string;
  classname: string | null;
  name: string;
  status: 'passed' | 'failed' | 'error' | 'skipped';
  durationMs: number | null;
  /** The failure's message (or its first line); for skipped tests, why. */
  message: string | null;
  /** The failure's body (stack trace...), clipped. */
  details: string | null;
}

/**
 * One result of a SARIF report, as parsed: the API's FindingInfo without where it is stored and whether it is
 * new (both decided when it is stored). file is repository-relative (file:// and %SRCROOT% prefixes removed).
 */
export type Finding = Omit<FindingInfo, 'reportId' | 'stageRunId' | 'stepIndex' | 'isNew'>;

export interface ParsedReport {
  tests: number;
  failures: number;
  errors: number;
  skipped: number;
  durationMs: number;
  cases: TestCaseResult[];
  /** SARIF reports: every finding (test counts are 0). */
  findings?: Finding[];
}

export interface ReportParser {
  format: string;
  /** Throws ReportFormatError (junit.ts) with a message for the user when the file is not of the format. */
  parse(text: string): ParsedReport;
}
