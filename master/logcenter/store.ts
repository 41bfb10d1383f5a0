/**
 * openLogCenter: the container-log store (see types.ts for the contract, partitions.ts for the layout).
 *
 * Invariants:
 * - A batch's rows, its partitions' counters, the global seq and the source's high-water mark are written in
 *   one transaction: after a crash either all of a batch is stored or none, and the mark says which.
 * - The in-memory caches (labels, partitions, next seq) are only trusted after a commit; a failed append
 *   reloads them from the file.
 * - Scoping: every read turns `apps` (+ filters) into the set of label ids first; rows are only ever
 *   selected through that set, context lines included, so an app not in `apps` cannot appear.
 */
import { statSync } from 'node:fs';
import { ValidationError } from '../../shared/errors';
import { startCheckpointer, type Checkpointer } from './checkpointer';
import { startFtsWorker, type FtsWorker } from './fts-worker';
import { checkQuery, encodeCursor, labelsExpression, type CheckedQuery } from './query';
import { INSERT_ROWS, PartitionRegistry, type Partition, type Row } from './partitions';
import { applyRetention, applyRetentionGradually, finishDrops } from './retention';
import { KEY_LOW, openStoreDb, type Db } from './schema';
import { attachIndexFiles, removeSpill, WorkerReads } from './worker-reads';
import type {
  AppendBatch,
  AppendResult,
  ContainerLogEntry,
  LogCenterIndexingStats,
  LogCenterOptions,
  LogCenterStats,
  LogCenterStore,
  LogHit,
  LogLine,
  LogPage,
  LogQuery,
} from './types';

/** Per entry, what retention counts besides the text. */
export const ENTRY_OVERHEAD_BYTES = 32;
export const MAX_LABEL_CHARS = 256;
export const MAX_SOURCE_CHARS = 512;
/** Entries longer than this are stored cut, with a marker saying how much was cut. */
export const MAX_TEXT_CHARS = 256 * 1024;
/** How far in the future an entry's ts may be (clock skew); later ones are refused. */
const MAX_FUTURE_MS = 24 * 3600_000;
/**
 * Entries are indexed (FTS5) behind their storing, in chunks of up to this many rows: the append that reaches it
 * indexes them in its own transaction, and a timer does it for a quiet store. FTS5 writes one new segment per
 * indexing transaction (and merges them later), so a chunk of thousands of rows costs less per row than the 500
 * of one batch. A read that needs the index first puts the rows not indexed yet into the in-memory pending index
 * (temp.p_<id>, partitions.ts) and searches both: it never waits for, or writes, the file's index, and the file's
 * index gets no small segments from reads (measured: see README, log center store).
 */
export const INDEX_CHUNK_ROWS = 8192;
/**
 * A quiet store indexes its pending rows this long after the last append (each append postpones it, up to
 * INDEX_MAX_DELAY_MS after the first pending row: under steady ingest the chunks do it, in big segments).
 */
const INDEX_DELAY_MS = 200;
const INDEX_MAX_DELAY_MS = 2000;
/**
 * The most rows the in-memory pending index of layout-3 partitions holds (worker indexing). Beyond it (the worker
 * failing or far behind), the pending index is built in the spill file `<file>-pending` instead, whose page cache
 * is bounded (worker-reads.ts): memory stays bounded, every stored row stays searchable with the same FTS5 query
 * semantics, and nothing is written to the index file the worker owns (which may be the very cause: locked,
 * unwritable). Measured: a chunk of 8,192 lines of ~60 characters costs about 0.6 MB of temp pages (4 chunks: 2.4 MB).
 */
export const MAX_PENDING_ROWS = 4 * INDEX_CHUNK_ROWS;
/** Up to this many label ids, a search names them in the FTS query; beyond, the join alone filters them. */
const NARROW_LABELS = 16;

interface Label {
  app: string;
  environment: string;
  instance: string;
  stream: string;
}

/** Tests only: places a real worker commit exactly where a test needs it (see FtsWorkerOptions.gate). */
export interface LogCenterTestHooks {
  /** Given to the indexing worker: [passes allowed, snapshot seq of the pass waiting]. */
  workerGate?: Int32Array;
  /** Called inside a read's transaction, right after it took the worker's mark of its snapshot. */
  afterReadSnapshot?: () => void;
}

export function openLogCenter(opts: LogCenterOptions, hooks: LogCenterTestHooks = {}): LogCenterStore {
  if (opts.partitionLayout !== undefined && opts.partitionLayout !== 1 && opts.partitionLayout !== 2) {
    throw new ValidationError('invalid_request', [{ field: 'partitionLayout', message: `must be 1 or 2 (got ${JSON.stringify(opts.partitionLayout)})` }]);
  }
  if (opts.ftsIndexing !== undefined && opts.ftsIndexing !== 'inline' && opts.ftsIndexing !== 'worker') {
    throw new ValidationError('invalid_request', [{ field: 'ftsIndexing', message: `must be inline or worker (got ${JSON.stringify(opts.ftsIndexing)})` }]);
  }
  if (opts.indexLockTimeoutMs !== undefined && (!Number.isInteger(opts.indexLockTimeoutMs) || opts.indexLockTimeoutMs < 0)) {
    throw new ValidationError('invalid_request', [{ field: 'indexLockTimeoutMs', message: `must be an integer >= 0 (got ${JSON.stringify(opts.indexLockTimeoutMs)})` }]);
  }
  if (opts.ftsIndexing === 'worker' && opts.partitionLayout === 1) {
    throw new ValidationError('invalid_request', [{ field: 'partitionLayout', message: 'layout 1 is indexed inline only (ftsIndexing worker needs layout 2)' }]);
  }
  const { db, partitionMs } = openStoreDb(opts.file, opts.partitionMs);
  try {
    const worker = opts.ftsIndexing === 'worker';
    return new LogCenter(db, opts, partitionMs, worker ? 3 : (opts.partitionLayout ?? 2), worker, hooks);
  } catch (e) {
    db.close();
    throw e;
  }
}

class LogCenter implements LogCenterStore {
  private readonly partitions: PartitionRegistry;
  private labels: Label[] = [];
  private labelIds = new Map<string, number>();
  private nextSeq = 1;
  /** Every row with seq <= indexedSeq is in its partition's FTS index (meta 'indexed_seq'). */
  private indexedSeq = 0;
  /** Every row with indexedSeq < seq <= pendingSeq is in its partition's pending index (memory only). */
  private pendingSeq = 0;
  /** Ids of the partitions whose pending index holds rows. */
  private readonly pendingParts = new Set<number>();
  private indexTimer: NodeJS.Timeout | undefined;
  private indexTimerSince = 0;
  private closed = false;
  private readonly putIndexedSeq;
  private readonly indexTx;
  private readonly getHighWater;
  private readonly putHighWater;
  private readonly putNextSeq;
  private readonly putLabel;
  private readonly putCounters;
  private readonly appendTx;
  private readonly checkpointer?: Checkpointer;
  /** Worker indexing (layout-3 partitions): the thread (fts-worker.ts) and the read side (worker-reads.ts). */
  private readonly ftsWorker?: FtsWorker;
  private readonly wr?: WorkerReads;
  private lastWake = 0;
  private readonly tempBytes: () => number;
  /** The worker's last error (it is restarted after a backoff; reads stay complete through the pending index). */
  workerError: string | undefined;

  private readonly file: string;

  constructor(
    readonly db: Db,
    opts: LogCenterOptions,
    readonly partitionMs: number,
    partitionLayout: 1 | 2 | 3,
    useWorker: boolean,
    hooks: LogCenterTestHooks,
  ) {
    const file = (this.file = opts.file);
    // The index file is attached whenever it exists or the worker is used: a file once written with the
    // worker keeps layout-3 partitions, which any later open must read (and index) the same way.
    const ixFile = `${file}-fts`;
    const hasLayout3 = (db.prepare('SELECT 1 FROM partitions WHERE layout = 3 LIMIT 1').pluck().get() as number | undefined) === 1;
    if (hasLayout3 && !useWorker) throw new ValidationError('invalid_request', [{ field: 'ftsIndexing', message: `${file} has partitions indexed by the worker: open it with ftsIndexing worker` }]);
    if (useWorker) attachIndexFiles(db, file);
    finishDrops(db);
    this.partitions = new PartitionRegistry(db, partitionMs, partitionLayout, useWorker);
    const tempPages = db.prepare('PRAGMA temp.page_count').pluck();
    const tempFree = db.prepare('PRAGMA temp.freelist_count').pluck();
    const tempPageSize = db.prepare('PRAGMA temp.page_size').pluck();
    this.tempBytes = () => ((tempPages.get() as number) - (tempFree.get() as number)) * (tempPageSize.get() as number);
    this.getHighWater = db.prepare('SELECT high_water AS hw FROM sources WHERE source = ?').pluck();
    this.putHighWater = db.prepare(
      'INSERT INTO sources (source, high_water) VALUES (?, ?) ON CONFLICT (source) DO UPDATE SET high_water = excluded.high_water',
    );
    this.putNextSeq = db.prepare("UPDATE meta SET value = ? WHERE key = 'next_seq'");
    this.putLabel = db.prepare('INSERT INTO labels (app, environment, instance, stream) VALUES (?, ?, ?, ?)');
    this.putCounters = db.prepare('UPDATE partitions SET entries = ?, bytes = ?, max_seq = ? WHERE id = ?');
    this.putIndexedSeq = db.prepare("UPDATE meta SET value = ? WHERE key = 'indexed_seq'");
    this.appendTx = db.transaction((b: AppendBatch) => this.appendInTx(b));
    this.indexTx = db.transaction(() => this.indexPending());
    this.reloadCaches();
    if (useWorker) {
      const wr = (this.wr = new WorkerReads(db, this.partitions, MAX_PENDING_ROWS, hooks.afterReadSnapshot));
      this.lastWake = wr.workerSeq;
      this.ftsWorker = startFtsWorker({
        file,
        ixFile,
        chunk: INDEX_CHUNK_ROWS,
        lockTimeoutMs: opts.indexLockTimeoutMs,
        gate: hooks.workerGate,
        onIndexed: (seq) => wr.indexed(seq),
        onFailure: (message, failures, restartInMs) => {
          this.workerError = message;
          opts.onWorkerError?.(`indexing worker failed (${failures} in a row; restarting it in ${restartInMs} ms): ${message}`);
        },
      });
    }
    const checkpointIntervalMs = opts.checkpointIntervalMs ?? 1000;
    if (checkpointIntervalMs > 0) {
      // Checkpoints on another thread; SQLite's inline checkpoint (in the middle of a commit, with an fsync)
      // stays only as the fallback for a WAL that grew past 128 MiB.
      db.pragma('wal_autocheckpoint = 16384');
      this.checkpointer = startCheckpointer(file, checkpointIntervalMs);
    }
    // Rows a crash left unindexed: in the pending index for reads at once, in the file's index shortly.
    if (this.indexedSeq < this.nextSeq - 1) this.scheduleIndex();
  }

  private reloadCaches(): void {
    this.lastLabel = undefined;
    this.partitions.reload();
    this.labels = [];
    this.labelIds.clear();
    for (const l of this.db.prepare('SELECT id, app, environment, instance, stream FROM labels').all() as (Label & { id: number })[]) {
      this.labels[l.id] = { app: l.app, environment: l.environment, instance: l.instance, stream: l.stream };
      this.labelIds.set(labelKey(l), l.id);
    }
    this.nextSeq = (this.db.prepare("SELECT value FROM meta WHERE key = 'next_seq'").pluck().get() as number) ?? 1;
    this.indexedSeq = this.db.prepare("SELECT value FROM meta WHERE key = 'indexed_seq'").pluck().get() as number;
    // The pending indexes start over from the file's mark (a rolled-back indexing may have left them either way).
    for (const id of this.pendingParts) {
      const p = this.partitions.get(id);
      if (p) this.partitions.stmt(p, 'pendingClear').run();
    }
    this.pendingParts.clear();
    this.pendingSeq = this.indexedSeq;
    this.wr?.clear();
  }

  /** Indexes the stored rows not indexed yet (seq in (indexedSeq, nextSeq)). Call inside a transaction. */
  private indexPending(): void {
    const last = this.nextSeq - 1;
    if (this.indexedSeq >= last) return;
    for (const p of this.partitions.list()) {
      if (p.layout !== 3 && p.maxSeq > this.indexedSeq) this.partitions.stmt(p, 'index').run(this.indexedSeq + 1, p.maxSeq);
    }
    // In the same transaction: a rollback restores the pending indexes with the mark (reloadCaches clears them).
    for (const id of this.pendingParts) {
      const p = this.partitions.get(id);
      if (p) this.partitions.stmt(p, 'pendingClear').run();
    }
    this.pendingParts.clear();
    this.putIndexedSeq.run(last);
    this.indexedSeq = last;
    this.pendingSeq = last;
  }

  /**
   * Before a read that uses the index: the rows not in the file's index yet are put into the in-memory pending
   * index (only those added since the last read), so a search, context or tail misses none.
   */
  private preparePending(): void {
    const last = this.nextSeq - 1;
    if (this.wr) {
      try {
        this.wr.prepare(last);
      } catch (e) {
        this.reloadCaches();
        throw e;
      }
    }
    const from = Math.max(this.indexedSeq, this.pendingSeq);
    if (from >= last) return;
    try {
      for (const p of this.partitions.list()) {
        if (p.layout === 3 || p.maxSeq <= from) continue;
        this.partitions.stmt(p, 'pendingIndex').run(from + 1, p.maxSeq);
        this.pendingParts.add(p.id);
      }
    } catch (e) {
      this.reloadCaches();
      throw e;
    }
    this.pendingSeq = last;
  }

  /** Runs a read (worker indexing: in one read transaction, worker-reads.ts). */
  private read<T>(fn: () => T): T {
    return this.wr ? this.wr.read(fn) : fn();
  }

  /** Rows of partition p matching `expr` with keys in [lo, hi) (desc) or (lo, hi) (asc), from both indexes. */
  private matchRows(p: Partition, order: 'desc' | 'asc', expr: string, lo: number, hi: number, labelsJson: string, limit: number): Row[] {
    if (p.layout === 3) return this.wr!.matchRows(p, order, expr, lo, hi, labelsJson, limit);
    const rows = this.partitions.stmt(p, order === 'desc' ? 'searchMatch' : 'searchMatchAsc').all(expr, lo, hi, labelsJson, limit) as Row[];
    if (!this.pendingParts.has(p.id)) return rows;
    const pending = this.partitions.stmt(p, order === 'desc' ? 'pendingMatch' : 'pendingMatchAsc').all(expr, lo, hi, labelsJson, limit) as Row[];
    if (!pending.length) return rows;
    // A row is in one index or the other, never both: merge by key.
    return [...rows, ...pending].sort(order === 'desc' ? (a, b) => b.k - a.k : (a, b) => a.k - b.k).slice(0, limit);
  }

  /** Indexes every stored row in the file's index now (the quiet-store timer, close). */
  private indexAll(): void {
    if (this.indexedSeq >= this.nextSeq - 1) return;
    try {
      this.indexTx();
    } catch (e) {
      this.reloadCaches();
      throw e;
    }
  }

  private scheduleIndex(): void {
    if (this.closed) return;
    if (this.indexTimer) {
      if (Date.now() - this.indexTimerSince < INDEX_MAX_DELAY_MS) this.indexTimer.refresh();
      return;
    }
    this.indexTimerSince = Date.now();
    this.indexTimer = setTimeout(() => {
      this.indexTimer = undefined;
      if (this.ftsWorker && this.lastWake < this.nextSeq - 1) {
        this.lastWake = this.nextSeq - 1;
        this.ftsWorker.wake(true);
      }
      try {
        this.indexAll();
      } catch {
        // Left pending: the next chunk or timer indexes the rows (a read finds them through the pending index).
      }
    }, INDEX_DELAY_MS);
    this.indexTimer.unref();
  }

  highWater(source: string): number {
    return (this.getHighWater.get(source) as number | undefined) ?? 0;
  }

  append(batch: AppendBatch): AppendResult {
    checkBatch(batch, Date.now());
    let result: AppendResult;
    try {
      result = this.appendTx(batch);
    } catch (e) {
      this.reloadCaches();
      throw e;
    }
    if (this.ftsWorker && this.nextSeq - 1 - this.lastWake >= INDEX_CHUNK_ROWS) {
      this.lastWake = this.nextSeq - 1;
      this.ftsWorker.wake(false);
    }
    if (this.indexedSeq < this.nextSeq - 1) this.scheduleIndex();
    return result;
  }

  private appendInTx(b: AppendBatch): AppendResult {
    const n = b.entries.length;
    const hw = (this.getHighWater.get(b.source) as number | undefined) ?? 0;
    const last = b.firstSeq + n - 1;
    if (last <= hw) return { storedThrough: hw, stored: 0, skipped: n, gap: 0 };
    const skip = Math.max(0, hw - b.firstSeq + 1);
    const gap = Math.max(0, b.firstSeq - hw - 1);
    // Partitions written to (their counters are saved once per batch).
    const touched = new Set<Partition>();
    let seq = this.nextSeq;
    let lastPartition: Partition | undefined;
    // Rows go in groups of INSERT_ROWS of one partition per statement; `group` holds their values flattened.
    const group = this.group;
    let groupPartition: Partition | undefined;
    let count = 0;
    const flush = () => {
      if (count > 0) this.insertGroup(groupPartition!, group, count);
      count = 0;
    };
    for (let i = skip; i < n; i++) {
      const e = b.entries[i];
      const lbl = this.labelId(e);
      const bucket = Math.floor(e.ts / this.partitionMs);
      let p = lastPartition;
      if (!p || p.bucket !== bucket || p.environment !== e.environment) p = lastPartition = this.partitions.forEntry(e.environment, bucket);
      if (p !== groupPartition) {
        flush();
        groupPartition = p;
      }
      const text = e.text.length > MAX_TEXT_CHARS ? cutText(e.text) : e.text;
      const at = count * 4;
      group[at] = (e.ts - p.start) * KEY_LOW + (seq % KEY_LOW);
      group[at + 1] = seq;
      group[at + 2] = lbl;
      group[at + 3] = text;
      if (++count === INSERT_ROWS) flush();
      p.entries++;
      p.bytes += text.length + ENTRY_OVERHEAD_BYTES;
      p.maxSeq = seq;
      touched.add(p);
      seq++;
    }
    flush();
    for (const p of touched) this.putCounters.run(p.entries, p.bytes, p.maxSeq, p.id);
    this.putNextSeq.run(seq);
    this.putHighWater.run(b.source, last);
    this.nextSeq = seq;
    if (seq - 1 - this.indexedSeq >= INDEX_CHUNK_ROWS) this.indexPending();
    return { storedThrough: last, stored: n - skip, skipped: skip, gap };
  }

  private lastLabel: (Label & { id: number }) | undefined;
  private readonly group: (number | string)[] = new Array(INSERT_ROWS * 4);

  /** Stores `count` rows of `group` (k, seq, lbl, text flattened) in partition p. */
  private insertGroup(p: Partition, group: (number | string)[], count: number): void {
    if (count === INSERT_ROWS) {
      if (this.partitions.stmt(p, 'insertMany').run(group).changes === INSERT_ROWS) return;
      // A key clash ignored some rows (rare: see insertOne); store just those, one by one.
      const has = this.partitions.stmt(p, 'hasRow');
      for (let at = 0; at < group.length; at += 4) {
        if (!has.get(group[at] as number, group[at + 1] as number)) this.insertOne(p, group[at] as number, group[at + 1] as number, group[at + 2] as number, group[at + 3] as string);
      }
      return;
    }
    for (let at = 0; at < count * 4; at += 4) this.insertOne(p, group[at] as number, group[at + 1] as number, group[at + 2] as number, group[at + 3] as string);
  }

  private insertOne(p: Partition, k: number, seq: number, lbl: number, text: string): void {
    const insert = this.partitions.stmt(p, 'insert');
    const base = k - (k % KEY_LOW);
    let low = k % KEY_LOW;
    // Two entries of the same millisecond clash only when their seqs are 2^20 apart: take the next free low bits.
    for (let tries = 0; insert.run(base + low, seq, lbl, text).changes === 0; tries++) {
      if (tries >= KEY_LOW) throw new Error(`log center: no free key in ms ${p.start + base / KEY_LOW} of partition ${p.id}`);
      low = (low + 1) % KEY_LOW;
    }
  }

  private labelId(e: ContainerLogEntry): number {
    // A batch is one container stream: nearly always the same labels as the entry before.
    const last = this.lastLabel;
    if (last && last.app === e.app && last.instance === e.instance && last.environment === e.environment && last.stream === e.stream) return last.id;
    const key = labelKey(e);
    let id = this.labelIds.get(key);
    if (id === undefined) {
      id = Number(this.putLabel.run(e.app, e.environment, e.instance, e.stream).lastInsertRowid);
      this.labels[id] = { app: e.app, environment: e.environment, instance: e.instance, stream: e.stream };
      this.labelIds.set(key, id);
    }
    this.lastLabel = { app: e.app, environment: e.environment, instance: e.instance, stream: e.stream, id };
    return id;
  }

  /** Label ids the query may see: apps in scope, then the filters. */
  private scope(q: Pick<CheckedQuery, 'apps' | 'environment' | 'instance' | 'stream'>): { ids: number[]; environments: Set<string> } {
    const apps = new Set(q.apps);
    const ids: number[] = [];
    const environments = new Set<string>();
    this.labels.forEach((l, id) => {
      if (!apps.has(l.app)) return;
      if (q.environment !== undefined && l.environment !== q.environment) return;
      if (q.instance !== undefined && l.instance !== q.instance) return;
      if (q.stream !== undefined && l.stream !== q.stream) return;
      ids.push(id);
      environments.add(l.environment);
    });
    return { ids, environments };
  }

  /** Live partitions of these environments overlapping [from, to), newest bucket first, then higher id first. */
  private partitionsFor(environments: Set<string>, from: number, to: number): Partition[] {
    return this.partitions
      .list()
      .filter((p) => environments.has(p.environment) && p.start < to && p.start + this.partitionMs > from)
      .sort((a, b) => b.bucket - a.bucket || b.id - a.id);
  }

  /** Key range [lo, hi) of a partition for the time range [from, to). */
  private keyRange(p: Partition, from: number, to: number): [number, number] {
    const lo = Math.max(0, from - p.start) * KEY_LOW;
    const hi = Math.min(this.partitionMs, to - p.start) * KEY_LOW;
    return [lo, hi];
  }

  private line(p: Partition, r: Row): LogLine {
    const l = this.labels[r.lbl];
    return {
      id: String(r.seq),
      app: l.app,
      environment: l.environment,
      instance: l.instance,
      stream: l.stream,
      ts: p.start + Math.floor(r.k / KEY_LOW),
      text: r.text,
    };
  }

  search(query: LogQuery): LogPage {
    const q = checkQuery(query);
    this.preparePending();
    const { ids, environments } = this.scope(q);
    if (ids.length === 0) return { hits: [], scannedPartitions: 0 };
    const { found, scanned, page, hits } = this.read(() => {
      const { found, scanned } = this.newest(q, ids, environments, q.limit + 1);
      const page = found.slice(0, q.limit);
      const hits: LogHit[] = page.map(({ p, r }) => {
        const hit: LogHit = this.line(p, r);
        if (q.context > 0) Object.assign(hit, this.context(p, r, q.context));
        return hit;
      });
      return { found, scanned, page, hits };
    });
    const lastHit = page[page.length - 1];
    return {
      hits,
      nextCursor: found.length > q.limit ? encodeCursor({ bucket: lastHit.p.bucket, key: lastHit.r.k, partition: lastHit.p.id }) : undefined,
      scannedPartitions: scanned,
    };
  }

  /** The newest `need` matching rows (after the cursor, if any), newest first, across partitions. */
  private newest(q: CheckedQuery, ids: number[], environments: Set<string>, need: number): { found: { p: Partition; r: Row }[]; scanned: number } {
    const labelsJson = JSON.stringify(ids);
    const found: { p: Partition; r: Row }[] = [];
    let scanned = 0;
    const candidates = this.partitionsFor(environments, q.from, q.to).filter((p) => !q.cursor || p.bucket <= q.cursor.bucket);
    // Partitions of one bucket share the key space (same start): merge them by (key desc, id desc).
    for (let i = 0; i < candidates.length && found.length < need; ) {
      const bucket = candidates[i].bucket;
      const group: { p: Partition; r: Row }[] = [];
      for (; i < candidates.length && candidates[i].bucket === bucket; i++) {
        const p = candidates[i];
        let [lo, hi] = this.keyRange(p, q.from, q.to);
        if (q.cursor && p.bucket === q.cursor.bucket) hi = Math.min(hi, p.id < q.cursor.partition ? q.cursor.key + 1 : q.cursor.key);
        if (lo >= hi) continue;
        scanned++;
        for (const r of this.searchPartition(p, q.match, lo, hi, ids, labelsJson, need - found.length)) group.push({ p, r });
      }
      group.sort((a, b) => b.r.k - a.r.k || b.p.id - a.p.id);
      found.push(...group.slice(0, need - found.length));
    }
    return { found, scanned };
  }

  /** Up to `limit` rows of one partition in [lo, hi), newest first. */
  private searchPartition(p: Partition, match: string | undefined, lo: number, hi: number, ids: number[], labelsJson: string, limit: number): Row[] {
    // A few labels go into the FTS query too, so their doclists narrow the walk; the join's label check
    // stays in every case and is what scoping relies on.
    const narrow = ids.length <= NARROW_LABELS ? labelsExpression(ids) : undefined;
    const expr = match && narrow ? `${match} AND ${narrow}` : (match ?? narrow);
    if (expr) return this.matchRows(p, 'desc', expr, lo, hi, labelsJson, limit);
    return this.partitions.stmt(p, 'searchScan').all(lo, hi, labelsJson, limit) as Row[];
  }

  /**
   * Lines of the hit's instance (same app, environment, instance; both streams) around it, across partitions,
   * in key order: by millisecond, and within one millisecond as stored (stdout and stderr come in separate
   * batches, so their lines of the same millisecond follow the order the batches were stored in).
   */
  private context(p: Partition, hit: Row, n: number): { before: LogLine[]; after: LogLine[] } {
    const l = this.labels[hit.lbl];
    const ids = this.scope({ apps: [l.app], environment: l.environment, instance: l.instance }).ids;
    const expr = labelsExpression(ids);
    const labelsJson = JSON.stringify(ids);
    const same = this.partitions
      .list()
      .filter((o) => o.environment === p.environment)
      .sort((a, b) => a.bucket - b.bucket || a.id - b.id);
    const at = same.findIndex((o) => o.id === p.id);
    // `same` is in time order: the partitions before `at` hold older lines, those after it newer ones.
    const before: LogLine[] = [];
    for (let i = at; i >= 0 && before.length < n; i--) {
      const o = same[i];
      const rows = this.matchRows(o, 'desc', expr, 0, i === at ? hit.k : Number.MAX_SAFE_INTEGER, labelsJson, n - before.length);
      for (const r of rows) before.push(this.line(o, r));
    }
    const after: LogLine[] = [];
    for (let i = at; i < same.length && after.length < n; i++) {
      const o = same[i];
      const rows = this.matchRows(o, 'asc', expr, i === at ? hit.k : -1, Number.MAX_SAFE_INTEGER, labelsJson, n - after.length);
      for (const r of rows) after.push(this.line(o, r));
    }
    return { before: before.reverse(), after };
  }

  since(query: Omit<LogQuery, 'cursor' | 'context'>, afterId?: string): LogLine[] {
    const q = checkQuery({ ...query, cursor: undefined, context: undefined });
    let after: number | undefined;
    if (afterId !== undefined) {
      if (!/^\d{1,16}$/.test(afterId)) throw new ValidationError('invalid_request', [{ field: 'afterId', message: 'not an entry id of this log center' }]);
      after = Number(afterId);
    }
    const { ids, environments } = this.scope(q);
    if (ids.length === 0) return [];
    // A tail's next lines without words come from the seq index alone; everything else may use the FTS index.
    if (after === undefined || q.match) this.preparePending();
    if (after === undefined) {
      // The start of a tail: the newest lines by time (the search path, cheap for any app), given in storing
      // order so that the last id is the highest seq: nothing older than them is stored after it.
      const { found } = this.read(() => this.newest(q, ids, environments, q.limit));
      return found.sort((a, b) => a.r.seq - b.r.seq).map(({ p, r }) => this.line(p, r));
    }
    const labelsJson = JSON.stringify(ids);
    const rows: { p: Partition; r: Row }[] = [];
    // Only partitions written since `after`, and in them only the seq range after it (the seq index).
    this.read(() => {
      for (const p of this.partitionsFor(environments, q.from, q.to)) {
        if (p.maxSeq <= after!) continue;
        const [lo, hi] = this.keyRange(p, q.from, q.to);
        if (lo >= hi) continue;
        // A row in both indexes (the hand-over) is still one row: tailMatch selects rows whose key is IN either.
        const matchStmt = p.layout === 3 && !this.wr!.hasIndexTable(p) ? 'tailMatchPending' : 'tailMatch';
        const got = (
          q.match
            ? this.partitions.stmt(p, matchStmt, p.layout === 3 ? this.wr!.where : 'temp').all(after!, labelsJson, lo, hi, q.match, q.match, q.limit)
            : this.partitions.stmt(p, 'tail').all(after!, labelsJson, lo, hi, q.limit)
        ) as Row[];
        for (const r of got) rows.push({ p, r });
      }
    });
    rows.sort((a, b) => a.r.seq - b.r.seq);
    return rows.slice(0, q.limit).map(({ p, r }) => this.line(p, r));
  }

  // A dropped layout-3 partition's index table goes on the worker's next pass (its rows are gone from search at once).
  applyRetention(policy: Parameters<LogCenterStore['applyRetention']>[0], now = Date.now()) {
    const r = applyRetention(this.db, this.partitions, policy, now);
    if (r.droppedPartitions > 0) this.ftsWorker?.wake(false);
    return r;
  }

  async applyRetentionGradually(policy: Parameters<LogCenterStore['applyRetention']>[0], now = Date.now()) {
    const r = await applyRetentionGradually(this.db, this.partitions, policy, now);
    if (r.droppedPartitions > 0) this.ftsWorker?.wake(false);
    return r;
  }

  stats(): LogCenterStats {
    let entries = 0;
    let bytes = 0;
    const all = this.partitions.list();
    const environments: LogCenterStats['environments'] = {};
    for (const p of all) {
      entries += p.entries;
      bytes += p.bytes;
      const e = (environments[p.environment] ??= { entries: 0, bytes: 0, partitions: 0, oldestPartitionStart: p.start, newestPartitionStart: p.start });
      e.entries += p.entries;
      e.bytes += p.bytes;
      e.partitions += 1;
      e.oldestPartitionStart = Math.min(e.oldestPartitionStart, p.start);
      e.newestPartitionStart = Math.max(e.newestPartitionStart, p.start);
    }
    let fileBytes = 0;
    for (const suffix of this.ftsWorker ? ['', '-wal', '-fts', '-fts-wal', '-pending'] : ['', '-wal']) {
      try {
        fileBytes += statSync(this.file + suffix).size;
      } catch {
        // no WAL file yet
      }
    }
    return { entries, partitions: all.length, bytes, fileBytes, environments, indexing: this.indexingStats() };
  }

  private indexingStats(): LogCenterIndexingStats {
    const w = this.ftsWorker?.status();
    return {
      storedSeq: this.nextSeq - 1,
      indexedSeq: this.wr ? this.wr.workerSeq : this.indexedSeq,
      ...(this.wr?.stats() ?? { pendingIn: 'memory', pendingMemoryRows: 0, pendingSpillRows: 0, pendingRebuilds: 0 }),
      tempBytes: this.tempBytes(),
      workerFailures: w?.failures ?? 0,
      workerRestarts: w?.restarts ?? 0,
      workerRunning: w?.running ?? false,
      workerError: this.workerError,
    };
  }

  apps(): string[] {
    return [...new Set(this.labels.filter(Boolean).map((l) => l.app))].sort();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.indexTimer);
    // Rows left unindexed would be indexed after the next open; doing it now keeps the file's index whole.
    try {
      this.indexAll();
    } catch {
      // the next open indexes them
    }
    // The worker indexes the rest and closes its connection before the file may be deleted or reopened.
    this.ftsWorker?.stop();
    this.checkpointer?.stop();
    this.db.close();
    if (this.ftsWorker) removeSpill(this.file);
  }
}

function labelKey(l: Label): string {
  return `${l.app}\0${l.environment}\0${l.instance}\0${l.stream}`;
}

function cutText(text: string): string {
  return `${text.slice(0, MAX_TEXT_CHARS)} …[${text.length - MAX_TEXT_CHARS} more characters cut by the log center]`;
}

/** Refuses a malformed batch before anything is written, naming the field (`entries[3].stream`). */
export function checkBatch(b: AppendBatch, now: number): void {
  if (!b || typeof b !== 'object') badField('batch', 'must be an object');
  if (typeof b.source !== 'string' || b.source === '' || b.source.length > MAX_SOURCE_CHARS) badField('source', `must be a non-empty string of at most ${MAX_SOURCE_CHARS} characters`);
  if (!Number.isSafeInteger(b.firstSeq) || b.firstSeq < 1) badField('firstSeq', `must be an integer >= 1 (got ${JSON.stringify(b.firstSeq)})`);
  if (!Array.isArray(b.entries)) badField('entries', 'must be a list');
  if (!Number.isSafeInteger(b.firstSeq + b.entries.length)) badField('firstSeq', 'too large');
  const maxTs = now + MAX_FUTURE_MS;
  // The entries of a batch nearly always share their labels: an entry whose labels are those of the one before
  // was checked with it (this loop was about a tenth of an append's time when it checked every label).
  let prev: ContainerLogEntry | undefined;
  for (let i = 0; i < b.entries.length; i++) {
    const e = b.entries[i];
    if (!e || typeof e !== 'object') badField(`entries[${i}]`, 'must be an object');
    if (!prev || e.app !== prev.app || e.environment !== prev.environment || e.instance !== prev.instance) {
      checkLabel(e.app, i, 'app');
      checkLabel(e.environment, i, 'environment');
      checkLabel(e.instance, i, 'instance');
    }
    if (e.stream !== 'stdout' && e.stream !== 'stderr') badField(`entries[${i}].stream`, `must be stdout or stderr (got ${JSON.stringify(e.stream)})`);
    const ts = e.ts;
    if (!Number.isSafeInteger(ts) || ts < 0 || ts > maxTs) badField(`entries[${i}].ts`, `must be ms since epoch, not more than a day ahead (got ${JSON.stringify(ts)})`);
    if (typeof e.text !== 'string') badField(`entries[${i}].text`, 'must be a string');
    prev = e;
  }
}

function checkLabel(v: unknown, i: number, f: string): void {
  if (typeof v !== 'string' || v === '' || v.length > MAX_LABEL_CHARS) badField(`entries[${i}].${f}`, `must be a non-empty string of at most ${MAX_LABEL_CHARS} characters`);
}

function badField(field: string, message: string): never {
  throw new ValidationError('invalid_request', [{ field, message }]);
}
