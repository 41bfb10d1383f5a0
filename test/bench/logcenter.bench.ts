/**
 * The log center's store (master/logcenter) against grep and ripgrep over the same lines as plain files.
 *
 * Generates LOGCENTER_BENCH_LINES (default 10,000,000; LOGCENTER_BENCH_BATCH entries per append, default 500) realistic container log entries over one day: 8 apps
 * in pre (1 instance) and prod (3 instances), access logs, info/debug chatter, slow-query warnings, upstream
 * timeouts (~0.8%) and multi-line stack traces (~0.5%, 6-9 lines each). Every entry goes
 * - into the store through `append`, in agent-sized batches of 500 entries of one source (instance x stream),
 *   in time order as agents would ship them: logcenter_ingest_lines_per_s is entries / time spent in append
 *   (store-side: storing + indexing; generating the lines is not counted), also per CPU second of the
 *   process (logcenter_ingest_lines_per_cpu_s: less distorted when other work shares the CPUs); baseline: the
 *   time writing the same lines into the plain files (logcenter_ingest_vs_plain_write = append / write time);
 * - into plain files, one per instance, each physical line `ISO-timestamp stream text` (as `docker logs -t`).
 * Then the query "keyword `timeout` in one hour" (all 8 apps in scope, newest 100 first):
 * - on the store LOGCENTER_BENCH_QUERIES times (default 200) over rotating hours, after one untimed round over
 *   every hour (statements prepared, as in a running master): logcenter_search_p50_ms / p99_ms;
 * - with grep (`LC_ALL=C grep -i -E '^<day>T13:... .*\btimeout\b'` over all files) and ripgrep (same pattern),
 *   one hour: grep_same_query_ms, ripgrep_same_query_ms (median of 3 runs each). ripgrep is installed with
 *   apt-get when missing, or skipped with the reason printed.
 * Then retention drops 12 partitions (6 hours x 2 environments) with applyRetentionGradually while batches
 * keep being appended: logcenter_retention_max_append_gap_ms is the longest wait between two appends, against
 * logcenter_append_max_gap_baseline_ms, the same appends for 1 s without retention in the same run.
 * Before each append, the batch's texts go through the master's secret masker (4 secrets of the app's deploys,
 * resolved from a real secret store per batch, none in the lines): logcenter_mask_ns_per_entry and its share of
 * the append time (logcenter_mask_share_of_append_pct); not counted in the ingest figure.
 * Then search under ingest: batches of the day's last hour are appended back to back, and after every 4 batches
 * the same query runs on that hour (LOGCENTER_BENCH_UNDER_INGEST_QUERIES times, default 200): its time includes
 * tokenizing the rows appended since the last read into the in-memory pending index (store.ts):
 * logcenter_search_under_ingest_p50_ms / p99_ms, against the quiet p50 / p99 of the same run.
 * The hour's match count of the store (paged through) must equal grep's, so both answer the same query.
 * Then the partition layout in the same run (LOGCENTER_BENCH_AB_LINES, default 1,000,000, pre-generated; stored
 * and indexed into fresh stores of layout 1, 2, 2, 1): logcenter_ingest_layout2_lines_per_cpu_s against the
 * baseline logcenter_ingest_layout1_lines_per_cpu_s (layout 1 is that of schema version 1), and the ratios.
 * Targets: ingest >= 200,000 lines/s; search p50 <= 20 ms, p99 <= 100 ms. On this shared 2-CPU machine
 * the figures are noisy: other work competes for the CPUs during the run.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { JobRecord } from '../../master/context';
import { createAppLogMasker } from '../../master/app-logs/secret-mask';
import { openLogCenter, type ContainerLogEntry } from '../../master/logcenter';
import { SecretStore } from '../../master/secrets/store';
import { openDb } from '../../master/store/db';
import { createTeam } from '../../master/store/teams';
import { reportBench } from '../helpers/bench';
import { percentile, round } from './common';

const LINES = Number(process.env.LOGCENTER_BENCH_LINES ?? 10_000_000);
const QUERIES = Number(process.env.LOGCENTER_BENCH_QUERIES ?? 200);
const BATCH = Number(process.env.LOGCENTER_BENCH_BATCH ?? 500);
/** Entries of the same-run layout comparison (each layout stores them twice). */
const AB_LINES = Number(process.env.LOGCENTER_BENCH_AB_LINES ?? 1_000_000);
const UNDER_INGEST_QUERIES = Number(process.env.LOGCENTER_BENCH_UNDER_INGEST_QUERIES ?? 200);
/** Batches appended between two searches of the search-under-ingest phase (about 48k entries/s of a 10 M-line day's hour). */
const UNDER_INGEST_BATCHES = 4;
const HOUR = 3_600_000;
const DAY0 = Date.UTC(2026, 10, 30);
const QUERY_HOUR = 13;
const APPS = ['shop-web', 'shop-api', 'payments', 'inventory', 'search', 'auth', 'mailer', 'reports'];
const INSTANCES = APPS.flatMap((app) => [
  { app, environment: 'pre', instance: `${app}-pre-1` },
  ...[1, 2, 3].map((n) => ({ app, environment: 'prod', instance: `${app}-prod-${n}` })),
]);

// xorshift32: the same lines on every run.
let rnd = 2463534242;
function next(): number {
  rnd ^= rnd << 13;
  rnd ^= rnd >>> 17;
  rnd ^= rnd << 5;
  return (rnd >>> 0) / 4294967296;
}
const pick = <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)];
const int = (n: number) => Math.floor(next() * n);
const PATHS = ['/api/v1/orders', '/api/v1/cart', '/api/v1/products', '/api/v1/users/me', '/healthz', '/api/v1/search', '/static/app.js'];
const VERBS = ['GET', 'GET', 'GET', 'POST', 'PUT', 'DELETE'];
const CODES = [200, 200, 200, 200, 201, 204, 304, 400, 404, 500];

function entryText(): { text: string; stream: 'stdout' | 'stderr' } {
  const r = next();
  if (r < 0.6) {
    return {
      stream: 'stdout',
      text: `10.0.${int(255)}.${int(255)} - - "${pick(VERBS)} ${pick(PATHS)}/${int(100000)} HTTP/1.1" ${pick(CODES)} ${int(50000)} ${int(900)}ms "Mozilla/5.0 (X11; Linux x86_64)"`,
    };
  }
  if (r < 0.85) return { stream: 'stdout', text: `INFO [worker-${int(16)}] processed job ${int(1e7)} for tenant t${int(500)} in ${int(2000)} ms` };
  if (r < 0.93) return { stream: 'stdout', text: `DEBUG cache hit key=user:${int(1e6)} ttl=${int(3600)} size=${int(8192)}` };
  if (r < 0.98) return { stream: 'stderr', text: `WARN slow query on orders (${int(5000)} ms): SELECT * FROM orders WHERE customer_id = ${int(1e6)}` };
  if (r < 0.988) return { stream: 'stderr', text: `ERROR upstream timeout after ${1000 + int(9000)}ms calling inventory-service for order ${int(1e7)}` };
  if (r < 0.993) {
    const frames = 5 + int(4);
    let text = `ERROR unhandled exception in request ${int(1e7)}\nTypeError: Cannot read properties of undefined (reading 'price')`;
    for (let f = 0; f < frames - 1; f++) text += `\n    at ${pick(['computeTotal', 'applyDiscount', 'handler', 'next', 'Layer.handle'])} (/app/src/${pick(['cart', 'pricing', 'router', 'index'])}.js:${int(400)}:${int(40)})`;
    return { stream: 'stderr', text };
  }
  return { stream: 'stdout', text: `connected to postgres pool size=${int(20)} idle=${int(20)} waiting=${int(5)}` };
}

const dir = mkdtempSync(join(tmpdir(), 'slipway-logcenter-bench-'));
try {
  // The master's ingest masks the secrets of the app's deploys in every batch before append (master/app-logs/
  // secret-mask.ts): the same masker here, with a real secret store (its own control database) and one job that
  // deploys every app with 4 secrets, none of which the lines contain (the common case: the whole scan, no hit).
  const controlDb = openDb(join(dir, 'control'));
  const secretStore = new SecretStore(controlDb, randomBytes(32));
  const teamId = createTeam(controlDb, 'bench').id;
  const secretNames = ['DB_PASSWORD', 'API_TOKEN', 'SMTP_PASSWORD', 'SIGNING_KEY'];
  for (const n of secretNames) secretStore.set(teamId, n, `${n.toLowerCase()}-${randomBytes(12).toString('hex')}`);
  const benchJob = {
    id: 1, name: 'bench', teamId, team: 'bench', yaml: '', source: 'api', filePath: null, enabled: true,
    config: { secrets: secretNames, stages: APPS.map((app) => ({ environment: 'prod', steps: [{ kind: 'deploy', config: { app } }] })) },
  } as unknown as JobRecord;
  const masker = createAppLogMasker({ jobs: { all: () => [benchJob], onChange: () => undefined } as never, secrets: secretStore });
  let maskMs = 0;
  let maskedTexts = 0;
  const ftsIndexing = (process.env.LOGCENTER_BENCH_FTS ?? 'worker') as 'inline' | 'worker';
  const openStore = () =>
    openLogCenter({ file: join(dir, 'container-logs.db'), checkpointIntervalMs: Number(process.env.LOGCENTER_BENCH_CHECKPOINT_MS ?? 1000), ftsIndexing });
  let store = openStore();
  const plainDir = join(dir, 'plain');
  mkdirSync(plainDir);

  // Per instance: its plain file (buffered) and one pending batch per stream (a source each).
  const files = INSTANCES.map((i) => ({ fd: openSync(join(plainDir, `${i.app}.${i.environment}.${i.instance}.log`), 'w'), buf: [] as string[], size: 0 }));
  const pending = INSTANCES.map(() => ({ stdout: [] as ContainerLogEntry[], stderr: [] as ContainerLogEntry[] }));
  const nextSeq = new Map<string, number>();
  let appendMs = 0;
  let appendCpuUs = 0;
  let plainWriteMs = 0;
  let appended = 0;
  let physicalLines = 0;
  const flushFile = (f: (typeof files)[number]) => {
    const t0 = performance.now();
    writeSync(f.fd, f.buf.join(''));
    plainWriteMs += performance.now() - t0;
    f.buf = [];
    f.size = 0;
  };
  const ship = (inst: number, stream: 'stdout' | 'stderr') => {
    const entries = pending[inst][stream];
    if (!entries.length) return;
    const source = `agent-${INSTANCES[inst].environment}/${INSTANCES[inst].instance}/${stream}`;
    const firstSeq = nextSeq.get(source) ?? 1;
    // As the master gets them: parsed from the agent's frame (flat strings, not the generator's concatenations).
    const texts = JSON.parse(JSON.stringify(entries.map((e) => e.text))) as string[];
    const m0 = performance.now();
    const masked = masker.mask(INSTANCES[inst].app, texts);
    maskMs += performance.now() - m0;
    if (masked !== texts) maskedTexts++;
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const r = store.append({ source, firstSeq, entries });
    const c = process.cpuUsage(c0);
    appendMs += performance.now() - t0;
    appendCpuUs += c.user + c.system;
    if (r.stored !== entries.length) throw new Error(`append stored ${r.stored} of ${entries.length}`);
    nextSeq.set(source, firstSeq + entries.length);
    appended += entries.length;
    pending[inst][stream] = [];
  };

  const wall0 = performance.now();
  for (let n = 0; n < LINES; n++) {
    const inst = int(INSTANCES.length);
    const ts = DAY0 + Math.floor((n / LINES) * 24 * HOUR);
    const { text, stream } = entryText();
    const e: ContainerLogEntry = { ...INSTANCES[inst], stream, ts, text };
    pending[inst][stream].push(e);
    const prefix = `${new Date(ts).toISOString()} ${stream} `;
    const f = files[inst];
    for (const physical of text.split('\n')) {
      f.buf.push(prefix, physical, '\n');
      f.size += prefix.length + physical.length + 1;
      physicalLines++;
    }
    if (f.size > 1 << 20) flushFile(f);
    if (pending[inst][stream].length >= BATCH) ship(inst, stream);
  }
  for (let i = 0; i < INSTANCES.length; i++) {
    ship(i, 'stdout');
    ship(i, 'stderr');
    flushFile(files[i]);
    closeSync(files[i].fd);
  }
  {
    // The store indexes rows behind their storing, in chunks (a read only puts the rest into its in-memory
    // pending index); close() indexes what is left into the file. Its time counts as ingest, so the figure
    // covers every entry stored and indexed. The reopened store is what the queries below use.
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    store.close();
    const c = process.cpuUsage(c0);
    appendMs += performance.now() - t0;
    appendCpuUs += c.user + c.system;
    store = openStore();
  }
  const wallS = (performance.now() - wall0) / 1000;
  if (appended !== LINES || store.stats().entries !== LINES) throw new Error(`stored ${store.stats().entries} of ${LINES} entries`);
  const ingestPerS = LINES / (appendMs / 1000);
  if (maskedTexts) throw new Error(`${maskedTexts} batches masked: the generated lines hold no secret`);
  controlDb.close();
  console.log(
    `secret masking at ingest (4 secrets of the app's deploys, resolved per batch, no line holds one): ${round(maskMs / 1000, 2)} s for ` +
      `${LINES} entries, ${round((maskMs * 1e6) / LINES)} ns per entry, ${round((100 * maskMs) / appendMs)}% of the append time`,
  );
  const ingestPerCpuS = LINES / (appendCpuUs / 1e6);
  console.log(
    `ingest: ${LINES} entries (${physicalLines} physical lines) in ${round(appendMs / 1000, 2)} s of append ` +
      `(${round(appendCpuUs / 1e6, 2)} s of CPU: ${Math.round(ingestPerCpuS)} entries per CPU second; ${round(wallS, 1)} s wall with ` +
      `generation and plain files); baseline: writing the same lines as plain files took ${round(plainWriteMs / 1000, 2)} s ` +
      `(store ${round(appendMs / plainWriteMs)}x that)`,
  );

  // Search: keyword `timeout`, one hour, all apps in scope.
  const query = (hour: number) => ({ apps: APPS, q: 'timeout', from: DAY0 + hour * HOUR, to: DAY0 + (hour + 1) * HOUR });
  for (let h = 0; h < 24; h++) store.search(query(h));
  const times: number[] = [];
  let scanned = 0;
  for (let i = 0; i < QUERIES; i++) {
    const q = query(i % 24);
    const t0 = performance.now();
    const page = store.search(q);
    times.push(performance.now() - t0);
    scanned = Math.max(scanned, page.scannedPartitions);
    if (page.hits.length === 0 || (LINES >= 1_000_000 && page.hits.length !== 100)) throw new Error(`hour ${i % 24}: ${page.hits.length} hits`);
  }
  times.sort((a, b) => a - b);

  // The hour's full answer from the store, for the cross-check with grep.
  let storeCount = 0;
  let cursor: string | undefined;
  do {
    const page = store.search({ ...query(QUERY_HOUR), limit: 1000, cursor });
    storeCount += page.hits.length;
    cursor = page.nextCursor;
  } while (cursor);

  // The store's size for the LINES entries (before the phase below adds more).
  const stats = store.stats();

  // Search while ingest runs at full rate: batches of the last hour go in back to back, and after every
  // UNDER_INGEST_BATCHES of them the same keyword query runs on that hour (the worst case: the rows appended
  // since the last read are pending, and the search puts them into the pending index first, so its time
  // includes that work).
  // Baseline: the quiet p50/p99 above, same store, same run.
  const underTimes: number[] = [];
  let underAppendMs = 0;
  let underEntries = 0;
  {
    const liveHour = { apps: APPS, q: 'timeout', from: DAY0 + 23 * HOUR, to: DAY0 + 24 * HOUR };
    const pendingUnder = INSTANCES.map(() => ({ stdout: [] as ContainerLogEntry[], stderr: [] as ContainerLogEntry[] }));
    let batches = 0;
    let n = 0;
    while (underTimes.length < UNDER_INGEST_QUERIES) {
      const inst = int(INSTANCES.length);
      const { text, stream } = entryText();
      const list = pendingUnder[inst][stream];
      list.push({ ...INSTANCES[inst], stream, ts: DAY0 + 23 * HOUR + Math.floor((n++ / (UNDER_INGEST_QUERIES * UNDER_INGEST_BATCHES * BATCH)) * (HOUR - 2000)), text });
      if (list.length < BATCH) continue;
      const source = `agent-${INSTANCES[inst].environment}/${INSTANCES[inst].instance}/${stream}`;
      const firstSeq = nextSeq.get(source) ?? 1;
      const t0 = performance.now();
      store.append({ source, firstSeq, entries: list });
      underAppendMs += performance.now() - t0;
      nextSeq.set(source, firstSeq + list.length);
      underEntries += list.length;
      pendingUnder[inst][stream] = [];
      if (++batches % UNDER_INGEST_BATCHES !== 0) continue;
      const q0 = performance.now();
      const page = store.search(liveHour);
      underTimes.push(performance.now() - q0);
      if (page.hits.length === 0) throw new Error('no hit in the hour being ingested');
    }
  }
  const underSearchMs = underTimes.reduce((a, b) => a + b, 0);
  underTimes.sort((a, b) => a - b);
  const underP50 = percentile(underTimes, 50);
  const underP99 = percentile(underTimes, 99);
  console.log(
    `search under ingest: ${UNDER_INGEST_QUERIES} queries "timeout" in the hour being written, one after every ${UNDER_INGEST_BATCHES} batches of ${BATCH} ` +
      `(${underEntries} entries appended at ${Math.round(underEntries / (underAppendMs / 1000))}/s of append time, ` +
      `${Math.round(underEntries / ((underAppendMs + underSearchMs) / 1000))}/s of append and search time together): p50 ${round(underP50, 2)} ms, p99 ${round(underP99, 2)} ms ` +
      `(quiet store, same run: p50 ${round(percentile(times, 50), 2)} ms, p99 ${round(percentile(times, 99), 2)} ms; ${round(underP50 / percentile(times, 50))}x / ${round(underP99 / percentile(times, 99))}x)`,
  );


  // Retention while ingestion continues: drop the first 6 hours of both environments (12 partitions) with
  // applyRetentionGradually while a 500-entry batch is appended on every turn of the event loop. The
  // longest gap between two appends is what a shipper would feel as a stall.
  // Baseline in the same run: the same appender for 1 s without retention (the gaps the machine alone makes).
  let seq = 1;
  const appendLoop = async (until: () => boolean) => {
    let last = performance.now();
    let maxGap = 0;
    let batches = 0;
    while (!until()) {
      const entries = Array.from({ length: BATCH }, (_, i) => ({ ...INSTANCES[0], stream: 'stdout' as const, ts: DAY0 + 24 * HOUR - 1000 + i, text: `fresh line ${seq + i}` }));
      store.append({ source: 'retention-bench', firstSeq: seq, entries });
      seq += BATCH;
      batches++;
      await new Promise((r) => setImmediate(r));
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
    }
    return { maxGap, batches };
  };
  const b0 = performance.now();
  const baseline = await appendLoop(() => performance.now() - b0 > 1000);
  let running = true;
  const during = appendLoop(() => !running);
  const r0 = performance.now();
  const dropped = await store.applyRetentionGradually({ perEnvironment: {}, default: { maxAgeDays: 1 } }, DAY0 + 30 * HOUR);
  const retentionMs = performance.now() - r0;
  running = false;
  const { maxGap: maxGapMs, batches: retentionAppends } = await during;
  if (dropped.droppedPartitions !== 12) throw new Error(`retention dropped ${dropped.droppedPartitions} partitions, expected 12`);
  console.log(
    `retention: ${dropped.droppedPartitions} partitions (${dropped.droppedEntries} entries) dropped in ${round(retentionMs)} ms while ` +
      `${retentionAppends} batches were appended; longest gap between two appends ${round(maxGapMs, 2)} ms ` +
      `(baseline, appends alone for 1 s: ${round(baseline.maxGap, 2)} ms)`,
  );
  store.close();
  const plainFiles = readdirSync(plainDir).map((f) => join(plainDir, f));
  const plainBytes = plainFiles.reduce((s, f) => s + statSync(f).size, 0);
  const day = new Date(DAY0).toISOString().slice(0, 10);
  const pattern = `^${day}T${String(QUERY_HOUR).padStart(2, '0')}:[^ ]* [a-z]+ .*\\btimeout\\b`;

  const runTool = (cmd: string, args: string[]) => {
    const ms: number[] = [];
    let count = 0;
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      // Output into a pipe (never /dev/null, which lets grep stop at the first match).
      const r = spawnSync(cmd, args, { env: { ...process.env, LC_ALL: 'C' }, maxBuffer: 1 << 30, encoding: 'utf8' });
      ms.push(performance.now() - t0);
      if (r.status !== 0) throw new Error(`${cmd} exited ${r.status}: ${r.stderr}`);
      count = r.stdout.split('\n').filter(Boolean).length;
    }
    return { ms: ms.sort((a, b) => a - b)[1], count };
  };
  const grep = runTool('grep', ['-h', '-i', '-E', pattern, ...plainFiles]);
  if (grep.count !== storeCount) throw new Error(`grep found ${grep.count} lines, the store ${storeCount} entries for the same query`);

  let rgPath = spawnSync('sh', ['-c', 'command -v rg'], { encoding: 'utf8' }).stdout.trim();
  let rgSkip = '';
  if (!rgPath) {
    console.log('ripgrep missing: apt-get install -y ripgrep');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    let r = spawnSync('apt-get', ['install', '-y', '-qq', 'ripgrep'], { env, encoding: 'utf8' });
    if (r.status !== 0) {
      spawnSync('apt-get', ['update', '-qq'], { env });
      r = spawnSync('apt-get', ['install', '-y', '-qq', 'ripgrep'], { env, encoding: 'utf8' });
    }
    rgPath = spawnSync('sh', ['-c', 'command -v rg'], { encoding: 'utf8' }).stdout.trim();
    if (!rgPath) rgSkip = `apt-get install ripgrep failed (exit ${r.status}): ${(r.stderr ?? '').trim().split('\n').pop()}`;
  }
  let rg: { ms: number; count: number } | undefined;
  if (rgPath) {
    rg = runTool(rgPath, ['-i', '-N', '--no-filename', '-e', pattern, plainDir]);
    if (rg.count !== storeCount) throw new Error(`ripgrep found ${rg.count} lines, the store ${storeCount} entries for the same query`);
  } else {
    console.log(`ripgrep skipped: ${rgSkip}`);
  }

  // The partition layout's gain (partitions.ts: layout 2 keyed by seq against layout 1 keyed by k, the layout of
  // schema version 1), in the same run: AB_LINES entries of the same generator, batched as above and generated
  // before the timing, appended (and closed: indexed) into a fresh store of each layout, in the order 1, 2, 2, 1
  // (drift of the machine's load falls on both); figures per CPU second of the process and per second of wall.
  const ab = { 1: { ms: 0, cpuUs: 0 }, 2: { ms: 0, cpuUs: 0 } };
  const ftsAb = { inline: { ms: 0, cpuUs: 0, closeMs: 0 }, worker: { ms: 0, cpuUs: 0, closeMs: 0 } };
  {
    const abBatches: { source: string; firstSeq: number; entries: ContainerLogEntry[] }[] = [];
    const abPending = INSTANCES.map(() => ({ stdout: [] as ContainerLogEntry[], stderr: [] as ContainerLogEntry[] }));
    const abSeq = new Map<string, number>();
    const abShip = (i: number, s: 'stdout' | 'stderr') => {
      const entries = abPending[i][s];
      if (!entries.length) return;
      const source = `ab/${INSTANCES[i].instance}/${s}`;
      const firstSeq = abSeq.get(source) ?? 1;
      abBatches.push({ source, firstSeq, entries: JSON.parse(JSON.stringify(entries)) as ContainerLogEntry[] });
      abSeq.set(source, firstSeq + entries.length);
      abPending[i][s] = [];
    };
    for (let n = 0; n < AB_LINES; n++) {
      const inst = int(INSTANCES.length);
      const { text, stream } = entryText();
      abPending[inst][stream].push({ ...INSTANCES[inst], stream, ts: DAY0 + Math.floor((n / AB_LINES) * 24 * HOUR), text });
      if (abPending[inst][stream].length >= BATCH) abShip(inst, stream);
    }
    for (let i = 0; i < INSTANCES.length; i++) {
      abShip(i, 'stdout');
      abShip(i, 'stderr');
    }
    for (const [round, layout] of ([1, 2, 2, 1] as const).entries()) {
      const abDir = join(dir, `ab-${round}`);
      const abStore = openLogCenter({ file: join(abDir, 'container-logs.db'), partitionLayout: layout });
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      for (const b of abBatches) abStore.append(b);
      abStore.close();
      const c = process.cpuUsage(c0);
      ab[layout].ms += performance.now() - t0;
      ab[layout].cpuUs += c.user + c.system;
      rmSync(abDir, { recursive: true, force: true });
    }
    // FTS indexing inline against on the worker thread (ftsIndexing), the same batches, order inline, worker,
    // worker, inline; the time ends when close() returns, i.e. every entry is stored and indexed (close waits
    // for the worker's last pass). CPU is the process's (both threads).
    for (const [round, mode] of (['inline', 'worker', 'worker', 'inline'] as const).entries()) {
      const abDir = join(dir, `fts-${round}`);
      const abStore = openLogCenter({ file: join(abDir, 'container-logs.db'), ftsIndexing: mode });
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      for (const b of abBatches) abStore.append(b);
      const appendedMs = performance.now() - t0;
      abStore.close();
      const c = process.cpuUsage(c0);
      const ms = performance.now() - t0;
      ftsAb[mode].ms += ms;
      ftsAb[mode].cpuUs += c.user + c.system;
      ftsAb[mode].closeMs += ms - appendedMs;
      rmSync(abDir, { recursive: true, force: true });
    }
  }
  const ftsRate = (m: 'inline' | 'worker') => ({ wall: (2 * AB_LINES) / (ftsAb[m].ms / 1000), cpu: (2 * AB_LINES) / (ftsAb[m].cpuUs / 1e6), closeMs: ftsAb[m].closeMs / 2 });
  const [ftsInline, ftsWorker] = [ftsRate('inline'), ftsRate('worker')];
  console.log(
    `FTS indexing, same run (${AB_LINES} entries stored and indexed, twice each): worker ${Math.round(ftsWorker.wall)}/s wall, ${Math.round(ftsWorker.cpu)}/CPU-s ` +
      `(close waited ${round(ftsWorker.closeMs)} ms for the worker); baseline inline ${Math.round(ftsInline.wall)}/s wall, ${Math.round(ftsInline.cpu)}/CPU-s ` +
      `(close ${round(ftsInline.closeMs)} ms); ${round(ftsWorker.wall / ftsInline.wall, 2)}x wall, ${round(ftsWorker.cpu / ftsInline.cpu, 2)}x per CPU second`,
  );
  const abRate = (l: 1 | 2) => ({ wall: (2 * AB_LINES) / (ab[l].ms / 1000), cpu: (2 * AB_LINES) / (ab[l].cpuUs / 1e6) });
  const [ab1, ab2] = [abRate(1), abRate(2)];
  console.log(
    `partition layout, same run (${AB_LINES} entries stored and indexed, twice each): layout 2 ${Math.round(ab2.cpu)}/CPU-s, ${Math.round(ab2.wall)}/s wall; ` +
      `baseline layout 1 ${Math.round(ab1.cpu)}/CPU-s, ${Math.round(ab1.wall)}/s wall (${round(ab2.cpu / ab1.cpu, 2)}x per CPU second, ${round(ab2.wall / ab1.wall, 2)}x wall)`,
  );

  const p50 = percentile(times, 50);
  const p99 = percentile(times, 99);
  console.log(
    `search "timeout" in one hour (${storeCount} matches in hour ${QUERY_HOUR}, newest 100 returned, up to ${scanned} partitions): ` +
      `p50 ${round(p50, 2)} ms, p99 ${round(p99, 2)} ms; grep ${round(grep.ms)} ms (${round(grep.ms / p50)}x p50)` +
      (rg ? `, ripgrep ${round(rg.ms)} ms (${round(rg.ms / p50)}x p50)` : ''),
  );
  reportBench({
    logcenter_ingest_lines_per_s: Math.round(ingestPerS),
    logcenter_ingest_lines_per_cpu_s: Math.round(ingestPerCpuS),
    logcenter_ingest_vs_plain_write: round(appendMs / plainWriteMs),
    logcenter_search_p50_ms: round(p50, 2),
    logcenter_search_p99_ms: round(p99, 2),
    logcenter_search_under_ingest_p50_ms: round(underP50, 2),
    logcenter_search_under_ingest_p99_ms: round(underP99, 2),
    logcenter_mask_ns_per_entry: round((maskMs * 1e6) / LINES),
    logcenter_mask_share_of_append_pct: round((100 * maskMs) / appendMs, 2),
    grep_same_query_ms: round(grep.ms),
    ...(rg ? { ripgrep_same_query_ms: round(rg.ms), logcenter_search_vs_ripgrep: round(rg.ms / p50) } : {}),
    logcenter_search_vs_grep: round(grep.ms / p50),
    logcenter_retention_max_append_gap_ms: round(maxGapMs, 2),
    logcenter_append_max_gap_baseline_ms: round(baseline.maxGap, 2),
    logcenter_bench_lines: LINES,
    logcenter_ingest_layout2_lines_per_cpu_s: Math.round(ab2.cpu),
    logcenter_ingest_layout1_lines_per_cpu_s: Math.round(ab1.cpu),
    logcenter_ingest_layout2_vs_layout1_cpu: round(ab2.cpu / ab1.cpu, 2),
    logcenter_ingest_layout2_vs_layout1_wall: round(ab2.wall / ab1.wall, 2),
    logcenter_ingest_fts_worker_lines_per_s: Math.round(ftsWorker.wall),
    logcenter_ingest_fts_inline_lines_per_s: Math.round(ftsInline.wall),
    logcenter_ingest_fts_worker_lines_per_cpu_s: Math.round(ftsWorker.cpu),
    logcenter_ingest_fts_inline_lines_per_cpu_s: Math.round(ftsInline.cpu),
    logcenter_ingest_fts_worker_vs_inline_wall: round(ftsWorker.wall / ftsInline.wall, 2),
    logcenter_ingest_fts_worker_vs_inline_cpu: round(ftsWorker.cpu / ftsInline.cpu, 2),
    logcenter_db_mb: round(stats.fileBytes / 1e6),
    logcenter_plain_mb: round(plainBytes / 1e6),
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
