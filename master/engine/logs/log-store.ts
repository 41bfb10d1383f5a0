/**
 * The log store: build log chunks (master/store/logs.ts, in logs.db), exactly as the agent sent them (secrets
 * already masked), plus the background FTS5 indexer that makes them searchable.
 *
 * Contract with engine-core:
 *  - storeChunks is the hot path of the log pipeline: prepared statements, one transaction per batch of its
 *    own, committed BEFORE the caller's control transaction that acknowledges the chunks (see store/db.ts); a
 *    replayed chunk already stored is ignored.
 *  - read returns stored chunks of one stage run after a sequence number, in seq order.
 *  - start() starts the indexer (see indexer.ts); stop() indexes what is left and stops it.
 *  - Retention: deleting chunks (directly or by deleting builds / stage runs) removes them from the index too,
 *    through the TEMP triggers store/db.ts installs, so engine-core deletes builds and needs no call here.
 */
import type { MasterContext } from '../../context';
import type { Db } from '../../store/db';
import { createLogsStore, type NewChunk, type StoredChunk } from '../../store/logs';
import { createIndexer, type IndexerOptions } from './indexer';

export type { StoredChunk } from '../../store/logs';

export interface LogStore {
  /** Stores chunks in one transaction of their own (see above); a (stage run, seq) already stored is kept. */
  storeChunks(chunks: readonly NewChunk[], now: number): void;
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
  const store = createLogsStore(db);
  const indexer = createIndexer(store, log, options);
  return {
    storeChunks: (chunks, now) => store.storeChunks(chunks, now),
    read: (stageRunId, afterSeq = 0, limit) => store.read(stageRunId, afterSeq, limit),
    start: () => indexer.start(),
    stop: () => indexer.stop(),
    indexLag: () => indexer.lag(),
    flushIndex: () => indexer.flush(),
  };
}
