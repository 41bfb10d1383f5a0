/**
 * WAL checkpoints of the log center's file on a worker thread with its own connection, so appends never wait
 * for a checkpoint's copy and fsync (inline, SQLite runs one every 1000 pages, in the middle of a commit).
 * PASSIVE never blocks the writer. Unlike master/store/db.ts's checkpointer, stop() is synchronous: it
 * returns once the worker has closed its connection (Atomics.wait on a shared flag), so a caller may delete
 * the file right after close().
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

export interface Checkpointer {
  /** Stops the timer and closes the worker's connection; waits at most timeoutMs for it. */
  stop(timeoutMs?: number): void;
}

export function startCheckpointer(file: string, intervalMs: number): Checkpointer {
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(
    `const { workerData, parentPort } = require('node:worker_threads');
     const flag = workerData.flag;
     const Database = require(workerData.module);
     let db;
     try {
       db = new Database(workerData.file);
       db.pragma('busy_timeout = 1000');
     } catch {}
     const timer = setInterval(() => {
       try { db && db.pragma('wal_checkpoint(PASSIVE)'); } catch {}
     }, workerData.intervalMs);
     parentPort.on('message', () => {
       clearInterval(timer);
       try { db && db.close(); } catch {}
       Atomics.store(flag, 0, 1);
       Atomics.notify(flag, 0);
       parentPort.close();
     });`,
    { eval: true, workerData: { module: createRequire(import.meta.url).resolve('better-sqlite3'), file, intervalMs, flag } },
  );
  worker.unref();
  // A failing checkpoint only leaves the work to SQLite's inline fallback; nothing to report upwards.
  worker.on('error', () => Atomics.store(flag, 0, 1));
  let stopped = false;
  return {
    stop(timeoutMs = 5000) {
      if (stopped) return;
      stopped = true;
      worker.postMessage('stop');
      Atomics.wait(flag, 0, 0, timeoutMs);
    },
  };
}
