/**
 * Report ingestion on the master: a report file the agent uploaded (stored as an artifact of the stage run by
 * then) is parsed by its format's parser (master/reports) and stored as structured results (store/reports.ts).
 * A missing file, an unknown format or a file the parser refuses is stored too, with a message saying why, so
 * the build shows it; the agent fails the step on it only when the job says so (ReportSpec.failStep).
 */
import { stat } from 'node:fs/promises';
import type { ReportSummary } from '../../../shared/api';
import { ReportFormatError, reportParsers, type ParsedReport, type ReportParser } from '../../reports';
import { createReportParsePool, type ReportParsePool } from '../../reports/parse-pool';
import type { ReportsStore } from '../../store/reports';

/** Larger reports are refused rather than parsed on the master's event loop. */
export const MAX_REPORT_PARSE_BYTES = 64 * 1024 * 1024;
/** Failing tests listed back to the agent for the step log. */
const FAILED_LISTED = 10;

export interface ReportUpload {
  buildId: number;
  stageRunId: number;
  stepIndex: number;
  format: string;
  /** Workspace-relative path as the job names it. */
  path: string;
  artifactId: number | null;
}

export interface ReportIngest {
  (upload: ReportUpload, file: string | null): Promise<ReportSummary>;
  /** Stops the parser worker (master shutdown). */
  close(): Promise<void>;
}

/** `pool` parses off the event loop (parse-pool.ts); pass one built with useWorker false to parse in-process. */
export function createReportIngest(store: ReportsStore, parsers: Map<string, ReportParser> = reportParsers(), pool: ReportParsePool = createReportParsePool(parsers)): ReportIngest {
  const ingest = async (u: ReportUpload, file: string | null): Promise<ReportSummary> => {
    const base = { buildId: u.buildId, stageRunId: u.stageRunId, stepIndex: u.stepIndex, format: u.format, path: u.path, artifactId: u.artifactId };
    const refuse = (status: 'missing' | 'malformed', error: string): ReportSummary => ({ ...store.put({ ...base, status, error }, null, Date.now()), failed: [] });
    if (file === null) return refuse('missing', `the step did not write ${u.path}`);
    const parser = parsers.get(u.format);
    if (!parser) return refuse('malformed', `no parser for report format '${u.format}' (known: ${[...parsers.keys()].join(', ')})`);
    const size = (await stat(file)).size;
    if (size > MAX_REPORT_PARSE_BYTES) return refuse('malformed', `${size} bytes, over the ${MAX_REPORT_PARSE_BYTES} bytes the master parses`);
    let parsed: ParsedReport;
    try {
      parsed = await pool.parse(u.format, file);
    } catch (e) {
      if (e instanceof ReportFormatError) return refuse('malformed', e.message);
      throw e;
    }
    const info = store.put({ ...base, status: 'parsed', error: null }, parsed, Date.now());
    const failed = parsed.cases
      .filter((c) => c.status === 'failed' || c.status === 'error')
      .slice(0, FAILED_LISTED)
      .map((c) => ({ name: c.name, classname: c.classname, message: c.message }));
    return { ...info, failed };
  };
  return Object.assign(ingest, { close: () => pool.close() });
}
