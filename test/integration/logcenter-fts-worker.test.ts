/**
 * The log center with FTS5 indexing on a worker thread (ftsIndexing 'worker': layout-3 partitions indexed into
 * `<file>-fts` by master/logcenter/fts-worker.ts), on real SQLite files: every stored row found exactly once
 * while rows move from the pending index to the worker's index, close() waiting for the worker, a crash
 * (process exit without close, kill -9) re-indexed at the next open, retention dropping both files' tables while
 * appends continue, and a version-2 file whose old partitions stay indexed inline.
 */
import Database from 'better-sqlite3';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { INDEX_CHUNK_ROWS, MAX_PENDING_ROWS, openLogCenter, type ContainerLogEntry, type LogCenterStore } from '../../master/logcenter';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 11, 1, 10, 0, 0);

let dir: string;
let file: string;
let store: LogCenterStore | undefined;
const open = () => (store = openLogCenter({ file, ftsIndexing: 'worker' }));

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'slipway-logcenter-worker-'));
  file = join(dir, 'container-logs.db');
});
afterEach(() => {
  store?.close();
  store = undefined;
  rmSync(dir, { recursive: true, force: true });
});

function entry(text: string, over: Partial<ContainerLogEntry> = {}): ContainerLogEntry {
  return { app: 'shop', environment: 'prod', instance: 'shop-1', stream: 'stdout', ts: T0, text, ...over };
}

/** Every hit's id of a paged search (newest first). */
function allIds(s: LogCenterStore, q: string): string[] {
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const page = s.search({ apps: ['shop'], q, limit: 1000, cursor });
    ids.push(...page.hits.map((h) => h.id));
    cursor = page.nextCursor;
  } while (cursor);
  return ids;
}

/** The worker's committed mark and its index's count of `word`, over a second connection to the index file. */
function worker(word = 'w'): { mark: number; indexed: number } {
  const raw = new Database(`${file}-fts`, { readonly: true });
  try {
    const mark = raw.prepare("SELECT value FROM meta WHERE key = 'indexed_seq'").pluck().get() as number;
    const tables = (raw.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").pluck().all() as string[]).filter((n) => /^f_\d+$/.test(n));
    let indexed = 0;
    for (const t of tables) indexed += raw.prepare(`SELECT count(*) FROM ${t} WHERE ${t} MATCH ?`).pluck().get(word) as number;
    return { mark, indexed };
  } finally {
    raw.close();
  }
}

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** n rows of source `src` from seq `first`, over two hours (two partitions), text `w <i>`. */
function rows(first: number, n: number, total: number): ContainerLogEntry[] {
  return Array.from({ length: n }, (_, j) => entry(`w ${first + j}`, { ts: T0 + Math.floor(((first + j) / total) * 2 * HOUR) }));
}

describe('worker indexing', () => {
  it('finds every stored row exactly once while the worker takes rows over from the pending index', async () => {
    const s = open();
    const total = 4 * INDEX_CHUNK_ROWS;
    let stored = 0;
    for (let first = 0; first < total; first += 2000) {
      const n = Math.min(2000, total - first);
      s.append({ source: 'a', firstSeq: first + 1, entries: rows(first, n, total) });
      stored += n;
      // Let the worker commit now and then, so searches run before, during and after its passes.
      if ((first / 2000) % 3 === 0) await new Promise((r) => setTimeout(r, 30));
      const ids = allIds(s, 'w');
      expect(ids.length).toBe(stored);
      expect(new Set(ids).size).toBe(stored);
    }
    await until(() => worker().mark === total);
    expect(worker().indexed).toBe(total);
    const ids = allIds(s, 'w');
    expect(ids.length).toBe(total);
    expect(new Set(ids).size).toBe(total);
    // Context and tail across both indexes: one line each side, no repeats.
    const hit = s.search({ apps: ['shop'], q: '"w 5000"', context: 1 }).hits[0];
    expect([hit.before?.map((l) => l.text), hit.text, hit.after?.map((l) => l.text)]).toEqual([['w 4999'], 'w 5000', ['w 5001']]);
    s.append({ source: 'a', firstSeq: total + 1, entries: [entry('w tailed', { ts: T0 + 2 * HOUR - 1 })] });
    expect(s.since({ apps: ['shop'], q: 'w' }, String(total - 1)).map((l) => l.text)).toEqual([`w ${total - 1}`, 'w tailed']);
    // The store's own file has no index tables of layout-3 partitions; appends never wrote the index file.
    const raw = new Database(file, { readonly: true });
    expect(raw.prepare("SELECT count(*) FROM sqlite_schema WHERE name GLOB 'f_*'").pluck().get()).toBe(0);
    expect(raw.prepare('SELECT DISTINCT layout FROM partitions').pluck().all()).toEqual([3]);
    raw.close();
  });

  it('close() waits for the worker: every row is indexed and the files can go at once', () => {
    const s = open();
    s.append({ source: 'a', firstSeq: 1, entries: rows(0, 3000, 3000) });
    s.close();
    store = undefined;
    expect(worker()).toEqual({ mark: 3000, indexed: 3000 });
    rmSync(dir, { recursive: true, force: true });
    expect(existsSync(`${file}-fts`)).toBe(false);
  });

  it('indexes at the next open what a process exit without close left unindexed, each row once, and skips the re-sent batch', async () => {
    // More than the worker's 4 chunks per pass: the catch-up at the next open takes several passes.
    const total = 5 * INDEX_CHUNK_ROWS + 300;
    const script = join(dir, 'crash.mts');
    writeFileSync(
      script,
      `import { openLogCenter } from ${JSON.stringify(join(__dirname, '../../master/logcenter/index.ts'))};
       const store = openLogCenter({ file: ${JSON.stringify(file)}, ftsIndexing: 'worker', checkpointIntervalMs: 0 });
       const entries = Array.from({ length: ${total} }, (_, i) => ({ app: 'shop', environment: 'prod', instance: 'shop-1', stream: 'stdout', ts: ${T0} + i, text: 'w boom ' + i }));
       store.append({ source: 's', firstSeq: 1, entries });
       process.exit(0); // no close: the rows are committed, the worker has not indexed them`,
    );
    const r = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(worker().mark).toBeLessThan(total);
    const s = open();
    const ids = allIds(s, 'boom');
    expect(ids).toHaveLength(total);
    expect(new Set(ids).size).toBe(total);
    expect(s.append({ source: 's', firstSeq: 1, entries: Array.from({ length: total }, (_, i) => entry(`w boom ${i}`, { ts: T0 + i })) })).toMatchObject({ stored: 0, skipped: total });
    await until(() => worker().mark === total);
    expect(worker('boom')).toEqual({ mark: total, indexed: total });
    const again = allIds(s, 'boom');
    expect(again).toHaveLength(total);
    expect(new Set(again).size).toBe(total);
  });

  it('indexes at the next open what a kill -9 during ingest left unindexed, each stored row once', async () => {
    const script = join(dir, 'kill.mts');
    writeFileSync(
      script,
      `import { openLogCenter } from ${JSON.stringify(join(__dirname, '../../master/logcenter/index.ts'))};
       const store = openLogCenter({ file: ${JSON.stringify(file)}, ftsIndexing: 'worker', checkpointIntervalMs: 0 });
       let seq = 1;
       for (;;) {
         const entries = Array.from({ length: 500 }, (_, i) => ({ app: 'shop', environment: 'prod', instance: 'shop-1', stream: 'stdout', ts: ${T0} + ((seq + i) % ${HOUR}), text: 'w ' + (seq + i) }));
         store.append({ source: 's', firstSeq: seq, entries });
         seq += 500;
         if (seq > 3 * ${INDEX_CHUNK_ROWS}) process.stdout.write('ready\\n');
         await new Promise((r) => setImmediate(r));
       }`,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve()));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const raw = new Database(file, { readonly: true });
    const stored = (raw.prepare("SELECT value FROM meta WHERE key = 'next_seq'").pluck().get() as number) - 1;
    raw.close();
    expect(stored).toBeGreaterThan(3 * INDEX_CHUNK_ROWS);
    const s = open();
    const ids = allIds(s, 'w');
    expect(ids).toHaveLength(stored);
    expect(new Set(ids).size).toBe(stored);
    await until(() => worker().mark === stored);
    expect(worker().indexed).toBe(stored);
    expect(s.highWater('s')).toBe(stored);
  });

  it('retention drops both files\u2019 tables of a partition while appends continue; the rest stays searchable', async () => {
    const s = open();
    // Hour 0 and hour 1 of prod; then drop hour 0 while hour 1 keeps receiving.
    s.append({ source: 'a', firstSeq: 1, entries: Array.from({ length: 2000 }, (_, i) => entry(`w old ${i}`, { ts: T0 + i })) });
    s.close();
    open();
    await until(() => worker().mark === 2000);
    const s2 = store!;
    let seq = 0;
    const appending = (async () => {
      for (let b = 0; b < 20; b++) {
        s2.append({ source: 'b', firstSeq: seq + 1, entries: Array.from({ length: 500 }, (_, i) => entry(`w new ${seq + i}`, { ts: T0 + HOUR + seq + i })) });
        seq += 500;
        await new Promise((r) => setImmediate(r));
      }
    })();
    const dropped = await s2.applyRetentionGradually({ perEnvironment: { prod: { maxAgeDays: 1 } } }, T0 + HOUR + 86_400_000);
    await appending;
    expect(dropped.droppedPartitions).toBe(1);
    expect(allIds(s2, 'old')).toHaveLength(0);
    expect(allIds(s2, 'new')).toHaveLength(10_000);
    await until(() => {
      const raw = new Database(`${file}-fts`, { readonly: true });
      const n = raw.prepare("SELECT count(*) FROM sqlite_schema WHERE name = 'f_1'").pluck().get() as number;
      raw.close();
      return n === 0;
    });
    const raw = new Database(file, { readonly: true });
    expect(raw.prepare("SELECT count(*) FROM sqlite_schema WHERE name = 'd_1'").pluck().get()).toBe(0);
    raw.close();
  });

  it('opens a version-2 file: its partitions stay indexed inline, new ones go to the worker, search finds both once', async () => {
    const v2 = openLogCenter({ file });
    v2.append({ source: 'a', firstSeq: 1, entries: [entry('w legacy one'), entry('w legacy two', { ts: T0 + 1 })] });
    v2.close();
    const raw0 = new Database(file);
    raw0.pragma('user_version = 2');
    raw0.close();
    const s = open();
    s.append({ source: 'a', firstSeq: 3, entries: [entry('w legacy three', { ts: T0 + 2 }), entry('w fresh', { ts: T0 + HOUR })] });
    expect(s.search({ apps: ['shop'], q: 'w', limit: 10 }).hits.map((h) => h.text)).toEqual(['w fresh', 'w legacy three', 'w legacy two', 'w legacy one']);
    s.close();
    store = undefined;
    const raw = new Database(file, { readonly: true });
    expect(raw.pragma('user_version', { simple: true })).toBe(3);
    expect(raw.prepare('SELECT id, layout FROM partitions ORDER BY id').all()).toEqual([
      { id: 1, layout: 2 },
      { id: 2, layout: 3 },
    ]);
    expect(raw.prepare("SELECT count(*) FROM f_1 WHERE f_1 MATCH 'legacy'").pluck().get()).toBe(3);
    raw.close();
    expect(worker()).toEqual({ mark: 4, indexed: 1 });
    // A file with worker-indexed partitions refuses an inline open, naming the option.
    expect(() => openLogCenter({ file })).toThrow(/ftsIndexing/);
    const again = open();
    expect(allIds(again, 'w')).toHaveLength(4);
  });
});

describe('a worker that keeps failing', () => {
  it('(its index file locked by another connection) stops neither ingest nor search, keeps memory bounded, is restarted with backoff and catches up', async () => {
    const errors: string[] = [];
    const s = (store = openLogCenter({ file, ftsIndexing: 'worker', indexLockTimeoutMs: 20, onWorkerError: (m) => errors.push(m) }));
    // The real cause: another connection (a backup, an admin's sqlite3 shell) holds the index file's write lock,
    // so every pass of the worker fails with SQLITE_BUSY.
    const locker = new Database(`${file}-fts`);
    locker.exec('BEGIN IMMEDIATE');
    try {
      const chunks = MAX_PENDING_ROWS / INDEX_CHUNK_ROWS + 3;
      const total = chunks * INDEX_CHUNK_ROWS;
      let perChunkBytes = 0;
      for (let c = 0; c < chunks; c++) {
        const first = c * INDEX_CHUNK_ROWS;
        // Ingest goes on: appends never touch the index file.
        expect(s.append({ source: 'a', firstSeq: first + 1, entries: rows(first, INDEX_CHUNK_ROWS, total) }).stored).toBe(INDEX_CHUNK_ROWS);
        // The chunk just stored is found whole (its own word), at once.
        expect(allIds(s, `"w ${first + INDEX_CHUNK_ROWS - 1}"`)).toEqual([String(first + INDEX_CHUNK_ROWS)]);
        const ix = s.stats().indexing;
        expect(ix.indexedSeq).toBe(0);
        if (c === 0) perChunkBytes = ix.tempBytes;
        // Memory: at most MAX_PENDING_ROWS rows in the in-memory pending index, then the spill file takes over.
        expect(ix.pendingMemoryRows).toBeLessThanOrEqual(MAX_PENDING_ROWS);
        expect(ix.tempBytes).toBeLessThanOrEqual(perChunkBytes * (MAX_PENDING_ROWS / INDEX_CHUNK_ROWS) * 1.1);
        expect(ix.pendingIn).toBe((c + 1) * INDEX_CHUNK_ROWS > MAX_PENDING_ROWS ? 'spill' : 'memory');
        if (ix.pendingIn === 'spill') expect(ix.pendingSpillRows).toBe((c + 1) * INDEX_CHUNK_ROWS);
      }
      expect(perChunkBytes).toBeGreaterThan(0);
      // Every stored row, once, with the worker down.
      const ids = allIds(s, 'w');
      expect(ids.length).toBe(total);
      expect(new Set(ids).size).toBe(total);
      const hit = s.search({ apps: ['shop'], q: '"w 40000"', context: 1 }).hits[0];
      expect([hit.before?.map((l) => l.text), hit.text, hit.after?.map((l) => l.text)]).toEqual([['w 39999'], 'w 40000', ['w 40001']]);
      expect(s.since({ apps: ['shop'], q: 'w' }, String(total - 1)).map((l) => l.text)).toEqual([`w ${total - 1}`]);
      // Each failure is told once, with its count in a row and the (doubling) delay before the restart.
      await until(() => errors.length >= 3, 20_000);
      expect(errors[0]).toMatch(/^indexing worker failed \(1 in a row; restarting it in 200 ms\): .*database is locked/);
      expect(errors[1]).toMatch(/^indexing worker failed \(2 in a row; restarting it in 400 ms\)/);
      expect(errors[2]).toMatch(/^indexing worker failed \(3 in a row; restarting it in 800 ms\)/);
      expect(s.stats().indexing.workerRestarts).toBeGreaterThanOrEqual(2);
      expect(worker().mark).toBe(0);
    } finally {
      locker.exec('ROLLBACK');
      locker.close();
    }
    // The cause removed: the next restart indexes everything, with no append or read to wake it.
    const total = (MAX_PENDING_ROWS / INDEX_CHUNK_ROWS + 3) * INDEX_CHUNK_ROWS;
    await until(() => worker().mark === total, 30_000);
    expect(worker().indexed).toBe(total);
    await until(() => s.stats().indexing.indexedSeq === total);
    expect(s.stats().indexing).toMatchObject({ workerFailures: 0, workerRunning: true });
    // Reads drop the spill and find every row once through the worker's index.
    const ids = allIds(s, 'w');
    expect(ids.length).toBe(total);
    expect(new Set(ids).size).toBe(total);
    expect(s.stats().indexing).toMatchObject({ pendingIn: 'memory', pendingMemoryRows: 0, pendingSpillRows: 0 });
    s.close();
    store = undefined;
    expect(existsSync(`${file}-pending`)).toBe(false);
  }, 90_000);
});
