/**
 * The log center's store (master/logcenter) on real SQLite files in temp dirs: exactly-once by high-water
 * mark, multi-line entries, phrase vs keyword, filters, apps scoping (context lines included), paging with
 * a stable cursor while appends continue, context lines, retention while appends continue, and queries full
 * of FTS5 syntax that must neither fail nor escape scoping.
 */
import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { INDEX_CHUNK_ROWS, openLogCenter, planRetention, type ContainerLogEntry, type LogCenterStore, type LogQuery } from '../../master/logcenter';
import { SlipwayError } from '../../shared/errors';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 11, 1, 10, 0, 0); // a bucket start

let dir: string;
let store: LogCenterStore;
const open = () => openLogCenter({ file: join(dir, 'container-logs.db') });

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'slipway-logcenter-'));
  store = open();
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

function entry(text: string, over: Partial<ContainerLogEntry> = {}): ContainerLogEntry {
  return { app: 'shop', environment: 'prod', instance: 'shop-1', stream: 'stdout', ts: T0, text, ...over };
}

/** Appends entries as one source's next batch. */
const seqs = new Map<string, number>();
function put(source: string, entries: ContainerLogEntry[]) {
  const first = (seqs.get(source) ?? 0) + 1;
  seqs.set(source, first + entries.length - 1);
  return store.append({ source, firstSeq: first, entries });
}
beforeEach(() => seqs.clear());

const texts = (q: LogQuery) => store.search(q).hits.map((h) => h.text);

describe('append', () => {
  it('stores a re-sent, overlapping batch exactly once, also after reopening the file', () => {
    const batch = (first: number, n: number) => ({
      source: 'agent-1/c1',
      firstSeq: first,
      entries: Array.from({ length: n }, (_, i) => entry(`line ${first + i}`, { ts: T0 + first + i })),
    });
    expect(store.append(batch(1, 10))).toEqual({ storedThrough: 10, stored: 10, skipped: 0, gap: 0 });
    expect(store.append(batch(1, 10))).toEqual({ storedThrough: 10, stored: 0, skipped: 10, gap: 0 });
    expect(store.append(batch(6, 10))).toEqual({ storedThrough: 15, stored: 5, skipped: 5, gap: 0 });
    store.close();
    store = open();
    expect(store.highWater('agent-1/c1')).toBe(15);
    expect(store.highWater('unknown')).toBe(0);
    expect(store.apps()).toEqual(['shop']);
    expect(store.append(batch(11, 10))).toEqual({ storedThrough: 20, stored: 5, skipped: 5, gap: 0 });
    const all = store.search({ apps: ['shop'], limit: 1000 }).hits.map((h) => h.text);
    expect(all).toEqual(Array.from({ length: 20 }, (_, i) => `line ${20 - i}`));
    expect(store.stats().entries).toBe(20);
    // A gap (lines the agent never sent) is stored and reported, not hidden.
    expect(store.append(batch(30, 1))).toEqual({ storedThrough: 30, stored: 1, skipped: 0, gap: 9 });
  });

  it('refuses a malformed batch naming the field, and stores nothing of it', () => {
    const bad = [entry('ok'), { ...entry('bad'), stream: 'stdin' as 'stdout' }];
    expect(() => store.append({ source: 's', firstSeq: 1, entries: bad })).toThrow(/entries\[1\]\.stream: must be stdout or stderr/);
    expect(() => store.append({ source: 's', firstSeq: 0, entries: [entry('x')] })).toThrow(/firstSeq/);
    expect(() => store.append({ source: 's', firstSeq: 1, entries: [entry('x', { ts: Number.NaN })] })).toThrow(/entries\[0\]\.ts/);
    expect(() => store.append({ source: 's', firstSeq: 1, entries: [entry('x', { app: '' })] })).toThrow(/entries\[0\]\.app/);
    // Labels are checked again whenever they differ from the entry before's.
    expect(() => store.append({ source: 's', firstSeq: 1, entries: [entry('a'), entry('b'), entry('c', { instance: 'x'.repeat(300) })] })).toThrow(/entries\[2\]\.instance/);
    expect(() => store.append({ source: 's', firstSeq: 1, entries: [entry('a'), entry('b', { environment: 7 as unknown as string })] })).toThrow(/entries\[1\]\.environment/);
    expect(store.highWater('s')).toBe(0);
    expect(store.stats().entries).toBe(0);
  });

  it('keeps a multi-line entry (a stack trace) as one hit', () => {
    const trace = 'Error: boom in checkout\n    at pay (/app/pay.js:10:5)\n    at main (/app/main.js:3:1)';
    put('s', [entry('before'), entry(trace, { stream: 'stderr', ts: T0 + 1 }), entry('after', { ts: T0 + 2 })]);
    const hits = store.search({ apps: ['shop'], q: 'pay.js main' }).hits;
    expect(hits).toHaveLength(1);
    expect(hits[0].text).toBe(trace);
    expect(hits[0].stream).toBe('stderr');
  });
});

describe('the file', () => {
  it('takes the next free key when two entries of one millisecond clash', () => {
    put('s', [entry('first')]);
    // The next entry gets seq 2 and key (ts - bucket start) * 2^20 + 2; occupy that key behind the store's back.
    const other = new Database(join(dir, 'container-logs.db'));
    other.prepare("INSERT INTO d_1 (k, seq, lbl, text) VALUES (2, 999, 1, 'squatter')").run();
    other.close();
    expect(put('s', [entry('second')])).toMatchObject({ stored: 1 });
    expect(texts({ apps: ['shop'], q: 'second' })).toEqual(['second']);
    expect(store.search({ apps: ['shop'], q: 'second' }).hits[0].ts).toBe(T0);
  });

  it('takes the next free key for a clash inside a multi-row insert, storing every row of the group once', () => {
    put('s', [entry('first')]);
    // Rows 2..200 go in groups of 64; squat the keys of seqs 10 and 100 (ms 0 and 1), inside the first and second group.
    const other = new Database(join(dir, 'container-logs.db'));
    other.prepare("INSERT INTO d_1 (k, seq, lbl, text) VALUES (10, 9999, 1, 'squatter a'), (?, 9998, 1, 'squatter b')").run(2 ** 20 + 100);
    other.close();
    const rows = Array.from({ length: 199 }, (_, i) => entry(`row ${i + 2}`, { ts: T0 + (i + 2 >= 64 ? 1 : 0) }));
    expect(put('s', rows)).toMatchObject({ stored: 199 });
    const got = store.search({ apps: ['shop'], q: 'row', limit: 1000 }).hits.map((h) => h.text);
    expect(got.sort()).toEqual(rows.map((r) => r.text).sort());
    expect(store.stats().entries).toBe(200);
  });

  it('finishes a partition drop a crash interrupted, at the next open', () => {
    put('s', [entry('old line'), entry('new line', { ts: T0 + 5 * HOUR })]);
    store.close();
    const other = new Database(join(dir, 'container-logs.db'));
    other.prepare("UPDATE partitions SET state = 'dropping' WHERE id = 1").run();
    other.exec('DROP TABLE f_1');
    other.close();
    store = open();
    expect(store.stats()).toMatchObject({ partitions: 1, entries: 1 });
    expect(texts({ apps: ['shop'] })).toEqual(['new line']);
    const check = new Database(join(dir, 'container-logs.db'));
    expect(check.prepare("SELECT name FROM sqlite_schema WHERE name LIKE 'd\\_%' ESCAPE '\\' AND type = 'table'").pluck().all()).toEqual(['d_2']);
    check.close();
  });

  it('opens a schema version 1 file: its partitions keep their layout (search, context, tail), new ones get layout 2', () => {
    // A version-1 file as that master wrote it: layout-1 partitions (keyed by k, seq index), no `layout` column.
    store.close();
    rmSync(join(dir, 'container-logs.db'));
    store = openLogCenter({ file: join(dir, 'container-logs.db'), partitionLayout: 1 });
    put('s', [entry('old timeout one'), entry('old two', { ts: T0 + 1 }), entry('old timeout three', { ts: T0 + 2 })]);
    store.close();
    const v1 = new Database(join(dir, 'container-logs.db'));
    v1.exec('ALTER TABLE partitions DROP COLUMN layout');
    v1.pragma('user_version = 1');
    expect(v1.prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND name = 'd_1_seq'").pluck().get()).toBe('d_1_seq');
    v1.close();
    store = open();
    const after = store.since({ apps: ['shop'] });
    // The old partition takes more rows, and a new hour makes a layout-2 partition.
    put('s', [entry('old timeout four', { ts: T0 + 3 }), entry('new timeout five', { ts: T0 + HOUR })]);
    expect(texts({ apps: ['shop'], q: 'timeout' })).toEqual(['new timeout five', 'old timeout four', 'old timeout three', 'old timeout one']);
    const hit = store.search({ apps: ['shop'], q: 'three', context: 2 }).hits[0];
    expect([hit.before?.map((l) => l.text), hit.after?.map((l) => l.text)]).toEqual([['old timeout one', 'old two'], ['old timeout four', 'new timeout five']]);
    expect(store.since({ apps: ['shop'] }, after[after.length - 1].id).map((l) => l.text)).toEqual(['old timeout four', 'new timeout five']);
    store.close();
    const check = new Database(join(dir, 'container-logs.db'));
    expect(check.pragma('user_version', { simple: true })).toBe(3);
    expect(check.prepare('SELECT id, layout FROM partitions ORDER BY id').all()).toEqual([{ id: 1, layout: 1 }, { id: 2, layout: 2 }]);
    expect(check.prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND name = 'd_2_k'").pluck().get()).toBe('d_2_k');
    check.close();
    store = open();
    expect(store.stats()).toMatchObject({ entries: 5, partitions: 2 });
  });

  it('refuses a partition layout other than 1 or 2, naming the option', () => {
    expect(() => openLogCenter({ file: join(dir, 'other.db'), partitionLayout: 3 as 2 })).toThrow(/partitionLayout: must be 1 or 2/);
  });

  it('refuses a file of a newer schema version, naming the file', () => {
    store.close();
    const other = new Database(join(dir, 'container-logs.db'));
    other.pragma('user_version = 99');
    other.close();
    expect(() => open()).toThrow(/container-logs\.db: log center schema version 99 is newer than this master's 3/);
    const fixed = new Database(join(dir, 'container-logs.db'));
    fixed.pragma('user_version = 3');
    fixed.close();
    store = open();
  });
});

describe('search', () => {
  beforeEach(() => {
    put('a', [
      entry('payment gateway timeout after 30s', { ts: T0 + 1000 }),
      entry('timeout waiting for payment gateway', { ts: T0 + 2000 }),
      entry('GET /api/orders 200', { ts: T0 + 3000, instance: 'shop-2' }),
      entry('disk almost full', { ts: T0 + 4000, stream: 'stderr' }),
    ]);
    put('b', [entry('payment gateway timeout in pre', { environment: 'pre', ts: T0 + 5000 })]);
    put('c', [entry('payment gateway timeout of another team', { app: 'secret-app', ts: T0 + 6000 })]);
    put('d', [entry('payment gateway timeout an hour later', { ts: T0 + HOUR + 10 })]);
  });

  it('matches a "phrase" only in order, keywords anywhere, case-insensitively', () => {
    expect(texts({ apps: ['shop'], q: '"gateway timeout"', environment: 'prod' })).toEqual([
      'payment gateway timeout an hour later',
      'payment gateway timeout after 30s',
    ]);
    expect(texts({ apps: ['shop'], q: 'TIMEOUT Gateway', environment: 'prod' })).toEqual([
      'payment gateway timeout an hour later',
      'timeout waiting for payment gateway',
      'payment gateway timeout after 30s',
    ]);
    expect(texts({ apps: ['shop'], q: 'gateway nosuchword' })).toEqual([]);
  });

  it('filters by app, environment, instance, stream and time range', () => {
    expect(texts({ apps: ['shop'], q: 'timeout', environment: 'pre' })).toEqual(['payment gateway timeout in pre']);
    expect(texts({ apps: ['shop'], instance: 'shop-2' })).toEqual(['GET /api/orders 200']);
    expect(texts({ apps: ['shop'], stream: 'stderr' })).toEqual(['disk almost full']);
    expect(texts({ apps: ['shop'], q: 'timeout', from: T0 + 1500, to: T0 + HOUR })).toEqual([
      'payment gateway timeout in pre',
      'timeout waiting for payment gateway',
    ]);
    // `to` is exclusive, `from` inclusive.
    expect(texts({ apps: ['shop'], from: T0 + 3000, to: T0 + 4000 })).toEqual(['GET /api/orders 200']);
    const page = store.search({ apps: ['shop'], q: 'timeout', from: T0 + HOUR, to: T0 + 2 * HOUR });
    expect(page.hits.map((h) => h.text)).toEqual(['payment gateway timeout an hour later']);
    expect(page.scannedPartitions).toBe(1);
    const hit = page.hits[0];
    expect(hit).toMatchObject({ app: 'shop', environment: 'prod', instance: 'shop-1', stream: 'stdout', ts: T0 + HOUR + 10 });
  });

  it('never shows an app outside `apps`: not as a hit, not in context, not in tail', () => {
    expect(texts({ apps: ['shop'], q: 'another team' })).toEqual([]);
    expect(texts({ apps: [], q: 'timeout' })).toEqual([]);
    expect(texts({ apps: ['secret-app'], q: 'timeout' })).toEqual(['payment gateway timeout of another team']);
    // secret-app's line is in the same environment, instance name and second as shop's: context stays in shop.
    put('c', [entry('secret neighbour', { app: 'secret-app', ts: T0 + 1500 })]);
    const hits = store.search({ apps: ['shop'], q: '"after 30s"', context: 20 }).hits;
    const around = [...(hits[0].before ?? []), ...(hits[0].after ?? [])];
    expect(around.length).toBeGreaterThan(0);
    expect(around.every((l) => l.app === 'shop')).toBe(true);
    expect(store.since({ apps: ['shop'] }).every((l) => l.app === 'shop')).toBe(true);
    expect(store.since({ apps: ['nobody'] })).toEqual([]);
    expect(store.apps()).toEqual(['secret-app', 'shop']);
  });

  it('takes FTS5 syntax as plain words: no error, no escape from scoping', () => {
    const evil = [
      'timeout OR secret',
      'NOT timeout',
      'timeout NEAR(payment gateway, 2)',
      'NEAR(payment gateway)',
      'text:timeout',
      '{text}: timeout',
      '- timeout',
      'time*',
      '^payment',
      '"payment" AND "app"',
      '"" timeout',
      'timeout ) OR (',
      "timeout'; DROP TABLE labels; --",
      'gateway + timeout',
      'lbl:1',
      '*',
    ];
    for (const q of evil) {
      let page;
      try {
        page = store.search({ apps: ['shop'], q });
      } catch (e) {
        // Only a query without any word may be refused, with a clear message.
        expect(q, String(e)).toBe('*');
        expect((e as SlipwayError).code).toBe('invalid_request');
        expect((e as Error).message).toMatch(/^q: give at least one word/);
        continue;
      }
      expect(page.hits.every((h) => h.app === 'shop'), q).toBe(true);
    }
    // The words are taken literally: `time*` is the word "time", which no line holds as a word.
    expect(texts({ apps: ['shop'], q: 'time*' })).toEqual([]);
    // The label column of the index is not reachable from user text.
    expect(texts({ apps: ['shop'], q: 'l1' })).toEqual([]);
    expect(texts({ apps: ['shop'], q: '{lbl}: l1' })).toEqual([]);
    expect(texts({ apps: ['shop'], q: 'lbl:l1 OR timeout' })).toEqual([]);
    // OR is a word to find, not an operator.
    expect(texts({ apps: ['shop'], q: 'timeout OR secret' })).toEqual([]);
    expect(() => store.search({ apps: ['shop'], q: 'say "hello' })).toThrow(/q: unclosed quote at character 5/);
    expect(store.stats().entries).toBe(7);
  });

  it('refuses bad paging and context values naming the field', () => {
    expect(() => store.search({ apps: ['shop'], limit: 1001 })).toThrow(/limit: must be an integer from 1 to 1000/);
    expect(() => store.search({ apps: ['shop'], context: 21 })).toThrow(/context: must be an integer from 0 to 20/);
    expect(() => store.search({ apps: ['shop'], cursor: 'bogus' })).toThrow(/cursor: not a cursor/);
    expect(() => store.search({ apps: ['shop'], from: 10, to: 5 })).toThrow(/from: must be before to/);
  });
});

describe('paging', () => {
  // With keywords (the FTS index), and without: many labels walk the time keys, few read the label index.
  it.each([
    ['keywords', { q: 'request done' }],
    ['all lines, many instances', {}],
    ['all lines, one instance', { instance: 'shop-3' }],
  ])('pages newest first with a cursor that stays stable while appends continue (%s)', (_name, filter) => {
    // 12 instances in 2 environments, over 3 hours, interleaved out of order.
    const all: ContainerLogEntry[] = [];
    for (let i = 0; i < 300; i++) {
      all.push(entry(`request ${i} done`, { ts: T0 + ((i * 7919) % 300) * 36_000, instance: `shop-${i % 12}`, environment: i % 2 ? 'prod' : 'pre' }));
    }
    for (let i = 0; i < 300; i += 50) put(`src-${i}`, all.slice(i, i + 50));
    const expected = all.filter((e) => !('instance' in filter) || e.instance === filter.instance).length;
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = store.search({ apps: ['shop'], ...filter, limit: 7, cursor });
      seen.push(...page.hits.map((h) => `${h.ts}/${h.id}/${h.text}`));
      cursor = page.nextCursor;
      // Appends continue between pages: newer lines, and late lines older than the cursor.
      put('late', [entry(`request late ${pages} done`, { ts: T0 + 4 * HOUR + pages, instance: 'shop-3' }), entry('unrelated', { ts: T0 + 2 * HOUR, instance: 'shop-3' })]);
      pages++;
    } while (cursor);
    // Every original line exactly once, in newest-first order (by ts, then storing order).
    const originals = seen.filter((s) => /\/request \d+ done$/.test(s));
    expect(originals).toHaveLength(expected);
    expect(new Set(seen).size).toBe(seen.length);
    const keys = seen.map((s) => s.split('/').slice(0, 2).map(Number));
    for (let i = 1; i < keys.length; i++) {
      expect(keys[i - 1][0] > keys[i][0] || (keys[i - 1][0] === keys[i][0] && keys[i - 1][1] > keys[i][1])).toBe(true);
    }
    expect(pages).toBeGreaterThanOrEqual(Math.ceil(expected / 7));
  });
});

describe('context lines', () => {
  it('gives the lines of the same instance around a hit, across a partition boundary', () => {
    const lines: ContainerLogEntry[] = [];
    for (let i = 0; i < 10; i++) lines.push(entry(`step ${i}`, { ts: T0 + HOUR - 5000 + i * 1000, stream: i % 2 ? 'stderr' : 'stdout' }));
    lines.push(entry('other instance', { ts: T0 + HOUR - 2500, instance: 'shop-9' }));
    put('s', lines);
    const [hit] = store.search({ apps: ['shop'], q: '"step 5"', context: 3 }).hits;
    expect(hit.text).toBe('step 5');
    expect(hit.ts).toBe(T0 + HOUR);
    expect(hit.before?.map((l) => l.text)).toEqual(['step 2', 'step 3', 'step 4']);
    expect(hit.after?.map((l) => l.text)).toEqual(['step 6', 'step 7', 'step 8']);
    const [first] = store.search({ apps: ['shop'], q: '"step 0"', context: 2 }).hits;
    expect(first.before).toEqual([]);
    expect(first.after?.map((l) => l.text)).toEqual(['step 1', 'step 2']);
  });
});

describe('live tail', () => {
  it('returns entries stored after an id, oldest first, with filters', () => {
    put('s', [entry('one'), entry('two', { ts: T0 + 1 }), entry('three', { ts: T0 + 2, app: 'other' })]);
    const start = store.since({ apps: ['shop'] });
    expect(start.map((l) => l.text)).toEqual(['one', 'two']);
    // A late line (older ts) stored later still comes next: tail follows storing order.
    put('s', [entry('late', { ts: T0 - HOUR }), entry('four error', { ts: T0 + 3 })]);
    const next = store.since({ apps: ['shop'] }, start[start.length - 1].id);
    expect(next.map((l) => l.text)).toEqual(['late', 'four error']);
    expect(store.since({ apps: ['shop'], q: 'error' }, start[1].id).map((l) => l.text)).toEqual(['four error']);
    expect(store.since({ apps: ['shop'] }, next[1].id)).toEqual([]);
    expect(store.since({ apps: ['shop'], limit: 1 }).map((l) => l.text)).toEqual(['four error']);
    expect(() => store.since({ apps: ['shop'] }, 'x1')).toThrow(/afterId/);
  });
});

describe('retention', () => {
  it('plans by age and size per environment, keeping the newest partition', () => {
    const parts = [
      { id: 1, environment: 'ci', start: 0, bytes: 100, entries: 1 },
      { id: 2, environment: 'ci', start: HOUR, bytes: 100, entries: 1 },
      { id: 3, environment: 'ci', start: 2 * HOUR, bytes: 100, entries: 1 },
      { id: 4, environment: 'prod', start: 0, bytes: 1000, entries: 1 },
      { id: 5, environment: 'prod', start: 2 * HOUR, bytes: 1000, entries: 1 },
    ];
    const now = 3 * HOUR;
    expect(planRetention(parts, HOUR, { perEnvironment: { ci: { maxBytes: 250 } } }, now).map((p) => p.id)).toEqual([1]);
    expect(planRetention(parts, HOUR, { perEnvironment: { prod: { maxBytes: 10 } } }, now).map((p) => p.id)).toEqual([4]);
    expect(planRetention(parts, HOUR, { perEnvironment: {}, default: { maxAgeDays: 1 / 24 } }, now).map((p) => p.id)).toEqual([1, 4, 2]);
    expect(planRetention(parts, HOUR, { perEnvironment: { ci: {} }, default: { maxAgeDays: 1 / 24 } }, now).map((p) => p.id)).toEqual([4]);
    expect(() => planRetention(parts, HOUR, { perEnvironment: { ci: { maxAgeDays: -1 } } }, now)).toThrow(/retention.perEnvironment.ci.maxAgeDays/);
  });

  it('drops old partitions of one environment while appends continue, and keeps the rest searchable', async () => {
    const now = T0 + 2 * 24 * HOUR;
    for (let h = 0; h < 12; h++) {
      for (const env of ['ci', 'prod']) {
        // ci's hours hold more rows than one deletion slice (1,000), so a drop takes several steps.
        const n = env === 'ci' ? 2500 : 500;
        put(`${env}-old`, Array.from({ length: n }, (_, i) => entry(`old ${env} hour ${h} line ${i}`, { environment: env, ts: T0 + h * HOUR + i })));
      }
    }
    const before = store.stats();
    expect(before.partitions).toBe(24);
    let appended = 0;
    const failures: string[] = [];
    // Appends of fresh lines on every turn of the event loop while retention runs.
    let running = true;
    const appender = (async () => {
      while (running) {
        try {
          put('fresh', [entry(`fresh ${appended}`, { environment: 'ci', ts: now - 1000 + (appended % 1000) })]);
          appended++;
        } catch (e) {
          failures.push(String(e));
        }
        await new Promise((r) => setImmediate(r));
      }
    })();
    const result = await store.applyRetentionGradually({ perEnvironment: { ci: { maxAgeDays: 1 } } }, now);
    running = false;
    await appender;
    expect(result).toEqual({ droppedPartitions: 12, droppedEntries: 12 * 2500 });
    expect(failures).toEqual([]);
    expect(appended).toBeGreaterThan(12);
    const after = store.stats();
    expect(after.partitions).toBe(13);
    // The dropped partitions' tables are gone from the file, not just hidden.
    const check = new Database(join(dir, 'container-logs.db'), { readonly: true });
    const tables = check.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND (name GLOB 'd_[0-9]*' OR name GLOB 'f_[0-9]*')").pluck().all() as string[];
    check.close();
    expect(tables.filter((t) => /^d_\d+$/.test(t))).toHaveLength(13);
    expect(tables.filter((t) => /^f_\d+$/.test(t))).toHaveLength(13);
    expect(after.entries).toBe(12 * 500 + appended);
    expect(store.search({ apps: ['shop'], q: 'old', environment: 'ci' }).hits).toEqual([]);
    expect(store.search({ apps: ['shop'], q: 'fresh', environment: 'ci', limit: 1000 }).hits).toHaveLength(appended);
    expect(store.search({ apps: ['shop'], q: 'old', environment: 'prod', limit: 1 }).nextCursor).toBeDefined();
    // The synchronous form with a size bound on prod keeps the newest prod partitions under the bound.
    // Retention counts text characters + 32 per entry; the three newest prod partitions are the same size.
    const hourBytes = Array.from({ length: 500 }, (_, i) => `old prod hour 11 line ${i}`.length + 32).reduce((a, b) => a + b);
    const sync = store.applyRetention({ perEnvironment: { prod: { maxBytes: 3 * hourBytes } } }, now);
    expect(sync.droppedPartitions).toBe(9);
    // Reopening the file sees the same state.
    store.close();
    store = open();
    expect(store.stats().partitions).toBe(4);
  });
});

describe('indexing behind the rows', () => {
  /** meta's counters read over a second connection: what is committed in the file. */
  const marks = () => {
    const raw = new Database(join(dir, 'container-logs.db'), { readonly: true });
    const get = (key: string) => raw.prepare('SELECT value FROM meta WHERE key = ?').pluck().get(key) as number;
    const m = { nextSeq: get('next_seq'), indexedSeq: get('indexed_seq') };
    raw.close();
    return m;
  };

  it('finds rows stored but not indexed yet, in search, context and tail, at once, without writing the file', async () => {
    put('s', [entry('alpha one'), entry('beta two', { ts: T0 + 1 }), entry('alpha three', { ts: T0 + 2 })]);
    expect(marks()).toEqual({ nextSeq: 4, indexedSeq: 0 });
    const page = store.search({ apps: ['shop'], q: 'alpha', context: 1 });
    expect(page.hits.map((h) => h.text)).toEqual(['alpha three', 'alpha one']);
    expect(page.hits[0].before?.map((l) => l.text)).toEqual(['beta two']);
    // The read used the in-memory pending index: the file's index is left to the chunks and the quiet timer.
    expect(marks()).toEqual({ nextSeq: 4, indexedSeq: 0 });
    put('s', [entry('alpha four', { ts: T0 + 3 })]);
    expect(store.since({ apps: ['shop'], q: 'alpha' }, page.hits[0].id).map((l) => l.text)).toEqual(['alpha four']);
    expect(store.search({ apps: ['shop'], q: '"alpha four"' }).hits.map((h) => h.text)).toEqual(['alpha four']);
    // Some rows in the file's index, newer ones only in the pending index: a search merges both, newest first.
    const until = Date.now() + 5000;
    while (marks().indexedSeq !== 4 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(marks()).toEqual({ nextSeq: 5, indexedSeq: 4 });
    put('s', [entry('alpha five', { ts: T0 + 4 })]);
    expect(store.search({ apps: ['shop'], q: 'alpha', limit: 3 }).hits.map((h) => h.text)).toEqual(['alpha five', 'alpha four', 'alpha three']);
    expect(store.search({ apps: ['shop'], q: 'alpha four', context: 1 }).hits.map((h) => [h.before?.map((l) => l.text), h.text, h.after?.map((l) => l.text)])).toEqual([
      [['alpha three'], 'alpha four', ['alpha five']],
    ]);
  });

  it('indexes a quiet store on a timer, without a read', async () => {
    put('s', [entry('gamma')]);
    expect(marks().indexedSeq).toBe(0);
    const until = Date.now() + 5000;
    while (marks().indexedSeq !== 1 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(marks()).toEqual({ nextSeq: 2, indexedSeq: 1 });
  });

  it('indexes a chunk in the append that reaches it, across partitions, each row once', () => {
    const n = INDEX_CHUNK_ROWS + 100;
    for (let first = 0; first < n; first += 1000) {
      const count = Math.min(1000, n - first);
      // Two hours: the rows fall into two partitions.
      put('s', Array.from({ length: count }, (_, i) => entry(`delta ${first + i}`, { ts: T0 + Math.floor(((first + i) / n) * 2 * HOUR) })));
      const m = marks();
      if (first + count < INDEX_CHUNK_ROWS) expect(m.indexedSeq).toBe(0);
      else expect(m.indexedSeq).toBeGreaterThanOrEqual(INDEX_CHUNK_ROWS);
    }
    const raw = new Database(join(dir, 'container-logs.db'), { readonly: true });
    const indexed = [1, 2].map((id) => raw.prepare(`SELECT count(*) FROM f_${id} WHERE f_${id} MATCH 'delta'`).pluck().get() as number);
    const m = marks();
    raw.close();
    expect(indexed[0] + indexed[1]).toBe(m.indexedSeq);
    let seen = 0;
    const ids = new Set<string>();
    let cursor: string | undefined;
    do {
      const page = store.search({ apps: ['shop'], q: 'delta', limit: 1000, cursor });
      for (const h of page.hits) ids.add(h.id);
      seen += page.hits.length;
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toBe(n);
    expect(ids.size).toBe(n);
  });

  it('finds a row once when a chunk moves it from the pending index to the file index', () => {
    const all = (q: string) => {
      const ids: string[] = [];
      let cursor: string | undefined;
      do {
        const page = store.search({ apps: ['shop'], q, limit: 1000, cursor });
        ids.push(...page.hits.map((h) => h.id));
        cursor = page.nextCursor;
      } while (cursor);
      return ids;
    };
    put('s', Array.from({ length: 1000 }, (_, i) => entry(`eps ${i}`, { ts: T0 + i })));
    expect(all('eps')).toHaveLength(1000);
    expect(marks().indexedSeq).toBe(0);
    put('s', Array.from({ length: INDEX_CHUNK_ROWS }, (_, i) => entry(`eps late ${i}`, { ts: T0 + 1000 + i })));
    expect(marks().indexedSeq).toBe(1000 + INDEX_CHUNK_ROWS);
    const ids = all('eps');
    expect(ids).toHaveLength(1000 + INDEX_CHUNK_ROWS);
    expect(new Set(ids).size).toBe(1000 + INDEX_CHUNK_ROWS);
    expect(all('"eps late"')).toHaveLength(INDEX_CHUNK_ROWS);
  });

  it('indexes the rows a crash left unindexed at the next open, each once, and skips their re-sent batch', async () => {
    store.close();
    const script = join(dir, 'crash.mts');
    writeFileSync(
      script,
      `import { openLogCenter } from ${JSON.stringify(join(__dirname, '../../master/logcenter/index.ts'))};
       const store = openLogCenter({ file: ${JSON.stringify(join(dir, 'container-logs.db'))}, checkpointIntervalMs: 0 });
       const entries = Array.from({ length: 300 }, (_, i) => ({ app: 'shop', environment: 'prod', instance: 'shop-1', stream: 'stdout', ts: ${T0} + i, text: 'boom ' + i }));
       store.append({ source: 's', firstSeq: 1, entries });
       process.exit(0); // no close: the rows are committed, their index is not`,
    );
    const r = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(marks()).toEqual({ nextSeq: 301, indexedSeq: 0 });
    store = open();
    const hits = store.search({ apps: ['shop'], q: 'boom', limit: 1000 }).hits;
    expect(hits).toHaveLength(300);
    expect(new Set(hits.map((h) => h.id)).size).toBe(300);
    const entries = Array.from({ length: 300 }, (_, i) => entry(`boom ${i}`, { ts: T0 + i }));
    expect(store.append({ source: 's', firstSeq: 1, entries })).toMatchObject({ stored: 0, skipped: 300 });
    expect(store.search({ apps: ['shop'], q: 'boom', limit: 1000 }).hits).toHaveLength(300);
    // Found through the pending index at once; in the file's index shortly after the open, each row once.
    const until = Date.now() + 5000;
    while (marks().indexedSeq !== 300 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(marks()).toEqual({ nextSeq: 301, indexedSeq: 300 });
    const raw = new Database(join(dir, 'container-logs.db'), { readonly: true });
    expect(raw.prepare(`SELECT count(*) FROM f_1 WHERE f_1 MATCH 'boom'`).pluck().get()).toBe(300);
    raw.close();
    expect(store.search({ apps: ['shop'], q: 'boom', limit: 1000 }).hits).toHaveLength(300);
  });
});
