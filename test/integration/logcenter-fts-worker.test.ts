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

/**
 * The worker's gate (LogCenterTestHooks.workerGate): [passes allowed, snapshot seq of the pass waiting]. A pass
 * with rows to index waits at it after taking its snapshot, so a test decides when each real commit happens.
 */
let gate: Int32Array | undefined;
/** Called inside each read's transaction right after its snapshot of the worker's mark (LogCenterTestHooks). */
let inRead: (() => void) | undefined;
function openGated(): LogCenterStore {
  gate = new Int32Array(new SharedArrayBuffer(8));
  return (store = openLogCenter({ file, ftsIndexing: 'worker' }, { workerGate: gate, afterReadSnapshot: () => inRead?.() }));
}
function letOnePass(): void {
  Atomics.add(gate!, 0, 1);
  Atomics.notify(gate!, 0);
}
/**
 * Lets the worker's passes through one by one until one waits at the gate with its snapshot ending at `seq` (the
 * last stored seq: a pass woken by an earlier append may wait with an older one); that one waits on.
 */
async function passWaitingAt(seq: number): Promise<void> {
  for (;;) {
    await until(() => Atomics.load(gate!, 1) > 0);
    const snap = Atomics.load(gate!, 1);
    if (snap === seq) return;
    expect(snap).toBeLessThan(seq);
    letOnePass();
    await until(() => Atomics.load(gate!, 1) !== snap);
  }
}
/** Lets the worker commit every stored row up to `seq` (the last stored), and waits until the store knows. */
async function commitPass(s: LogCenterStore, seq: number): Promise<void> {
  await passWaitingAt(seq);
  letOnePass();
  await until(() => s.stats().indexing.indexedSeq === seq);
}
/** Blocks this thread (a read in progress) until cond holds; the worker thread goes on meanwhile. */
function waitSync(cond: () => boolean, ms = 10_000): void {
  const nap = new Int32Array(new SharedArrayBuffer(4));
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    Atomics.wait(nap, 0, 0, 5);
  }
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'slipway-logcenter-worker-'));
  file = join(dir, 'container-logs.db');
});
afterEach(() => {
  inRead = undefined;
  if (gate) {
    // Open the gate for good, so close() can wait for the worker's last pass.
    Atomics.store(gate, 0, 1 << 30);
    Atomics.notify(gate, 0);
    gate = undefined;
  }
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
  it('finds every stored row exactly once while the worker takes rows over from the pending index, also when it commits in the middle of a read', async () => {
    const s = openGated();
    const total = 4 * INDEX_CHUNK_ROWS;
    const check = (n: number) => {
      const ids = allIds(s, 'w');
      expect(ids.length).toBe(n);
      expect(new Set(ids).size).toBe(n);
    };
    let stored = 0;
    for (let first = 0; first < total; first += 2000) {
      const n = Math.min(2000, total - first);
      s.append({ source: 'a', firstSeq: first + 1, entries: rows(first, n, total) });
      stored += n;
      // Before the worker's commit: the new rows from the pending index only.
      check(stored);
      if ((first / 2000) % 3 !== 0) continue;
      // The worker commits every row stored so far (its pass waits at the gate with that snapshot): after it,
      // the rows come from its index, the pending index starts over; each row still once.
      await commitPass(s, stored);
      check(stored);
      // The worker commits between a read's snapshot and its queries: the read keeps its snapshot's mark, so the
      // rows the commit moved are found once (through the pending index), not twice, in search, context and tail.
      s.append({ source: 'a', firstSeq: stored + 1, entries: rows(stored, 10, total) });
      stored += 10;
      first += 10;
      check(stored);
      const seq = stored;
      await passWaitingAt(seq);
      let committedInRead = 0;
      inRead = () => {
        inRead = undefined;
        const before = worker().mark;
        letOnePass();
        waitSync(() => worker().mark === seq);
        committedInRead = seq - before;
      };
      check(stored);
      expect(committedInRead).toBeGreaterThan(0);
      await until(() => s.stats().indexing.indexedSeq === seq);
      check(stored);
    }
    // The rest: every pass let through.
    Atomics.store(gate!, 0, 1 << 30);
    Atomics.notify(gate!, 0);
    await until(() => worker().mark === stored);
    expect(worker().indexed).toBe(stored);
    check(stored);
    // Context and tail with a commit inside the read, too: one line each side, no repeats.
    s.append({ source: 'a', firstSeq: stored + 1, entries: [entry('w tailed', { ts: T0 + 2 * HOUR - 1 })] });
    Atomics.store(gate!, 0, 0);
    s.append({ source: 'a', firstSeq: stored + 2, entries: [entry('w tailed again', { ts: T0 + 2 * HOUR - 1 })] });
    expect(s.since({ apps: ['shop'], q: 'w' }, String(stored - 1)).map((l) => l.text)).toEqual([`w ${stored - 1}`, 'w tailed', 'w tailed again']);
    await passWaitingAt(stored + 2);
    inRead = () => {
      inRead = undefined;
      letOnePass();
      waitSync(() => worker().mark === stored + 2);
    };
    const hit = s.search({ apps: ['shop'], q: '"w 5000"', context: 1 }).hits[0];
    expect([hit.before?.map((l) => l.text), hit.text, hit.after?.map((l) => l.text)]).toEqual([['w 4999'], 'w 5000', ['w 5001']]);
    expect(worker().mark).toBe(stored + 2);
    expect(s.since({ apps: ['shop'], q: 'tailed' }, String(stored - 1)).map((l) => l.text)).toEqual(['w tailed', 'w tailed again']);
    // The store's own file has no index tables of layout-3 partitions; appends never wrote the index file.
    const raw = new Database(file, { readonly: true });
    expect(raw.prepare("SELECT count(*) FROM sqlite_schema WHERE name GLOB 'f_*'").pluck().get()).toBe(0);
    expect(raw.prepare('SELECT DISTINCT layout FROM partitions').pluck().all()).toEqual([3]);
    raw.close();
  });

  it('starts the pending index over from the worker\u2019s mark when it would hold more than 4 chunks, in memory while the worker is within 4 chunks, else in the spill file', async () => {
    const s = openGated();
    const C = INDEX_CHUNK_ROWS;
    const total = 7 * C;
    const put = (chunk: number) => s.append({ source: 'a', firstSeq: chunk * C + 1, entries: rows(chunk * C, C, total) });
    const check = (n: number) => {
      const ids = allIds(s, 'w');
      expect(ids.length).toBe(n);
      expect(new Set(ids).size).toBe(n);
    };
    // The worker takes its snapshot at 1 chunk and waits at the gate; reads put 4 chunks into the pending index.
    put(0);
    await passWaitingAt(C);
    for (let c = 1; c < 4; c++) put(c);
    check(4 * C);
    expect(s.stats().indexing).toMatchObject({ indexedSeq: 0, pendingIn: 'memory', pendingMemoryRows: 4 * C, pendingRebuilds: 0 });
    // The worker commits its chunk: the pending index still holds the 4 (the first below the read's mark, filtered).
    // Its next pass (woken by the appends meanwhile) takes its snapshot at 4 chunks and waits.
    await commitPass(s, C);
    await passWaitingAt(4 * C);
    put(4);
    // 5 chunks would be pending: it starts over from the worker's mark (1 chunk), 4 chunks behind: in memory.
    check(5 * C);
    expect(s.stats().indexing).toMatchObject({ indexedSeq: C, pendingIn: 'memory', pendingMemoryRows: 4 * C, pendingSpillRows: 0, pendingRebuilds: 1 });
    const memoryBytes = s.stats().indexing.tempBytes;
    // The worker no further: 5 chunks behind, so the pending index goes to the spill file and memory is freed.
    put(5);
    check(6 * C);
    expect(s.stats().indexing).toMatchObject({ indexedSeq: C, pendingIn: 'spill', pendingMemoryRows: 0, pendingSpillRows: 5 * C, pendingRebuilds: 2 });
    expect(s.stats().indexing.tempBytes).toBeLessThan(memoryBytes / 4);
    put(6);
    check(7 * C);
    expect(s.stats().indexing).toMatchObject({ pendingIn: 'spill', pendingSpillRows: 6 * C, pendingRebuilds: 2 });
    // The worker catches up: back within 4 chunks (3 behind), back to memory; then none pending.
    await commitPass(s, 4 * C);
    check(7 * C);
    expect(s.stats().indexing).toMatchObject({ pendingIn: 'memory', pendingMemoryRows: 3 * C, pendingSpillRows: 0, pendingRebuilds: 3 });
    await commitPass(s, 7 * C);
    check(7 * C);
    expect(s.stats().indexing).toMatchObject({ pendingIn: 'memory', pendingMemoryRows: 0, pendingRebuilds: 4 });
    expect(worker()).toEqual({ mark: 7 * C, indexed: 7 * C });
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

  it('close() while the worker is down returns at once; the next open indexes every row once', async () => {
    const errors: string[] = [];
    const s = (store = openLogCenter({ file, ftsIndexing: 'worker', indexLockTimeoutMs: 20, onWorkerError: (m) => errors.push(m) }));
    const locker = new Database(`${file}-fts`);
    locker.exec('BEGIN IMMEDIATE');
    const total = 5 * INDEX_CHUNK_ROWS;
    try {
      s.append({ source: 'a', firstSeq: 1, entries: rows(0, total, total) });
      expect(allIds(s, 'w')).toHaveLength(total);
      expect(s.stats().indexing.pendingIn).toBe('spill');
      await until(() => errors.length >= 1 && !s.stats().indexing.workerRunning);
      // Between a failure and its restart: close() cancels the restart and does not wait for a thread that is gone
      // (waiting for its stop flag would take stop()'s whole 2-minute timeout; the test's timeout would catch that).
      s.close();
      store = undefined;
      expect(existsSync(`${file}-pending`)).toBe(false);
    } finally {
      locker.exec('ROLLBACK');
      locker.close();
    }
    expect(worker().mark).toBe(0);
    const again = open();
    const ids = allIds(again, 'w');
    expect(ids).toHaveLength(total);
    expect(new Set(ids).size).toBe(total);
    await until(() => worker().mark === total);
    expect(worker().indexed).toBe(total);
  }, 60_000);
});
