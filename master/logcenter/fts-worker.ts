/**
 * FTS5 indexing of layout-3 partitions on a worker thread (the second core), into the index file `<file>-fts`.
 *
 * The worker has its own connection to the index file and ATTACHes the store's file as `m` to read the rows.
 * One pass is one deferred transaction: its first read of `m` fixes a snapshot, so "every row committed" is
 * next_seq - 1 of that snapshot and the live layout-3 partitions are those of it; it indexes the rows of seq in
 * (indexed_seq, that] of each (creating `f_<id>` on first use) and writes its own mark (index file's meta
 * 'indexed_seq') in the same commit. The store's connection never writes the index file after opening it,
 * so appends never wait for the worker, and a read of the store sees the mark and the index of one snapshot
 * (store.ts). A crash loses only the worker's uncommitted pass: the next open's first pass indexes the rows
 * after the mark. Index tables of partitions no longer live (retention, or a crash in the middle of a drop)
 * are dropped here, off the appending thread.
 *
 * Messages: main -> worker {go, flush}: a pass (unless fewer than `chunk` rows wait and not flush);
 * {stop}: a last flush pass, close, then the shared flag is set (close() waits on it with Atomics.wait).
 * worker -> main {indexedSeq}: after each commit; {error}: a pass (or the open) failed.
 *
 * Supervision: a thread whose pass fails reports the error, closes its connection and ends (a failed pass
 * leaves nothing half-done: its transaction rolled back). Any end but stop() (that, an uncaught exception, a
 * thread that died) counts as one failure: onFailure is told it once with the count of failures in a row, and
 * a new thread starts after a backoff (RESTART_BASE_MS doubling up to RESTART_MAX_MS); its first pass indexes
 * everything after the mark. A commit resets the count. Meanwhile the store's reads stay complete through
 * its pending index (bounded: store.ts).
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { FTS_OPTIONS } from './partitions';

export interface FtsWorker {
  /** Asks for a pass: indexes when `chunk` rows wait, or any when flush. Ignored while a restart is due (its first pass indexes all). */
  wake(flush: boolean): void;
  /**
   * A last pass, then closes the worker's connection; waits at most timeoutMs (the next open indexes what is left).
   * While the worker is down (between a failure and its restart) it only cancels the restart.
   */
  stop(timeoutMs?: number): void;
  /** Failures in a row (0 once a pass committed since), threads started after a failure, whether a thread is running. */
  status(): { failures: number; restarts: number; running: boolean };
}

export interface FtsWorkerOptions {
  file: string;
  ixFile: string;
  /** Rows a non-flush pass waits for. */
  chunk: number;
  /** How long a pass waits for a lock on the index file before it fails (busy_timeout; default 5000 ms). */
  lockTimeoutMs?: number;
  onIndexed(seq: number): void;
  /** Each failure, once, with the count of failures in a row and the delay before the new thread. */
  onFailure(message: string, failures: number, restartInMs: number): void;
  /**
   * Tests only: [passes allowed, snapshot of the waiting pass]. A pass that found rows to index stores the last seq it
   * will index in [1], then waits until [0] > 0, takes one from it and sets [1] back to 0 before indexing; tests let
   * passes through one by one, so a commit lands exactly where they need it.
   */
  gate?: Int32Array;
}

export const RESTART_BASE_MS = 200;
export const RESTART_MAX_MS = 30_000;

const SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const Database = require(workerData.module);
const { flag, chunk, fts, gate } = workerData;
let db;
const stmts = new Map();
// However the thread ends, stop() must not wait for it.
process.on('exit', () => { Atomics.store(flag, 0, 1); Atomics.notify(flag, 0); });
function openDb() {
  db = new Database(workerData.ixFile);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = ' + workerData.lockTimeoutMs);
  db.pragma('cache_size = -65536');
  db.prepare('ATTACH DATABASE ? AS m').run(workerData.file);
}
// A pass indexes at most this many chunks, so its read snapshot of the store's file (which holds back that
// file's WAL checkpoints) stays short behind a backlog; run() takes passes until none is due.
const MAX_PASS_CHUNKS = 4;
function pass(flush) {
  let done = 0;
  let more = false;
  db.transaction(() => {
    const committed = db.prepare("SELECT value FROM m.meta WHERE key = 'next_seq'").pluck().get() - 1;
    const mark = db.prepare("SELECT value FROM main.meta WHERE key = 'indexed_seq'").pluck().get();
    if (committed <= mark || (!flush && committed - mark < chunk)) return;
    const last = Math.min(committed, mark + MAX_PASS_CHUNKS * chunk);
    more = last < committed;
    if (gate) {
      Atomics.store(gate, 1, last);
      while (Atomics.load(gate, 0) <= 0) Atomics.wait(gate, 0, Atomics.load(gate, 0), 1000);
      Atomics.sub(gate, 0, 1);
      Atomics.store(gate, 1, 0);
    }
    const parts = db.prepare("SELECT id FROM m.partitions WHERE state = 'live' AND layout = 3 AND max_seq > ?").pluck().all(mark);
    for (const id of parts) {
      let s = stmts.get(id);
      if (!s) {
        db.exec('CREATE VIRTUAL TABLE IF NOT EXISTS main.f_' + id + ' USING fts5(' + fts + ')');
        db.exec("INSERT INTO main.f_" + id + " (f_" + id + ", rank) VALUES ('automerge', 16)");
        s = db.prepare('INSERT INTO main.f_' + id + " (rowid, text, lbl) SELECT k, text, 'l' || lbl FROM m.d_" + id + ' WHERE seq > ? AND seq <= ?');
        stmts.set(id, s);
      }
      s.run(mark, last);
    }
    db.prepare("UPDATE main.meta SET value = ? WHERE key = 'indexed_seq'").run(last);
    done = last;
  })();
  if (done) parentPort.postMessage({ indexedSeq: done });
  return more;
}
function dropDead() {
  const names = db.prepare("SELECT name FROM main.sqlite_schema WHERE type = 'table' AND name GLOB 'f_[0-9]*'").pluck().all().filter((n) => /^f_[0-9]+$/.test(n));
  if (!names.length) return;
  const live = new Set(db.prepare("SELECT id FROM m.partitions WHERE state = 'live'").pluck().all());
  for (const n of names) {
    const id = Number(n.slice(2));
    if (live.has(id)) continue;
    stmts.delete(id);
    db.exec('DROP TABLE IF EXISTS main.' + n);
  }
}
// A failure ends the thread (the main side restarts it after a backoff): a fresh connection, nothing half-done.
function fail(e) {
  parentPort.postMessage({ error: String(e && e.message || e) });
  try { db && db.close(); } catch {}
  process.exit(1);
}
function run(flush) {
  try {
    while (pass(flush));
    dropDead();
  } catch (e) {
    fail(e);
  }
}
try { openDb(); } catch (e) { fail(e); }
parentPort.on('message', (msg) => {
  if (msg.stop) {
    run(true);
    try { db.close(); } catch {}
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
    parentPort.close();
    return;
  }
  run(msg.flush);
});
run(true);
`;

/** Starts the indexing thread and restarts it after each failure (see the header); the store's only handle on it. */
export function startFtsWorker(o: FtsWorkerOptions): FtsWorker {
  const module = createRequire(import.meta.url).resolve('better-sqlite3');
  let failures = 0;
  let restarts = 0;
  let stopped = false;
  let thread: { worker: Worker; flag: Int32Array; ended: boolean } | undefined;
  let restartTimer: NodeJS.Timeout | undefined;

  const start = () => {
    restartTimer = undefined;
    const flag = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(SOURCE, {
      eval: true,
      workerData: { module, file: o.file, ixFile: o.ixFile, chunk: o.chunk, fts: FTS_OPTIONS, flag, gate: o.gate, lockTimeoutMs: o.lockTimeoutMs ?? 5000 },
    });
    const t = { worker, flag, ended: false };
    thread = t;
    worker.unref();
    let lastError: string | undefined;
    worker.on('message', (m: { indexedSeq?: number; error?: string }) => {
      if (m.indexedSeq !== undefined) {
        failures = 0;
        o.onIndexed(m.indexedSeq);
      }
      if (m.error !== undefined) lastError = m.error;
    });
    worker.on('error', (e) => {
      lastError = e.message;
    });
    worker.on('exit', (code) => {
      t.ended = true;
      if (thread === t) thread = undefined;
      if (stopped) return;
      failures++;
      const delay = Math.min(RESTART_BASE_MS * 2 ** (failures - 1), RESTART_MAX_MS);
      o.onFailure(lastError ?? `the indexing thread ended (exit code ${code})`, failures, delay);
      restartTimer = setTimeout(() => {
        if (stopped) return;
        restarts++;
        start();
      }, delay);
      restartTimer.unref();
    });
  };
  start();
  return {
    wake(flush) {
      if (!stopped && thread && !thread.ended) thread.worker.postMessage({ flush });
    },
    stop(timeoutMs = 120_000) {
      if (stopped) return;
      stopped = true;
      clearTimeout(restartTimer);
      const t = thread;
      if (!t || t.ended || Atomics.load(t.flag, 0) === 1) return;
      t.worker.postMessage({ stop: true });
      Atomics.wait(t.flag, 0, 0, timeoutMs);
    },
    status() {
      return { failures, restarts, running: !!thread && !thread.ended };
    },
  };
}
