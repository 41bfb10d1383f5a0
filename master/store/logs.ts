/**
 * Build log chunks and their FTS5 index (logs.db: log_chunks, log_fts, log_index_state). All SQL on those
 * tables lives here; the engine's log store (engine/logs/log-store.ts) and indexer pace and call it.
 *
 * Chunks are stored exactly as the agent sent them (secrets already masked). storeChunks is the hot path of
 * the log pipeline: prepared once, one transaction per batch, no per-line work. It commits on its own, before
 * the caller's control transaction that advances stage_runs.last_seq (see db.ts on why): a chunk replayed
 * after a crash between the two is ignored, never stored twice.
 */
import type { Db } from './db';

export interface StoredChunk {
  seq: number;
  offset: number;
  data: Buffer;
}

export interface NewChunk {
  stageRunId: number;
  seq: number;
  offset: number;
  data: Buffer;
}

export interface LogSearchRow {
  buildId: number;
  job: string;
  /** The job's team (job names are unique per team only). */
  team: string;
  number: number;
  stageRunId: number;
  stage: string;
  content: string;
}

export interface LogsStore {
  /** Stores chunks in one transaction of their own; a (stage run, seq) already stored is left as it is. */
  storeChunks(chunks: readonly NewChunk[], now: number): void;
  /** Chunks of a stage run with seq > afterSeq in seq order, at most `limit` when given. */
  read(stageRunId: number, afterSeq: number, limit?: number): StoredChunk[];
  /**
   * Indexes up to `limit` chunks after the high-water mark in one transaction (text made by toText) and
   * advances the mark; returns how many chunks and bytes it indexed.
   */
  indexBatch(limit: number, toText: (data: Buffer) => string): { chunks: number; bytes: number };
  /** Chunks stored but not yet indexed. */
  indexLag(): number;
  /** The highest chunk id stored (0 when none). */
  newestChunkId(): number;
  /**
   * Newest indexed chunks matching an FTS5 MATCH expression, of builds of the given teams (and of one job, by
   * id), at most `limit`. The expression must come from engine/logs/search.ts (user text never reaches FTS5 syntax).
   */
  search(match: string, teamIds: readonly number[], jobId: number | null, limit: number): LogSearchRow[];
  /** Deletes chunks stored before `before` (they leave the index too); returns how many. */
  deleteOlderThan(before: number): number;
}

const cache = new WeakMap<Db, LogsStore>();

/** The store of this connection (statements prepared once, shared by the engine, routes and retention). */
export function createLogsStore(db: Db): LogsStore {
  let s = cache.get(db);
  if (!s) cache.set(db, (s = create(db)));
  return s;
}

function create(db: Db): LogsStore {
  const insert = db.prepare(
    'INSERT INTO logs.log_chunks (stage_run_id, seq, offset, data, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (stage_run_id, seq) DO NOTHING',
  );
  const store = db.transaction((chunks: readonly NewChunk[], now: number) => {
    for (const c of chunks) insert.run(c.stageRunId, c.seq, c.offset, c.data, now);
  });
  const readAll = db.prepare<[number, number], StoredChunk>('SELECT seq, offset, data FROM logs.log_chunks WHERE stage_run_id = ? AND seq > ? ORDER BY seq');
  const readSome = db.prepare<[number, number, number], StoredChunk>(
    'SELECT seq, offset, data FROM logs.log_chunks WHERE stage_run_id = ? AND seq > ? ORDER BY seq LIMIT ?',
  );
  const lastRowid = db.prepare('SELECT last_rowid FROM logs.log_index_state WHERE id = 1').pluck();
  const pending = db.prepare<[number, number], { id: number; data: Buffer }>('SELECT id, data FROM logs.log_chunks WHERE id > ? ORDER BY id LIMIT ?');
  const lagCount = db.prepare('SELECT count(*) FROM logs.log_chunks WHERE id > ?').pluck();
  const insertFts = db.prepare('INSERT INTO logs.log_fts (rowid, content) VALUES (?, ?)');
  const advance = db.prepare('UPDATE logs.log_index_state SET last_rowid = ? WHERE id = 1');
  const newest = db.prepare('SELECT max(id) FROM logs.log_chunks').pluck();
  const index = db.transaction((limit: number, toText: (data: Buffer) => string) => {
    const rows = pending.all(lastRowid.get() as number, limit);
    let bytes = 0;
    for (const row of rows) {
      bytes += row.data.length;
      insertFts.run(row.id, toText(row.data));
    }
    if (rows.length) advance.run(rows[rows.length - 1].id);
    return { chunks: rows.length, bytes };
  });
  const searchQ = db.prepare<[string, string, number | null, number | null, number], LogSearchRow>(
    `SELECT b.id AS buildId, j.name AS job, t.name AS team, b.number AS number, sr.id AS stageRunId, sr.name AS stage,
            f.content AS content
       FROM logs.log_fts f
       JOIN logs.log_chunks c ON c.id = f.rowid
       JOIN stage_runs sr ON sr.id = c.stage_run_id
       JOIN builds b ON b.id = sr.build_id
       JOIN jobs j ON j.id = b.job_id
       JOIN teams t ON t.id = j.team_id
      WHERE f.log_fts MATCH ?
        AND j.team_id IN (SELECT value FROM json_each(?))
        AND (? IS NULL OR j.id = ?)
      ORDER BY f.rowid DESC
      LIMIT ?`,
  );
  const deleteOld = db.prepare('DELETE FROM logs.log_chunks WHERE created_at < ?');
  return {
    storeChunks: (chunks, now) => store(chunks, now),
    read: (stageRunId, afterSeq, limit) => (limit === undefined ? readAll.all(stageRunId, afterSeq) : readSome.all(stageRunId, afterSeq, limit)),
    indexBatch: (limit, toText) => index(limit, toText),
    indexLag: () => lagCount.get(lastRowid.get()) as number,
    newestChunkId: () => (newest.get() as number | null) ?? 0,
    search: (match, teamIds, jobId, limit) => searchQ.all(match, JSON.stringify(teamIds), jobId, jobId, limit),
    deleteOlderThan: (before) => deleteOld.run(before).changes,
  };
}
