/**
 * An experiment, not product code and not run by `npm run bench` (the name does not end in .bench.ts): how much
 * the log center's ingest would gain from FTS5 indexing on a worker thread (step 2 of the ingest-rate work; the
 * store now does it: master/logcenter/fts-worker.ts, measured in logcenter.bench.ts against inline indexing). Raw better-sqlite3, the store's layout 2 and FTS5 options, 48 time-interleaved
 * sources in 500-entry batches over a day, 2 environments x 24 hours of partitions; per mode, N entries (env N,
 * default 1,000,000, generated first) are stored and indexed, the time ending when every row is indexed:
 * - inline: as the store does now: the commit that reaches 8,192 unindexed rows indexes them (same connection, same file);
 * - worker: the main thread only stores; after each 8,192 rows it posts "index through seq S" with the partitions
 *   to a worker thread whose own connection writes the FTS tables into a second file (it ATTACHes the main file to
 *   read the rows) and commits its mark with them.
 * Order inline, worker, worker, inline; prints both and the ratio of the means (wall). Check: the index has
 * every row of one source. Run: node --import tsx test/bench/logcenter-fts-worker.experiment.ts
 */
import Database from 'better-sqlite3';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
const N = Number(process.env.N ?? 1_000_000);
const HOUR = 3_600_000, DAY0 = Date.UTC(2026, 10, 30), KEY_LOW = 2 ** 20, CHUNK = 8192;
let rnd = 2463534242;
function next() { rnd ^= rnd << 13; rnd ^= rnd >>> 17; rnd ^= rnd << 5; return (rnd >>> 0) / 4294967296; }
const int = (n: number) => Math.floor(next() * n);
const pick = <T,>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)];
const PATHS = ['/api/v1/orders', '/api/v1/cart', '/api/v1/products', '/healthz'];
function text() { const r = next(); if (r < 0.6) return `10.0.${int(255)}.${int(255)} - - "GET ${pick(PATHS)}/${int(100000)} HTTP/1.1" 200 ${int(50000)} ${int(900)}ms "Mozilla/5.0 (X11; Linux x86_64)"`; if (r < 0.85) return `INFO [worker-${int(16)}] processed job ${int(1e7)} for tenant t${int(500)} in ${int(2000)} ms`; if (r < 0.95) return `WARN slow query on orders (${int(5000)} ms): SELECT * FROM orders WHERE customer_id = ${int(1e6)}`; return `ERROR upstream timeout after ${1000 + int(9000)}ms calling inventory-service for order ${int(1e7)}`; }
// 48 sources, 500-entry batches, time-interleaved as in the bench; 2 environments -> partition = (env, hour).
type B = { env: number; rows: { ts: number; lbl: number; text: string }[] };
const batches: B[] = []; const pend = Array.from({ length: 48 }, () => [] as B['rows']);
for (let n = 0; n < N; n++) { const s = int(48); pend[s].push({ ts: DAY0 + Math.floor((n / N) * 24 * HOUR), lbl: s, text: text() }); if (pend[s].length >= 500) { batches.push({ env: s % 4 === 0 ? 0 : 1, rows: pend[s] }); pend[s] = []; } }
const FTS = "text, lbl, content = '', columnsize = 0, tokenize = 'unicode61'";
const open = (f: string) => { const db = new Database(f); db.pragma('page_size = 8192'); db.pragma('journal_mode = WAL'); db.pragma('synchronous = NORMAL'); db.pragma('cache_size = -65536'); db.pragma('busy_timeout = 5000'); return db; };
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.ix); db.pragma('journal_mode = WAL'); db.pragma('synchronous = NORMAL'); db.pragma('cache_size = -65536'); db.pragma('busy_timeout = 5000');
db.exec("ATTACH DATABASE '" + workerData.main + "' AS m");
db.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER)');
const made = new Set(); let indexed = 0; const stmts = new Map();
parentPort.on('message', (msg) => {
  if (msg.stop) { db.close(); parentPort.postMessage({ stopped: true }); return; }
  if (msg.upTo <= indexed) return;
  db.transaction(() => {
    for (const [id, maxSeq] of msg.parts) {
      if (maxSeq <= indexed) continue;
      if (!made.has(id)) { db.exec('CREATE VIRTUAL TABLE IF NOT EXISTS f_' + id + ' USING fts5(' + workerData.fts + ')'); made.add(id); }
      let s = stmts.get(id); if (!s) { s = db.prepare('INSERT INTO f_' + id + ' (rowid, text, lbl) SELECT k, text, \\'l\\' || lbl FROM m.d_' + id + ' WHERE seq > ? AND seq <= ?'); stmts.set(id, s); }
      s.run(indexed, msg.upTo);
    }
    db.prepare("INSERT OR REPLACE INTO meta VALUES ('indexed_seq', ?)").run(msg.upTo);
  })();
  indexed = msg.upTo;
  parentPort.postMessage({ indexed });
});`;
async function run(mode: 'inline' | 'worker') {
  const dir = mkdtempSync(join(tmpdir(), 'proto-')); const main = join(dir, 'a.db'); const ix = join(dir, 'a.ix.db');
  const db = open(main);
  const parts = new Map<string, { id: number; start: number; maxSeq: number; ins?: Database.Statement; idx?: Database.Statement }>();
  let nextId = 1, seq = 1, indexedSeq = 0;
  let worker: Worker | undefined; let done: Promise<void> | undefined; let resolveDone: () => void = () => {};
  let lastSent = 0;
  if (mode === 'worker') { worker = new Worker(WORKER, { eval: true, workerData: { ix, main, fts: FTS, module: createRequire(import.meta.url).resolve('better-sqlite3') } }); worker.on('message', (m) => { if (m.indexed) indexedSeq = m.indexed; if (m.indexed === seq - 1 && resolveDone) resolveDone(); }); }
  const t0 = performance.now(); const c0 = process.cpuUsage();
  const tx = db.transaction((b: B) => {
    for (const r of b.rows) {
      const bucket = Math.floor(r.ts / HOUR); const key = `${b.env}:${bucket}`; let p = parts.get(key);
      if (!p) { p = { id: nextId++, start: bucket * HOUR, maxSeq: 0 }; db.exec(`CREATE TABLE d_${p.id} (seq INTEGER PRIMARY KEY, k INTEGER NOT NULL, lbl INTEGER NOT NULL, text TEXT NOT NULL); CREATE UNIQUE INDEX d_${p.id}_k ON d_${p.id} (k);` + (mode === 'inline' ? `CREATE VIRTUAL TABLE f_${p.id} USING fts5(${FTS});` : '')); p.ins = db.prepare(`INSERT OR IGNORE INTO d_${p.id} (seq, k, lbl, text) VALUES (?, ?, ?, ?)`); if (mode === 'inline') p.idx = db.prepare(`INSERT INTO f_${p.id} (rowid, text, lbl) SELECT k, text, 'l' || lbl FROM d_${p.id} WHERE seq > ? AND seq <= ?`); parts.set(key, p); }
      p.ins!.run(seq, (r.ts - p.start) * KEY_LOW + (seq % KEY_LOW), r.lbl, r.text); p.maxSeq = seq; seq++;
    }
    if (mode === 'inline' && seq - 1 - indexedSeq >= CHUNK) { for (const p of parts.values()) if (p.maxSeq > indexedSeq) p.idx!.run(indexedSeq, seq - 1); indexedSeq = seq - 1; }
  });
  for (const b of batches) {
    tx(b);
    if (worker && seq - 1 - lastSent >= CHUNK) { lastSent = seq - 1; worker.postMessage({ upTo: lastSent, parts: [...parts.values()].filter((p) => p.maxSeq > indexedSeq).map((p) => [p.id, p.maxSeq]) }); await new Promise((r) => setImmediate(r)); }
  }
  if (mode === 'inline') { db.transaction(() => { for (const p of parts.values()) if (p.maxSeq > indexedSeq) p.idx!.run(indexedSeq, seq - 1); })(); }
  else { done = new Promise<void>((r) => (resolveDone = r)); worker!.postMessage({ upTo: seq - 1, parts: [...parts.values()].map((p) => [p.id, p.maxSeq]) }); if (indexedSeq !== seq - 1) await done; }
  const ms = performance.now() - t0; const c = process.cpuUsage(c0);
  if (worker) { worker.postMessage({ stop: true }); await new Promise((r) => worker!.once('message', r)); await worker.terminate(); }
  // Check: every row is in the index (count of rows with the lbl token of source 0 equals rows of source 0).
  db.exec(mode === 'worker' ? `ATTACH DATABASE '${ix}' AS ix` : ''); const pre = mode === 'worker' ? 'ix.' : '';
  let idxCount = 0, rowCount = 0; for (const p of parts.values()) { idxCount += (db.prepare(`SELECT count(*) AS c FROM ${pre}f_${p.id} WHERE f_${p.id} MATCH 'l0'`).get() as { c: number }).c; rowCount += (db.prepare(`SELECT count(*) AS c FROM d_${p.id} WHERE lbl = 0`).get() as { c: number }).c; }
  db.close(); rmSync(dir, { recursive: true, force: true });
  console.log(`${mode}: ${N} entries stored and indexed in ${(ms / 1000).toFixed(2)} s wall: ${Math.round(N / (ms / 1000))}/s; ${Math.round(N / ((c.user + c.system) / 1e6))}/CPU-s (process, both threads); check ${idxCount} == ${rowCount}`);
  return N / (ms / 1000);
}
const r: Record<string, number[]> = { inline: [], worker: [] };
for (const m of ['inline', 'worker', 'worker', 'inline'] as const) r[m].push(await run(m));
const avg = (xs: number[]) => xs.reduce((a, b) => a + b) / xs.length;
console.log(`worker / inline (wall, mean of 2 each): ${(avg(r.worker) / avg(r.inline)).toFixed(2)}x`);
