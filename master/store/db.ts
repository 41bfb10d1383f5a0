/**
 * Opens the SQLite store in the data dir: the control tables in slipway.db, logs and reports in logs.db
 * (ATTACHed as `logs`, see logs-migrations.ts), both WAL, and applies pending migrations of both.
 *
 * Why one connection with an attached file rather than a second connection: each file has its own WAL and
 * checkpoints, so the log path's writes (the bulk of all bytes) never grow or checkpoint the control tables'
 * WAL, and a transaction touching only control tables never locks logs.db; yet queries can still join
 * builds/jobs/teams with log chunks and reports for team scoping, and deletes of stage runs cascade into
 * logs.db through TEMP triggers. What one connection does not give: a transaction over both files is atomic
 * per file only (WAL), committing main first. So the log path (engine/records/record-batcher.ts) commits its
 * chunks in their own transaction BEFORE the control transaction that acknowledges them, and a replayed chunk
 * is ignored (logs.ts): a crash between the two loses nothing and stores nothing twice.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { logsMigrations } from './logs-migrations';
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
  attachLogs(db, join(dataDir, LOGS_FILE));
  migrate(db);
  installCascades(db);
  return db;
}

/** The logs database's file name in the data dir. */
export const LOGS_FILE = 'logs.db';

/** Attaches logs.db as `logs` (same pragmas as the main file) and brings its schema up to date. */
function attachLogs(db: Db, file: string): void {
  db.prepare('ATTACH DATABASE ? AS logs').run(file);
  db.pragma('logs.page_size = 16384');
  db.pragma('logs.journal_mode = WAL');
  db.pragma('logs.synchronous = NORMAL');
  db.pragma('logs.wal_autocheckpoint = 65536');
  const current = db.pragma('logs.user_version', { simple: true }) as number;
  for (let v = current; v < logsMigrations.length; v++) {
    db.transaction(() => {
      db.exec(logsMigrations[v]);
      db.pragma(`logs.user_version = ${v + 1}`);
    })();
  }
}

/**
 * The cascades foreign keys cannot express across files, as TEMP triggers of this connection (the one the
 * master writes through): a deleted stage run takes its log chunks and reports along (reports take their test
 * results and findings by their own foreign keys), a deleted artifact leaves its report without a file, and a
 * deleted chunk leaves the search index. log_chunks.id is not AUTOINCREMENT: once the newest chunks are
 * deleted SQLite hands their ids out again, so the indexer's high-water mark is lowered to the highest
 * remaining id in the same transaction (every remaining chunk at or below it is indexed already).
 */
function installCascades(db: Db): void {
  db.exec(`
    CREATE TEMP TRIGGER IF NOT EXISTS stage_runs_logs_delete AFTER DELETE ON main.stage_runs
    BEGIN
      DELETE FROM logs.log_chunks WHERE stage_run_id = old.id;
      DELETE FROM logs.reports WHERE stage_run_id = old.id;
    END;
    CREATE TEMP TRIGGER IF NOT EXISTS artifacts_reports_unlink AFTER DELETE ON main.artifacts
    BEGIN
      UPDATE logs.reports SET artifact_id = NULL WHERE artifact_id = old.id;
    END;
    CREATE TEMP TRIGGER IF NOT EXISTS log_chunks_fts_delete AFTER DELETE ON logs.log_chunks
    BEGIN
      DELETE FROM logs.log_fts WHERE rowid = old.id;
      UPDATE logs.log_index_state SET last_rowid = (SELECT coalesce(max(id), 0) FROM logs.log_chunks)
        WHERE id = 1 AND last_rowid > (SELECT coalesce(max(id), 0) FROM logs.log_chunks);
    END;`);
}

const statements = new WeakMap<Db, Map<string, Database.Statement>>();

/**
 * The prepared statement of `sql` on this connection, compiled on first use and reused after: for store
 * functions that take the connection per call (teams.ts, environments.ts, registries.ts).
 */
export function statement(db: Db, sql: string): Database.Statement {
  let byText = statements.get(db);
  if (!byText) statements.set(db, (byText = new Map()));
  let st = byText.get(sql);
  if (!st) byText.set(sql, (st = db.prepare(sql)));
  return st;
}

/**
 * Runs fn in one transaction (nested calls become savepoints) and returns its result; rolled back when fn
 * throws. The only way code outside master/store groups statements of several stores atomically.
 */
export function inTransaction<T>(db: Db, fn: () => T): T {
  return db.transaction(fn)();
}

/** The files of the connection's databases (main and attached; not temp or in-memory ones). */
function databaseFiles(db: Db): string[] {
  return (db.pragma('database_list') as { name: string; file: string }[]).filter((d) => d.name !== 'temp' && d.file).map((d) => d.file);
}

/**
 * Runs `PRAGMA wal_checkpoint(PASSIVE)` on each database file (slipway.db, logs.db) every intervalMs on a
 * worker thread with its own connection, so the event loop never waits for a checkpoint's fsync. PASSIVE
 * never blocks the writer.
 */
export function startCheckpointer(db: Db, intervalMs = 1000, onError: (message: string) => void = () => {}): { stop(): Promise<void> } {
  const worker = new Worker(
    `const { workerData, parentPort } = require('node:worker_threads');
     const Database = require(workerData.module);
     const dbs = workerData.files.map((f) => { const d = new Database(f); d.pragma('busy_timeout = 1000'); return d; });
     const timer = setInterval(() => {
       for (const db of dbs) {
         try { db.pragma('wal_checkpoint(PASSIVE)'); } catch (e) { parentPort.postMessage(String(e && e.message)); }
       }
     }, workerData.intervalMs);
     parentPort.on('message', () => { clearInterval(timer); for (const db of dbs) db.close(); parentPort.close(); });`,
    { eval: true, workerData: { module: createRequire(import.meta.url).resolve('better-sqlite3'), files: databaseFiles(db), intervalMs } },
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

/**
 * A migration whose SQL has this line runs with foreign keys off: one that rebuilds a table others reference
 * (SQLite's way to change a constraint: create, copy, drop, rename), where dropping the old table with foreign
 * keys on would cascade to, or be refused by, the referencing rows. Its references are checked before it commits.
 */
const FOREIGN_KEYS_OFF = /^\s*-- foreign_keys=OFF\b/m;

export function migrate(db: Db): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  for (let v = current; v < migrations.length; v++) {
    const fkOff = FOREIGN_KEYS_OFF.test(migrations[v]);
    // The pragma is ignored inside a transaction: set it around the migration's.
    if (fkOff) db.pragma('foreign_keys = OFF');
    try {
      db.transaction(() => {
        db.exec(migrations[v]);
        if (fkOff) {
          const broken = db.pragma('main.foreign_key_check') as { table: string; rowid: number; parent: string }[];
          if (broken.length) {
            const b = broken[0];
            throw new Error(`migration ${v + 1} left ${broken.length} broken reference(s), e.g. ${b.table} row ${b.rowid} -> ${b.parent}`);
          }
        }
        db.pragma(`user_version = ${v + 1}`);
      })();
    } finally {
      if (fkOff) db.pragma('foreign_keys = ON');
    }
  }
}
