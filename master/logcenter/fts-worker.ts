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
 * worker -> main {indexedSeq}: after each commit.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { FTS_OPTIONS } from './partitions';

export interface FtsWorker {
  /** Asks for a pass: indexes when `chunk` rows wait, or any when flush. */
  wake(flush: boolean): void;
  /** A last pass, then closes the worker's connection; waits at most timeoutMs (the next open indexes what is left). */
  stop(timeoutMs?: number): void;
}

const SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const Database = require(workerData.module);
const { flag, chunk, fts } = workerData;
let db;
const stmts = new Map();
function openDb() {
  db = new Database(workerData.ixFile);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
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
function run(flush) {
  try {
    while (pass(flush));
    dropDead();
  } catch (e) {
    parentPort.postMessage({ error: String(e && e.message || e) });
  }
}
try { openDb(); } catch (e) { parentPort.postMessage({ error: String(e && e.message || e) }); }
parentPort.on('message', (msg) => {
  if (msg.stop) {
    if (db) { run(true); try { db.close(); } catch {} }
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
    parentPort.close();
    return;
  }
  if (db) run(msg.flush);
});
if (db) run(true);
`;

export function startFtsWorker(file: string, ixFile: string, chunk: number, onIndexed: (seq: number) => void, onError: (message: string) => void): FtsWorker {
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(SOURCE, {
    eval: true,
    workerData: { module: createRequire(import.meta.url).resolve('better-sqlite3'), file, ixFile, chunk, fts: FTS_OPTIONS, flag },
  });
  worker.unref();
  worker.on('message', (m: { indexedSeq?: number; error?: string }) => {
    if (m.indexedSeq !== undefined) onIndexed(m.indexedSeq);
    if (m.error !== undefined) onError(m.error);
  });
  worker.on('error', (e) => {
    Atomics.store(flag, 0, 1);
    onError(e.message);
  });
  let stopped = false;
  return {
    wake(flush) {
      if (!stopped) worker.postMessage({ flush });
    },
    stop(timeoutMs = 120_000) {
      if (stopped) return;
      stopped = true;
      worker.postMessage({ stop: true });
      Atomics.wait(flag, 0, 0, timeoutMs);
    },
  };
}
