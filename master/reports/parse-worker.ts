/**
 * Worker thread of the report parse pool (parse-pool.ts): reads a report file and parses it with the format's
 * parser, off the master's event loop. One request at a time; answers { id, ok, report } or
 * { id, ok: false, formatError, message }.
 */
import { readFile } from 'node:fs/promises';
import { parentPort } from 'node:worker_threads';
import { ReportFormatError } from './junit';
import { reportParsers } from './index';

const parsers = reportParsers();

parentPort!.on('message', async (m: { id: number; format: string; file: string }) => {
  try {
    const parser = parsers.get(m.format);
    if (!parser) throw new ReportFormatError(`no parser for report format '${m.format}'`);
    const report = parser.parse(await readFile(m.file, 'utf8'));
    parentPort!.postMessage({ id: m.id, ok: true, report });
  } catch (e) {
    parentPort!.postMessage({ id: m.id, ok: false, formatError: e instanceof ReportFormatError, message: (e as Error).message });
  }
});
