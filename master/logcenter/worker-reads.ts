/**
 * The read side of worker indexing (layout-3 partitions; the worker itself is fts-worker.ts): the index file and
 * the spill file attached to the store's connection, the pending index of the rows the worker has not indexed
 * yet, and the hand-over between the two.
 *
 * Invariants:
 * - workerSeq is the worker's mark as last reported: every layout-3 row of seq <= it is in the index file.
 * - The pending index of layout-3 partitions holds their rows of seq in (wFrom, wTo]; wFrom is a mark the worker
 *   reported, so it is never above the mark any later read sees.
 * - A read runs in one read transaction (read()): ixSeq, the mark of its snapshot of the index file, splits the
 *   rows: seq <= ixSeq from the index file, the others from the pending index, so a row the worker commits
 *   during the read is found once, not twice or never.
 * - Memory is bounded: the in-memory pending index never holds more than maxPendingRows (store.ts:
 *   MAX_PENDING_ROWS); beyond, it is built in the spill file (page cache of SPILL_CACHE_KIB) until the worker is
 *   back within the bound.
 */
import { rmSync } from 'node:fs';
import type { Partition, PartitionRegistry, PendingWhere, Row } from './partitions';
import type { Db } from './schema';

const SPILL_CACHE_KIB = 4096;

/**
 * Attaches the index file (as `ix`, made if missing) and a new, empty spill file (as `sp`) to the store's
 * connection. The spill file holds only what the pending index would: derived, started empty at every open. No
 * durability needed (synchronous OFF), but a rollback journal, so a failed statement cannot corrupt it.
 */
export function attachIndexFiles(db: Db, file: string): void {
  db.prepare('ATTACH DATABASE ? AS ix').run(`${file}-fts`);
  db.pragma('ix.journal_mode = WAL');
  db.exec("CREATE TABLE IF NOT EXISTS ix.meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL); INSERT OR IGNORE INTO ix.meta (key, value) VALUES ('indexed_seq', 0)");
  removeSpill(file);
  db.prepare('ATTACH DATABASE ? AS sp').run(`${file}-pending`);
  db.pragma('sp.journal_mode = TRUNCATE');
  db.pragma('sp.synchronous = OFF');
  db.pragma(`sp.cache_size = -${SPILL_CACHE_KIB}`);
}

/** Deletes the spill file (after the connection is closed, or before it is attached). */
export function removeSpill(file: string): void {
  for (const suffix of ['-pending', '-pending-journal']) rmSync(`${file}${suffix}`, { force: true });
}

export class WorkerReads {
  /** The worker's mark as last reported. */
  workerSeq: number;
  private wFrom: number;
  private wTo: number;
  /** Ids of the layout-3 partitions whose pending index holds rows. */
  private readonly parts = new Set<number>();
  /** Where the pending index of the current generation (wFrom, wTo] lives: memory, or the spill file. */
  where: PendingWhere = 'temp';
  /** Times the pending index started over from the worker's mark with rows in it. */
  private rebuilds = 0;
  private readonly ixTables = new Set<number>();
  private ixSeq = 0;
  private readonly getIxSeq;
  private readonly hasIxTable;

  constructor(
    private readonly db: Db,
    private readonly partitions: PartitionRegistry,
    private readonly maxPendingRows: number,
    private readonly afterReadSnapshot?: () => void,
  ) {
    this.getIxSeq = db.prepare("SELECT value FROM ix.meta WHERE key = 'indexed_seq'").pluck();
    this.hasIxTable = db.prepare("SELECT 1 FROM ix.sqlite_schema WHERE type = 'table' AND name = ?").pluck();
    this.workerSeq = this.wFrom = this.wTo = this.getIxSeq.get() as number;
  }

  /** The worker committed its mark `seq`. */
  indexed(seq: number): void {
    this.workerSeq = Math.max(this.workerSeq, seq);
  }

  /** Empties the pending index; it starts over from the worker's mark. */
  clear(): void {
    for (const id of this.parts) {
      const p = this.partitions.get(id);
      if (p) this.partitions.stmt(p, 'pendingClear', this.where).run();
    }
    this.parts.clear();
    this.wFrom = this.wTo = this.workerSeq;
  }

  /**
   * Before a read that uses the index: the layout-3 rows of seq in (wTo, last] go into the pending index (the rows
   * at or below a read's mark are filtered out by seq, never found twice). It starts over from the worker's last
   * reported mark once that mark passed every pending row; in memory, also before it would hold more than
   * maxPendingRows (then in the spill file if the worker is still that far behind, else in memory from the
   * mark); in the spill file, once the worker is back within maxPendingRows (back to memory). Throws what
   * SQLite throws (the caller reloads its caches, which clears this).
   */
  prepare(last: number): void {
    const behind = last - this.workerSeq;
    const max = this.maxPendingRows;
    if (this.workerSeq >= this.wTo || (this.where === 'temp' ? last - this.wFrom > max : behind <= max)) {
      if (this.parts.size > 0) this.rebuilds++;
      this.clear();
      this.where = behind > max ? 'sp' : 'temp';
    }
    const from = this.wTo;
    if (from >= last) return;
    for (const p of this.partitions.list()) {
      if (p.layout !== 3 || p.maxSeq <= from) continue;
      this.partitions.stmt(p, 'pendingIndex', this.where).run(from + 1, p.maxSeq);
      this.parts.add(p.id);
    }
    this.wTo = last;
  }

  /**
   * Runs a read in one read transaction: the worker's mark (ixSeq) and index tables are those of one snapshot of
   * the index file, so a row is found in the index file (seq <= ixSeq) or in the pending index (seq > ixSeq).
   */
  read<T>(fn: () => T): T {
    this.db.exec('BEGIN');
    try {
      this.ixSeq = this.getIxSeq.get() as number;
      this.afterReadSnapshot?.();
      return fn();
    } finally {
      this.db.exec('COMMIT');
    }
  }

  /** Whether the layout-3 partition's index table exists (in the running read's snapshot; once made, it stays while the partition lives). */
  hasIndexTable(p: Partition): boolean {
    if (this.ixTables.has(p.id)) return true;
    if (this.hasIxTable.get(`f_${p.id}`) !== 1) return false;
    this.ixTables.add(p.id);
    return true;
  }

  /** Rows of layout-3 partition p matching `expr` (inside read()): rows of seq <= ixSeq from the index file, the others from the pending index. */
  matchRows(p: Partition, order: 'desc' | 'asc', expr: string, lo: number, hi: number, labelsJson: string, limit: number): Row[] {
    const indexed = this.hasIndexTable(p);
    const rows = indexed ? (this.partitions.stmt(p, order === 'desc' ? 'searchMatch' : 'searchMatchAsc').all(expr, lo, hi, labelsJson, limit) as Row[]) : [];
    if (!this.parts.has(p.id)) return rows;
    // Without its table, none of the partition's rows is indexed yet: all of them count from the pending index.
    const after = indexed ? this.ixSeq : 0;
    const pending = this.partitions.stmt(p, order === 'desc' ? 'pendingMatchAfter' : 'pendingMatchAscAfter', this.where).all(expr, lo, hi, labelsJson, after, limit) as Row[];
    if (!pending.length) return rows;
    return [...rows, ...pending].sort(order === 'desc' ? (a, b) => b.k - a.k : (a, b) => a.k - b.k).slice(0, limit);
  }

  stats(): { pendingIn: 'memory' | 'spill'; pendingMemoryRows: number; pendingSpillRows: number; pendingRebuilds: number } {
    const rows = this.wTo - this.wFrom;
    return {
      pendingIn: this.where === 'temp' ? 'memory' : 'spill',
      pendingMemoryRows: this.where === 'temp' ? rows : 0,
      pendingSpillRows: this.where === 'sp' ? rows : 0,
      pendingRebuilds: this.rebuilds,
    };
  }
}
