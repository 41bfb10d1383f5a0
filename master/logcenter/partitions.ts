/**
 * The partitions of the log center: one per (environment, time bucket of partitionMs), each a pair of
 * tables named by the partition's id (never by user text):
 * - `d_<id>`: the entries, each with k = (ts - bucket start) * 2^20 + low bits (from the global seq, bumped on
 *   a clash; unique), so key order is time order and a time range is a key range; `seq` (global storing
 *   order, for live tail) and `lbl` (labels id) beside the text. Layout 2 (schema version 2): the table is
 *   keyed by seq (its rowid) with a unique index on k. Every append then writes at the table's end: an agent
 *   batch is one container stream whose lines interleave in time with every other stream's, so keyed by k
 *   (layout 1, schema version 1: k the rowid, an index on seq) each row of a batch landed on another leaf page
 *   and a commit wrote ~2.2 KB per entry to the WAL, ~0.8 KB in layout 2 (only the small k-index entries are
 *   scattered); measured 1.35x the append rate per CPU second (README, log center store). Partitions of an
 *   upgraded version-1 file keep layout 1 (partitions.layout) and its statements.
 * - `f_<id>`: a contentless FTS5 index with rowid = k of two columns: `text`, and `lbl`, the one token
 *   `l<labels id>`. A keyword query with a rowid range and ORDER BY rowid DESC walks only the range, newest
 *   first, and stops at the limit; `{lbl}: (l3 OR l4)` finds one instance's lines (context lines, a few apps'
 *   lines without keywords) the same way. That token costs less at ingest than a B-tree index on (lbl, k)
 *   (measured: about 8% against 25% of the append time).
 * - `temp.p_<id>`: the pending index, an FTS5 table of the same shape in the connection's in-memory temp
 *   database, holding the rows stored but not yet in `f_<id>` that a read needed (see store.ts): a read
 *   never writes the file's index, and the file's index gets only big chunks. `sp.p_<id>`: the same in the
 *   spill file `<file>-pending` (layout 3, when the worker is too far behind for memory: store.ts).
 * The registry keeps the live partitions in memory with their prepared statements (cached per partition).
 */
import type { Statement } from 'better-sqlite3';
import type { Db } from './schema';

export interface Partition {
  id: number;
  environment: string;
  bucket: number;
  /** ms epoch of the bucket's start. */
  start: number;
  entries: number;
  bytes: number;
  maxSeq: number;
  /**
   * 1: `d_<id>` keyed by k with an index on seq (files of schema version 1); 2: keyed by seq with a unique index on k;
   * 3 (schema version 3): the tables of layout 2, with the FTS index `f_<id>` in the index file (attached as `ix`),
   * written by the indexing worker (fts-worker.ts), never by this connection.
   */
  layout: 1 | 2 | 3;
}

export interface Row {
  k: number;
  seq: number;
  lbl: number;
  text: string;
}

/** Statements of one partition, prepared on first use. */
export interface PartitionStatements {
  insert: Statement<[number, number, number, string]>;
  /** INSERT_ROWS rows of (k, seq, lbl, text) in one statement, flattened. */
  insertMany: Statement<[(number | string)[]]>;
  /** (k, seq): 1 when that row is stored. */
  hasRow: Statement<[number, number]>;
  /** (fromSeq, toSeq): indexes the rows stored with seq in [from, to]; one statement per chunk, not per row. */
  index: Statement<[number, number]>;
  /** (match, loKey, hiKey, labelsJson, limit): keys in [lo, hi), newest first. */
  searchMatch: Statement<[string, number, number, string, number]>;
  /** (match, loKey, hiKey, labelsJson, limit): keys in (lo, hi), oldest first. */
  searchMatchAsc: Statement<[string, number, number, string, number]>;
  /** (loKey, hiKey, labelsJson, limit): newest first, walking the key range (for broad label sets). */
  searchScan: Statement<[number, number, string, number]>;
  /** (afterSeq, labelsJson, loKey, hiKey, limit): oldest first. */
  tail: Statement<[number, string, number, number, number]>;
  /** (afterSeq, labelsJson, loKey, hiKey, match, match, limit): oldest first; the match is looked up in both indexes. */
  tailMatch: Statement<[number, string, number, number, string, string, number]>;
  /** (fromSeq, toSeq): puts the rows with seq in [from, to] into the pending index. */
  pendingIndex: Statement<[number, number]>;
  /** Empties the pending index (its rows are in the file's index now). */
  pendingClear: Statement<[]>;
  /** searchMatch on the pending index. */
  pendingMatch: Statement<[string, number, number, string, number]>;
  /** searchMatchAsc on the pending index. */
  pendingMatchAsc: Statement<[string, number, number, string, number]>;
  /** (match, loKey, hiKey, labelsJson, afterSeq, limit): pendingMatch of the rows with seq > afterSeq only (layout 3). */
  pendingMatchAfter: Statement<[string, number, number, string, number, number]>;
  /** (match, loKey, hiKey, labelsJson, afterSeq, limit): pendingMatchAsc of the rows with seq > afterSeq only (layout 3). */
  pendingMatchAscAfter: Statement<[string, number, number, string, number, number]>;
  /** tailMatch through the pending index alone (a layout-3 partition whose index table the worker has not made yet). */
  tailMatchPending: Statement<[number, string, number, number, string, string, number]>;
}

/** Where a pending index lives: the in-memory temp database, or the spill file (attached as `sp`). */
export type PendingWhere = 'temp' | 'sp';

/** The FTS5 options of a partition's index and of its pending index. */
export const FTS_OPTIONS = "text, lbl, content = '', columnsize = 0, tokenize = 'unicode61'";

const LABELS = 'SELECT value FROM json_each(?)';
/** Rows per multi-row INSERT: measured about 0.5 us less per row than one statement run per row. */
export const INSERT_ROWS = 64;

export class PartitionRegistry {
  private readonly live = new Map<string, Partition>();
  private readonly byId = new Map<number, Partition>();
  private readonly statements = new Map<number, Map<string, PartitionStatements[keyof PartitionStatements]>>();

  constructor(
    private readonly db: Db,
    readonly partitionMs: number,
    private readonly newLayout: 1 | 2 | 3 = 2,
    /** Whether the spill file is attached (as `sp`). */
    private readonly spill = false,
  ) {
    this.reload();
  }

  /** Re-reads the live partitions (after a rolled-back transaction left the memory ahead of the file). */
  reload(): void {
    this.live.clear();
    this.byId.clear();
    const rows = this.db
      .prepare("SELECT id, environment, bucket, entries, bytes, max_seq AS maxSeq, layout FROM partitions WHERE state = 'live'")
      .all() as Omit<Partition, 'start'>[];
    for (const r of rows) this.remember({ ...r, start: r.bucket * this.partitionMs });
    for (const id of this.statements.keys()) if (!this.byId.has(id)) this.statements.delete(id);
  }

  private remember(p: Partition): void {
    this.live.set(`${p.environment}\0${p.bucket}`, p);
    this.byId.set(p.id, p);
  }

  list(): Partition[] {
    return [...this.byId.values()];
  }

  get(id: number): Partition | undefined {
    return this.byId.get(id);
  }

  /** The live partition of (environment, bucket), created (tables included) when missing. Call inside a transaction. */
  forEntry(environment: string, bucket: number): Partition {
    const found = this.live.get(`${environment}\0${bucket}`);
    if (found) return found;
    const layout = this.newLayout;
    const id = Number(this.db.prepare('INSERT INTO partitions (environment, bucket, layout) VALUES (?, ?, ?)').run(environment, bucket, layout).lastInsertRowid);
    this.db.exec(`
      ${layout !== 1
        ? `CREATE TABLE d_${id} (seq INTEGER PRIMARY KEY, k INTEGER NOT NULL, lbl INTEGER NOT NULL, text TEXT NOT NULL);
      CREATE UNIQUE INDEX d_${id}_k ON d_${id} (k);`
        : `CREATE TABLE d_${id} (k INTEGER PRIMARY KEY, seq INTEGER NOT NULL, lbl INTEGER NOT NULL, text TEXT NOT NULL);
      CREATE INDEX d_${id}_seq ON d_${id} (seq);`}
      ${layout === 3 ? '' : `CREATE VIRTUAL TABLE f_${id} USING fts5(${FTS_OPTIONS});
      INSERT INTO f_${id} (f_${id}, rank) VALUES ('automerge', 16);`}
    `);
    const p: Partition = { id, environment, bucket, start: bucket * this.partitionMs, entries: 0, bytes: 0, maxSeq: 0, layout };
    this.remember(p);
    return p;
  }

  /** Takes a partition out of the live set (search and append stop using it at once). */
  forget(id: number): void {
    const p = this.byId.get(id);
    if (!p) return;
    this.byId.delete(id);
    this.live.delete(`${p.environment}\0${p.bucket}`);
    this.statements.delete(id);
    this.db.exec(`DROP TABLE IF EXISTS temp.p_${id}`);
    if (this.spill) this.db.exec(`DROP TABLE IF EXISTS sp.p_${id}`);
  }

  /** A partition's statement; `where` places the pending index the pending and tailMatch statements use. */
  stmt<K extends keyof PartitionStatements>(p: Partition, name: K, where: PendingWhere = 'temp'): PartitionStatements[K] {
    let cache = this.statements.get(p.id);
    if (!cache) this.statements.set(p.id, (cache = new Map()));
    const key = where === 'temp' ? name : `${name}@${where}`;
    const found = cache.get(key);
    if (found) return found as PartitionStatements[K];
    const s = this.prepare(p.id, name, where) as PartitionStatements[K];
    cache.set(key, s);
    return s;
  }

  private prepare(id: number, name: keyof PartitionStatements, where: PendingWhere): PartitionStatements[keyof PartitionStatements] {
    const d = `d_${id}`;
    // Storing order: the seq index of a layout-1 partition, the table itself (seq is the rowid) in layout 2
    // (NOT INDEXED keeps the planner off the k index; the rowid range stays usable).
    const bySeq = this.byId.get(id)?.layout === 1 ? `INDEXED BY ${d}_seq` : 'NOT INDEXED';
    const f = `f_${id}`;
    // A layout-3 partition's index is in the index file: named `ix.f_<id>` in FROM, `f_<id>` elsewhere.
    const fFrom = this.byId.get(id)?.layout === 3 ? `ix.${f}` : f;
    const pf = `p_${id}`;
    const ps = `${where}.${pf}`;
    // The pending index lives in memory (temp_store = MEMORY) or in the spill file, made when a statement first needs it.
    if (name.startsWith('pending') || name.startsWith('tailMatch')) this.db.exec(`CREATE VIRTUAL TABLE IF NOT EXISTS ${ps} USING fts5(${FTS_OPTIONS})`);
    const cols = 'd.k AS k, d.seq AS seq, d.lbl AS lbl, d.text AS text';
    const sql: Record<keyof PartitionStatements, string> = {
      insert: `INSERT OR IGNORE INTO ${d} (k, seq, lbl, text) VALUES (?, ?, ?, ?)`,
      insertMany: `INSERT OR IGNORE INTO ${d} (k, seq, lbl, text) VALUES ${Array(INSERT_ROWS).fill('(?, ?, ?, ?)').join(', ')}`,
      hasRow: `SELECT 1 FROM ${d} WHERE k = ? AND seq = ?`,
      // One INSERT ... SELECT per indexed chunk and partition: measured about 15% faster appends than one FTS insert per
      // row from JavaScript (no second copy of each text across the boundary).
      index: `INSERT INTO ${f} (rowid, text, lbl) SELECT k, text, 'l' || lbl FROM ${d} WHERE seq >= ? AND seq <= ?`,
      // CROSS JOIN keeps the FTS table outside, so its rowid order (newest first) is the result order and
      // the LIMIT stops the walk; the labels filter is one lookup per candidate.
      searchMatch: `SELECT ${cols} FROM ${fFrom} CROSS JOIN ${d} d ON d.k = ${f}.rowid
        WHERE ${f} MATCH ? AND ${f}.rowid >= ? AND ${f}.rowid < ? AND d.lbl IN (${LABELS})
        ORDER BY ${f}.rowid DESC LIMIT ?`,
      searchMatchAsc: `SELECT ${cols} FROM ${fFrom} CROSS JOIN ${d} d ON d.k = ${f}.rowid
        WHERE ${f} MATCH ? AND ${f}.rowid > ? AND ${f}.rowid < ? AND d.lbl IN (${LABELS})
        ORDER BY ${f}.rowid ASC LIMIT ?`,
      // `+d.lbl` keeps SQLite on the key (time) order, so the LIMIT stops the walk early.
      searchScan: `SELECT ${cols} FROM ${d} d WHERE d.k >= ? AND d.k < ? AND +d.lbl IN (${LABELS}) ORDER BY d.k DESC LIMIT ?`,
      // Tail reads the newest storing order: the seq index, never a sort of a whole partition.
      tail: `SELECT ${cols} FROM ${d} d ${bySeq} WHERE d.seq > ? AND d.lbl IN (${LABELS}) AND d.k >= ? AND d.k < ? ORDER BY d.seq LIMIT ?`,
      tailMatch: `SELECT ${cols} FROM ${d} d ${bySeq} WHERE d.seq > ? AND d.lbl IN (${LABELS}) AND d.k >= ? AND d.k < ?
        AND d.k IN (SELECT rowid FROM ${fFrom} WHERE ${f} MATCH ? UNION ALL SELECT rowid FROM ${ps} WHERE ${pf} MATCH ?) ORDER BY d.seq LIMIT ?`,
      tailMatchPending: `SELECT ${cols} FROM ${d} d ${bySeq} WHERE d.seq > ? AND d.lbl IN (${LABELS}) AND d.k >= ? AND d.k < ?
        AND d.k IN (SELECT rowid FROM ${ps} WHERE ${pf} MATCH ? UNION ALL SELECT rowid FROM ${ps} WHERE ${pf} MATCH ?) ORDER BY d.seq LIMIT ?`,
      pendingIndex: `INSERT INTO ${ps} (rowid, text, lbl) SELECT k, text, 'l' || lbl FROM ${d} WHERE seq >= ? AND seq <= ?`,
      pendingClear: `INSERT INTO ${ps} (${pf}) VALUES ('delete-all')`,
      pendingMatch: `SELECT ${cols} FROM ${ps} CROSS JOIN ${d} d ON d.k = ${pf}.rowid
        WHERE ${pf} MATCH ? AND ${pf}.rowid >= ? AND ${pf}.rowid < ? AND d.lbl IN (${LABELS})
        ORDER BY ${pf}.rowid DESC LIMIT ?`,
      pendingMatchAsc: `SELECT ${cols} FROM ${ps} CROSS JOIN ${d} d ON d.k = ${pf}.rowid
        WHERE ${pf} MATCH ? AND ${pf}.rowid > ? AND ${pf}.rowid < ? AND d.lbl IN (${LABELS})
        ORDER BY ${pf}.rowid ASC LIMIT ?`,
      pendingMatchAfter: `SELECT ${cols} FROM ${ps} CROSS JOIN ${d} d ON d.k = ${pf}.rowid
        WHERE ${pf} MATCH ? AND ${pf}.rowid >= ? AND ${pf}.rowid < ? AND d.lbl IN (${LABELS}) AND d.seq > ?
        ORDER BY ${pf}.rowid DESC LIMIT ?`,
      pendingMatchAscAfter: `SELECT ${cols} FROM ${ps} CROSS JOIN ${d} d ON d.k = ${pf}.rowid
        WHERE ${pf} MATCH ? AND ${pf}.rowid > ? AND ${pf}.rowid < ? AND d.lbl IN (${LABELS}) AND d.seq > ?
        ORDER BY ${pf}.rowid ASC LIMIT ?`,
    };
    return this.db.prepare(sql[name]) as PartitionStatements[keyof PartitionStatements];
  }
}
