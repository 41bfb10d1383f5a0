/**
 * The log center's own SQLite file: pragmas, the fixed tables and the schema version (PRAGMA user_version,
 * independent of the control database's migrations). Partition tables are created on demand by
 * partitions.ts; their shape is part of this version.
 *
 * Fixed tables:
 * - meta: settings fixed at creation (partition_ms), the global entry counter (next_seq) and the FTS index's
 *   high-water mark (indexed_seq: rows of a higher seq are stored but not indexed yet).
 * - sources: the high-water mark per shipped stream (exactly-once across restarts).
 * - labels: (app, environment, instance, stream) -> a small id stored with every entry.
 * - partitions: one row per (environment, time bucket) with its counters; state 'dropping' while retention
 *   deletes it, so a crash in the middle is finished at the next open; `layout` of its tables (partitions.ts).
 *
 * Versions: 1 had no `layout` column (its partitions are layout 1); 2 adds it, and new partitions get layout 2.
 * Opening a version-1 file upgrades it in place (one ALTER TABLE; no partition is rewritten). 3 allows layout 3
 * (partitions.ts: the FTS index in the index file `<file>-fts`, written by a worker thread); a version-2 file's
 * partitions keep layout 2 (indexed inline until retention drops them): its upgrade only sets the version.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { badRequest } from '../../shared/errors';

export type Db = Database.Database;

export const SCHEMA_VERSION = 3;
export const DEFAULT_PARTITION_MS = 3_600_000;
/** Keys are (ts - bucket start) * 2^KEY_LOW_BITS + low bits: a partition of at most 2^32 ms keeps them below 2^53. */
export const KEY_LOW_BITS = 20;
export const KEY_LOW = 2 ** KEY_LOW_BITS;
export const MAX_PARTITION_MS = 2 ** 32;

export function openStoreDb(file: string, partitionMs: number | undefined): { db: Db; partitionMs: number } {
  if (partitionMs !== undefined && (!Number.isInteger(partitionMs) || partitionMs < 1000 || partitionMs > MAX_PARTITION_MS)) {
    throw badRequest(`partitionMs: must be an integer from 1000 to ${MAX_PARTITION_MS} (got ${partitionMs})`);
  }
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const db = new Database(file);
  try {
    // 8 KiB pages suit rows of a few hundred bytes and the FTS5 segment blobs (fewer overflow pages).
    db.pragma('page_size = 8192');
    db.pragma('journal_mode = WAL');
    // NORMAL is durable across process crashes in WAL mode (only an OS crash can lose the last commits).
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
    // 64 MiB of page cache: the newest partitions' B-tree edges and FTS5 segments stay in memory.
    db.pragma('cache_size = -65536');
    db.pragma('temp_store = MEMORY');
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new Error(`${file}: log center schema version ${version} is newer than this master's ${SCHEMA_VERSION}; upgrade the master`);
    }
    if (version === 0) {
      db.transaction(() => {
      db.exec(`
        CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
        CREATE TABLE sources (source TEXT PRIMARY KEY, high_water INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TABLE labels (
          id INTEGER PRIMARY KEY,
          app TEXT NOT NULL, environment TEXT NOT NULL, instance TEXT NOT NULL, stream TEXT NOT NULL,
          UNIQUE (app, environment, instance, stream)
        );
        CREATE TABLE partitions (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          environment TEXT NOT NULL,
          bucket INTEGER NOT NULL,
          entries INTEGER NOT NULL DEFAULT 0,
          bytes INTEGER NOT NULL DEFAULT 0,
          max_seq INTEGER NOT NULL DEFAULT 0,
          state TEXT NOT NULL DEFAULT 'live' CHECK (state IN ('live', 'dropping')),
          layout INTEGER NOT NULL DEFAULT 1
        );
      `);
      const put = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
      put.run('partition_ms', partitionMs ?? DEFAULT_PARTITION_MS);
      put.run('next_seq', 1);
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
      })();
    }
    if (version === 1 || version === 2) {
      // Version 2 stores new partitions keyed by seq (partitions.ts, layout 2); the partitions of a version-1
      // file keep their layout (1) and are read with its statements until retention drops them.
      db.transaction(() => {
        if (version === 1) db.exec('ALTER TABLE partitions ADD COLUMN layout INTEGER NOT NULL DEFAULT 1');
        db.pragma(`user_version = ${SCHEMA_VERSION}`);
      })();
    }
    // 'indexed_seq' (every row of seq <= it is in the FTS index; see store.ts): a file written before the index
    // was filled behind the rows had every committed row indexed, so it starts at the last seq stored.
    db.prepare("INSERT OR IGNORE INTO meta (key, value) SELECT 'indexed_seq', value - 1 FROM meta WHERE key = 'next_seq'").run();
    const stored = (db.prepare("SELECT value FROM meta WHERE key = 'partition_ms'").get() as { value: number }).value;
    return { db, partitionMs: stored };
  } catch (e) {
    db.close();
    throw e;
  }
}
