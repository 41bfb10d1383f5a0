/**
 * The whole stored log of a build as text, streamed chunk page by chunk page (never the whole log in memory)
 * with backpressure on the HTTP response.
 *
 * Format: the chunks' bytes exactly as stored, stage runs ordered by stage index then attempt. When the
 * build has more than one stage run (and no single stage run was asked for), each stage run's section starts
 * with a header line `=== stage <name> (attempt <n>) ===`, preceded by a newline when the previous section
 * did not end with one. A build with one stage run, or a request for one stage run, gets the raw bytes only.
 */
import { buildsStore } from '../../store/builds';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { Db } from '../../store/db';
import type { LogStore } from './log-store';

/** Chunks read per query; a chunk is at most maxFrameBytes, so a page stays a few MiB at worst. */
const PAGE_CHUNKS = 64;

export interface StageRunRef {
  id: number;
  name: string;
  attempt: number;
  stageIndex: number;
}

/** Stage runs of a build in log order. */
export function stageRunsOf(db: Db, buildId: number): StageRunRef[] {
  return buildsStore(db).logSections(buildId);
}

export function sectionHeader(run: StageRunRef): string {
  return `=== stage ${run.name} (attempt ${run.attempt}) ===\n`;
}

/**
 * Waits until `out` drains or closes. Both once() listeners go away afterwards: the loser of a bare
 * Promise.race would stay attached, one per wait, until Node warns (MaxListenersExceededWarning).
 */
async function drainOrClose(out: Writable): Promise<void> {
  const ac = new AbortController();
  try {
    await Promise.race([once(out, 'drain', { signal: ac.signal }), once(out, 'close', { signal: ac.signal })]);
  } finally {
    ac.abort();
  }
}

/**
 * Writes the log of `runs` to `out` (not ending it). Resolves false when the consumer went away midway.
 */
export async function writeBuildLog(logs: LogStore, runs: StageRunRef[], out: Writable): Promise<boolean> {
  const headers = runs.length > 1;
  let endsWithNewline = true;
  const write = async (buf: Buffer | string): Promise<boolean> => {
    if (out.destroyed) return false;
    if (!out.write(buf)) await drainOrClose(out);
    return !out.destroyed;
  };
  for (const run of runs) {
    if (headers) {
      if (!(await write(`${endsWithNewline ? '' : '\n'}${sectionHeader(run)}`))) return false;
      endsWithNewline = true;
    }
    let after = 0;
    for (;;) {
      const page = logs.read(run.id, after, PAGE_CHUNKS);
      for (const chunk of page) {
        if (chunk.data.length === 0) continue;
        if (!(await write(chunk.data))) return false;
        endsWithNewline = chunk.data[chunk.data.length - 1] === 0x0a;
      }
      if (page.length < PAGE_CHUNKS) break;
      after = page[page.length - 1].seq;
    }
  }
  return true;
}
