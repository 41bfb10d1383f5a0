/**
 * The log store: build log chunks in SQLite (table log_chunks), exactly as the agent sent them (secrets
 * already masked), plus the background FTS5 indexer that makes them searchable.
 *
 * Contract with engine-core:
 *  - insertChunk is the hot path of the log pipeline: one prepared INSERT, no per-line work. It runs inside
 *    engine-core's own open transaction and neither begins nor commits one.
 *  - read returns stored chunks of one stage run after a sequence number, in seq order.
 *  - start() starts the indexer (see indexer.ts); stop() indexes what is left and stops it.
 *  - Retention: deleting log_chunks rows (directly or through ON DELETE CASCADE from builds/stage_runs)
 *    removes their rows from log_fts too, through a TEMP trigger this module installs on the connection, so
 *    engine-core deletes builds with plain SQL and needs no call here.
 */
import type { MasterContext } from '../../context';
import type { Db } from '../../store/db';
import { createIndexer, type IndexerOptions } from './indexer';

export interface StoredChunk {
  seq: number;
  offset: number;
  data: Buffer;
}

export interface LogStore {
  /** Insert one chunk; called by engine-core inside ITS OWN open transaction (sync, no commit here). */
  insertChunk(stageRunId: number, seq: number, offset: number, data: Buffer, now: number): void;
  /**
   * Stored chunks of a stage run with seq > afterSeq, in seq order. `limit` (optional, an extension of the
   * contract) caps the number of chunks, for callers that page through big logs.
   */
  read(stageRunId: number, afterSeq?: number, limit?: number): StoredChunk[];
  /** Starts the background FTS5 indexer (off the hot path); stop() flushes and stops it. */
  start(): void;
  stop(): void;
  /** Chunks stored but not yet in the search index. */
  indexLag(): number;
  /** Indexes everything stored so far, synchronously (tests, shutdown). */
  flushIndex(): void;
}

export function createLogStore(ctx: MasterContext, options: IndexerOptions = {}): LogStore {
  return createLogStoreOnDb(ctx.db, ctx.log, options);
}

/** Same as createLogStore, over a bare connection (unit tests and tools without a full context). */
export function createLogStoreOnDb(
  db: Db,
  log: Pick<MasterContext['log'], 'error'>,
  options: IndexerOptions = {},
): LogStore {
  installRetentionTrigger(db);
  const insert = db.prepare('INSERT INTO log_chunks (stage_run_id, seq, offset, data, created_at) VALUES (?, ?, ?, ?, ?)');
  const readAll = db.prepare('SELECT seq, offset, data FROM log_chunks WHERE stage_run_id = ? AND seq > ? ORDER BY seq');
  const readSome = db.prepare(
    'SELECT seq, offset, data FROM log_chunks WHERE stage_run_id = ? AND seq > ? ORDER BY seq LIMIT ?',
  );
  const indexer = createIndexer(db, log, options);

  return {
    insertChunk(stageRunId, seq, offset, data, now) {
      insert.run(stageRunId, seq, offset, data, now);
    },
    read(stageRunId, afterSeq = 0, limit) {
      const rows = limit === undefined ? readAll.all(stageRunId, afterSeq) : readSome.all(stageRunId, afterSeq, limit);
      return rows as StoredChunk[];
    },
    start: () => indexer.start(),
    stop: () => indexer.stop(),
    indexLag: () => indexer.lag(),
    flushIndex: () => indexer.flush(),
  };
}

/**
 * log_fts is a separate FTS5 table keyed by the chunk id, so a deleted chunk must leave the index too.
 * log_chunks.id is not AUTOINCREMENT: once the newest chunks are deleted, SQLite hands their ids out again,
 * so the indexer's high-water mark is lowered to the highest remaining id in the same transaction (every
 * remaining chunk at or below it is indexed already; the reused ids come after it).
 * A TEMP trigger lives on this connection only, which is the one connection the master writes through;
 * it costs nothing on insert (the hot path) and runs for cascaded deletes as well.
 */
function installRetentionTrigger(db: Db): void {
  db.exec(`CREATE TEMP TRIGGER IF NOT EXISTS log_chunks_fts_delete AFTER DELETE ON main.log_chunks
    BEGIN
      DELETE FROM main.log_fts WHERE rowid = old.id;
      UPDATE main.log_index_state SET last_rowid = (SELECT coalesce(max(id), 0) FROM main.log_chunks)
        WHERE id = 1 AND last_rowid > (SELECT coalesce(max(id), 0) FROM main.log_chunks);
    END`);
}
