/** The report formats the master parses, registered explicitly; reports of other formats are refused. */
import { junitParser } from './junit';
import { sarifParser } from './sarif';
import type { ReportParser } from './types';

export type { Finding, ParsedReport, ReportParser, TestCaseResult } from './types';
export { ReportFormatError } from './junit';

export function reportParsers(): Map<string, ReportParser> {
  return new Map([
    [junitParser.format, junitParser],
    [sarifParser.format, sarifParser],
  ]);
}
