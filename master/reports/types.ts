/**
 * Report parsers: one per format (junit now; sarif belongs to the quality issue), registered explicitly in
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

export interface ParsedReport {
  tests: number;
  failures: number;
  errors: number;
  skipped: number;
  durationMs: number;
  cases: TestCaseResult[];
}

export interface ReportParser {
  format: string;
  /** Throws ReportFormatError (junit.ts) with a message for the user when the file is not of the format. */
  parse(text: string): ParsedReport;
}
