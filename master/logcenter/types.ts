/**
 * The log center's store of deployed containers' logs (issue 12, part A): the contract between the master's
 * wiring (gateway handler, HTTP API, CLI, live tail) and the store in this folder.
 *
 * The store is its own SQLite file (never the control database), partitioned by (environment, time bucket):
 * each partition is a pair of tables, the entries keyed by a time-derived integer and a contentless FTS5
 * index with the same rowids, so a time range narrows the work to the partitions of that range and to a rowid
 * range inside each. Retention drops whole partitions.
 *
 * Everything here is synchronous (better-sqlite3); the caller is the master's single event loop. Bad input
 * throws a SlipwayError with code `invalid_request` whose message names the field (`q`, `limit`,
 * `entries[3].stream`, ...), which the HTTP layer maps to 400.
 */

/** One log entry of a container, as the agent's shipper sends it. */
export interface ContainerLogEntry {
  app: string;
  environment: string;
  /** Container name or id. */
  instance: string;
  stream: 'stdout' | 'stderr';
  /** ms since epoch (Docker's timestamp). */
  ts: number;
  /** One entry; may contain '\n' (a stack trace kept together is one entry, one hit). */
  text: string;
}

/**
 * A batch of one followed container stream. `source` is the stable id of that stream on one agent (e.g.
 * `${agentId}/${containerId}`); entries[i] has sequence number firstSeq + i. Sequence numbers are assigned
 * by the agent per source, contiguous from 1. The store keeps a high-water mark per source in the same
 * transaction as the rows and skips entries with seq <= mark, so a batch re-sent after an agent or master
 * restart is stored exactly once.
 */
export interface AppendBatch {
  source: string;
  firstSeq: number;
  entries: ContainerLogEntry[];
}

export interface AppendResult {
  /** Last seq now durable for this source (the high-water mark after this append). */
  storedThrough: number;
  /** Entries of this batch stored now. */
  stored: number;
  /** Entries of this batch skipped because they were stored before (seq <= the previous mark). */
  skipped: number;
  /** Sequence numbers missing between the previous mark and firstSeq (lines the agent never sent); 0 normally. */
  gap: number;
}

export interface LogQuery {
  /** The caller may see only these apps (already resolved by team scoping); empty => no results. */
  apps: string[];
  environment?: string;
  instance?: string;
  stream?: 'stdout' | 'stderr';
  /**
   * Keywords and "quoted phrases", all of which must match (case-insensitive, whole words as FTS5's
   * unicode61 tokenizer splits them); absent or blank => all lines. Never FTS5 syntax: operators, column
   * filters, NEAR, `*`, `^` are searched for as plain words. An unclosed quote or a query without any word
   * is refused with a clear error.
   */
  q?: string;
  /** ms epoch, inclusive. */
  from?: number;
  /** ms epoch, exclusive. */
  to?: number;
  /** Default 100, at most 1000. */
  limit?: number;
  /** Opaque, from a previous page's nextCursor: continues newest-first paging where that page ended. */
  cursor?: string;
  /** Lines of context before/after each hit from the same instance (both streams), at most 20. */
  context?: number;
}

export interface LogHit {
  /** Unique per stored entry; increases in storing order (live tail resumes after one). */
  id: string;
  app: string;
  environment: string;
  instance: string;
  stream: string;
  ts: number;
  text: string;
  /** Context lines, oldest first (only when LogQuery.context > 0). */
  before?: LogLine[];
  after?: LogLine[];
}
export type LogLine = Omit<LogHit, 'before' | 'after'>;

export interface LogPage {
  /** Newest first (by ts, ties in storing order). */
  hits: LogHit[];
  /** Present when more hits may follow; pass it back as LogQuery.cursor. Stable while appends continue. */
  nextCursor?: string;
  /** Partitions (environment x time bucket) this page had to look into. */
  scannedPartitions: number;
}

/** Retention per environment (falling back to `default`): by age of a partition's end, and/or by size. */
export interface RetentionPolicy {
  perEnvironment: Record<string, { maxAgeDays?: number; maxBytes?: number }>;
  default?: { maxAgeDays?: number; maxBytes?: number };
}

export interface RetentionResult {
  droppedPartitions: number;
  droppedEntries: number;
}

export interface LogCenterStats {
  entries: number;
  partitions: number;
  /** Size of the stored entries as retention counts it: text characters + 32 per entry (not index pages). */
  bytes: number;
  /** Size of the database file and its WAL on disk (and the index and spill files with worker indexing). */
  fileBytes: number;
  /** The same counts per environment (live partitions), with the start of its oldest and newest partition (ms). */
  environments: Record<string, LogCenterEnvironmentStats>;
  /** Where indexing stands: what a worker that fails or falls behind costs, and that it is bounded. */
  indexing: LogCenterIndexingStats;
}

export interface LogCenterEnvironmentStats {
  entries: number;
  bytes: number;
  partitions: number;
  oldestPartitionStart: number;
  newestPartitionStart: number;
}

export interface LogCenterIndexingStats {
  /** The last entry's seq (global storing order). */
  storedSeq: number;
  /** Every row up to this seq is in the file's index (with worker indexing: as the worker last reported). */
  indexedSeq: number;
  /** Where the worker-indexed partitions' pending index lives now: in memory, or (the worker too far behind) in the spill file. */
  pendingIn: 'memory' | 'spill';
  /** Rows in the in-memory pending index of worker-indexed partitions: at most MAX_PENDING_ROWS. */
  pendingMemoryRows: number;
  /** Rows in the spill file's pending index. */
  pendingSpillRows: number;
  /** Times the worker-indexed pending index started over (from the worker's mark) with rows in it. */
  pendingRebuilds: number;
  /** Bytes of the in-memory temp database in use (every pending index in memory). */
  tempBytes: number;
  /** Failures of the indexing worker in a row (0 after a commit); restarts after failures; whether it runs. */
  workerFailures: number;
  workerRestarts: number;
  workerRunning: boolean;
  /** The worker's last error, if any. */
  workerError?: string;
}

export interface LogCenterStore {
  /** Stores a batch in one transaction (synchronous). Throws invalid_request naming the bad field; then nothing is stored. */
  append(batch: AppendBatch): AppendResult;
  /** The high-water mark of a source: 0 when unknown. */
  highWater(source: string): number;
  /** One page of hits, newest first. */
  search(q: LogQuery): LogPage;
  /**
   * Entries stored after afterId for live tail (same filters, q optional), oldest first, at most `limit`.
   * Without afterId: the newest `limit` entries, oldest first. Pass the last returned id as the next afterId.
   */
  since(q: Omit<LogQuery, 'cursor' | 'context'>, afterId?: string): LogLine[];
  /** Drops whole partitions past the policy, each in its own short transactions. */
  applyRetention(policy: RetentionPolicy, now?: number): RetentionResult;
  /**
   * Same as applyRetention, but yields to the event loop between small steps (each a short transaction), so
   * appends and searches keep being served while old partitions are deleted.
   */
  applyRetentionGradually(policy: RetentionPolicy, now?: number): Promise<RetentionResult>;
  stats(): LogCenterStats;
  /** Every app that ever had an entry stored (labels are kept when retention drops partitions), sorted. */
  apps(): string[];
  close(): void;
}

export interface LogCenterOptions {
  /** Its own SQLite file, e.g. <dataDir>/container-logs.db. */
  file: string;
  /** Width of a time partition; default one hour. Between 1 s and 2^32 ms. Fixed when the file is created. */
  partitionMs?: number;
  /** WAL checkpoints run on a worker thread this often (default 1000 ms); 0 leaves them inline to SQLite. */
  checkpointIntervalMs?: number;
  /**
   * Layout of the partitions this store creates (partitions.ts): 2 (default) or 1, the layout of schema
   * version 1, kept for the partitions of upgraded files; choosing 1 is for the benchmark's baseline and tests.
   */
  partitionLayout?: 1 | 2;
  /**
   * Where new partitions are FTS-indexed: 'inline' (default), by the appending connection into the store's file;
   * 'worker', by a worker thread into the index file `<file>-fts` (layout 3, fts-worker.ts), so appends leave
   * indexing to the second core. A file with worker-indexed partitions must be opened with 'worker'; its older
   * partitions stay indexed inline until retention drops them.
   */
  ftsIndexing?: 'inline' | 'worker';
  /**
   * Told each failure of the indexing worker once, with the count of failures in a row and when it restarts
   * (backoff up to 30 s); meanwhile reads stay complete through the pending index (bounded in memory, then in
   * the spill file `<file>-pending`): the master logs it.
   */
  onWorkerError?: (message: string) => void;
  /** How long an indexing pass waits for a lock on the index file before it fails (default 5000 ms). */
  indexLockTimeoutMs?: number;
}
