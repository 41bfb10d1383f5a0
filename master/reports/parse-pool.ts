/**
 * Parses report files on a worker thread, so a large report (tens of MB, hundreds of thousands of cases) never
 * stalls the master's event loop, where agents' records, acks and API requests are served. Requests are served
 * one at a time in order. Where a worker cannot run (it needs the TypeScript loader the master runs with), or
 * dies, parsing falls back to this thread: slower for the loop, never wrong.
 */
import { readFile } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import { ReportFormatError } from './junit';
import type { ParsedReport, ReportParser } from './types';

type Reply = { id: number; ok: true; report: ParsedReport } | { id: number; ok: false; formatError: boolean; message: string };

export interface ReportParsePool {
  /** Parses `file` as `format`; rejects with ReportFormatError for a file the parser refuses. */
  parse(format: string, file: string): Promise<ParsedReport>;
  close(): Promise<void>;
}

export function createReportParsePool(
  parsers: Map<string, ReportParser>,
  opts: { useWorker?: boolean; onFallback?: (reason: string) => void } = {},
): ReportParsePool {
  let worker: Worker | undefined;
  let broken = opts.useWorker === false;
  let nextId = 0;
  const pending = new Map<number, { resolve: (r: ParsedReport) => void; reject: (e: Error) => void }>();

  const inProcess = async (format: string, file: string): Promise<ParsedReport> => {
    const parser = parsers.get(format);
    if (!parser) throw new ReportFormatError(`no parser for report format '${format}'`);
    return parser.parse(await readFile(file, 'utf8'));
  };

  const start = (): Worker | undefined => {
    if (broken) return undefined;
    if (worker) return worker;
    try {
      // From source (tsx) the worker is the .ts file beside this one; in the build (scripts/build.mjs) it is
      // dist/bin/parse-worker.mjs, beside the bundle this code is in.
      const w = new Worker(new URL(import.meta.url.endsWith('.ts') ? './parse-worker.ts' : './parse-worker.mjs', import.meta.url));
      w.unref();
      w.on('message', (m: Reply) => {
        const p = pending.get(m.id);
        if (!p) return;
        pending.delete(m.id);
        if (m.ok) p.resolve(m.report);
        else p.reject(m.formatError ? new ReportFormatError(m.message) : new Error(m.message));
      });
      const fail = (err: Error) => {
        // The requests in flight are parsed here instead; later ones too.
        if (!broken) opts.onFallback?.(err.message);
        broken = true;
        worker = undefined;
        for (const p of pending.values()) p.reject(Object.assign(err, { retryInProcess: true }));
        pending.clear();
      };
      w.on('error', fail);
      w.on('exit', (code) => code !== 0 && fail(new Error(`report parser worker exited with code ${code}`)));
      worker = w;
      return w;
    } catch (e) {
      opts.onFallback?.((e as Error).message);
      broken = true;
      return undefined;
    }
  };

  let chain: Promise<unknown> = Promise.resolve();
  return {
    parse(format, file) {
      const run = async (): Promise<ParsedReport> => {
        const w = start();
        if (!w) return inProcess(format, file);
        const id = ++nextId;
        try {
          return await new Promise<ParsedReport>((resolve, reject) => {
            pending.set(id, { resolve, reject });
            w.postMessage({ id, format, file });
          });
        } catch (e) {
          if ((e as { retryInProcess?: boolean }).retryInProcess) return inProcess(format, file);
          throw e;
        }
      };
      const result = chain.then(run, run);
      chain = result.catch(() => undefined);
      return result;
    },
    async close() {
      broken = true;
      await worker?.terminate();
      worker = undefined;
    },
  };
}
