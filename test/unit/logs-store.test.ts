/** Log store, background indexer and search over a real SQLite file in a temp dir. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogStoreOnDb, type LogStore } from '../../master/engine/logs/log-store';
import { matchingLines, queryTerms, searchLogs, toMatchExpression } from '../../master/engine/logs/search';
import { stripAnsi } from '../../master/engine/logs/ansi';
import { openDb, type Db } from '../../master/store/db';
import { createLogsStore } from '../../master/store/logs';

const quietLog = { error: () => undefined };

let dir: string;
let db: Db;
let logs: LogStore;

/** A team with one job, one build and one stage run; returns their ids. */
function seedBuild(team: string, job: string): { teamId: number; jobId: number; buildId: number; stageRunId: number } {
  const now = Date.now();
  const teamId = Number(
    db.prepare('INSERT INTO teams (name, created_at) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET name = name RETURNING id').pluck().get(team, now),
  );
  const jobId = Number(
    db
      .prepare(
        `INSERT INTO jobs (name, team_id, yaml, source, created_at, updated_at) VALUES (?, ?, '', 'api', ?, ?)
         ON CONFLICT(team_id, name) DO UPDATE SET name = name RETURNING id`,
      )
      .pluck()
      .get(job, teamId, now, now),
  );
  const number = Number(db.prepare('SELECT count(*) + 1 FROM builds WHERE job_id = ?').pluck().get(jobId));
  const buildId = Number(
    db.prepare(`INSERT INTO builds (job_id, number, status, yaml, created_at) VALUES (?, ?, 'running', '', ?)`).run(jobId, number, now).lastInsertRowid,
  );
  const stageRunId = Number(
    db
      .prepare(`INSERT INTO stage_runs (build_id, stage_index, name, environment, status) VALUES (?, 0, 'build', 'ci', 'running')`)
      .run(buildId).lastInsertRowid,
  );
  return { teamId, jobId, buildId, stageRunId };
}

function put(stageRunId: number, seq: number, text: string): void {
  logs.storeChunks([{ stageRunId, seq, offset: 0, data: Buffer.from(text) }], Date.now());
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'slipway-logs-'));
  db = openDb(dir);
  logs = createLogStoreOnDb(db, quietLog, { intervalMs: 10, batchChunks: 3 });
});

afterEach(() => {
  logs.stop();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('log store', () => {
  it('reads chunks in seq order, after a given seq', () => {
    const { stageRunId } = seedBuild('shop', 'web');
    put(stageRunId, 2, 'two\n');
    put(stageRunId, 1, 'one\n');
    put(stageRunId, 3, 'three\n');
    expect(logs.read(stageRunId).map((c) => [c.seq, c.data.toString()])).toEqual([
      [1, 'one\n'],
      [2, 'two\n'],
      [3, 'three\n'],
    ]);
    expect(logs.read(stageRunId, 1).map((c) => c.seq)).toEqual([2, 3]);
    expect(logs.read(stageRunId, 0, 2).map((c) => c.seq)).toEqual([1, 2]);
    expect(Buffer.isBuffer(logs.read(stageRunId)[0].data)).toBe(true);
  });

  it('stores a seq of a stage run once: a replayed chunk (stored, but not acknowledged before a crash) is ignored', () => {
    const { stageRunId } = seedBuild('shop', 'web');
    put(stageRunId, 1, 'one\n');
    put(stageRunId, 1, 'one\n');
    put(stageRunId, 2, 'two\n');
    expect(logs.read(stageRunId).map((c) => [c.seq, c.data.toString()])).toEqual([
      [1, 'one\n'],
      [2, 'two\n'],
    ]);
  });
});

describe('indexer', () => {
  it('catches up in the background, in several batches, and search finds a word', async () => {
    const { teamId, stageRunId } = seedBuild('shop', 'web');
    for (let seq = 1; seq <= 10; seq++) put(stageRunId, seq, `line ${seq} compiling module${seq}\n`);
    put(stageRunId, 11, 'npm ERR! missing dependency leftpad\n');
    expect(logs.indexLag()).toBe(11);
    logs.start();
    await expect.poll(() => logs.indexLag(), { timeout: 5000 }).toBe(0);
    const hits = searchLogs(createLogsStore(db), { q: 'leftpad', teamIds: [teamId], limit: 10 });
    expect(hits).toEqual([
      { buildId: expect.any(Number), job: 'web', team: 'shop', number: 1, stageRunId, stage: 'build', lines: ['npm ERR! missing dependency leftpad'] },
    ]);
    expect(searchLogs(createLogsStore(db), { q: 'module7', teamIds: [teamId], limit: 10 })).toHaveLength(1);
  });

  it('stop() indexes what is left', () => {
    const { teamId, stageRunId } = seedBuild('shop', 'web');
    logs.start();
    put(stageRunId, 1, 'finalword\n');
    logs.stop();
    expect(logs.indexLag()).toBe(0);
    expect(searchLogs(createLogsStore(db), { q: 'finalword', teamIds: [teamId], limit: 10 })).toHaveLength(1);
  });

  it('strips ANSI escapes from the index and from hits', () => {
    const { teamId, stageRunId } = seedBuild('shop', 'web');
    put(stageRunId, 1, '\u001b[31mERROR\u001b[0m: \u001b[1mboom\u001b[22m happened\n');
    logs.flushIndex();
    const hits = searchLogs(createLogsStore(db), { q: 'boom', teamIds: [teamId], limit: 10 });
    expect(hits[0].lines).toEqual(['ERROR: boom happened']);
    // "31mERROR" would be a token if the escapes had been indexed.
    expect(searchLogs(createLogsStore(db), { q: '31mERROR', teamIds: [teamId], limit: 10 })).toEqual([]);
    expect(stripAnsi('\u001b]8;;http://x\u0007link\u001b]8;;\u0007 \u001b[2K\u001b[1Gdone')).toBe('link done');
  });

  it('removes deleted chunks (retention, cascades) from the index', () => {
    const { teamId, buildId, stageRunId } = seedBuild('shop', 'web');
    put(stageRunId, 1, 'ephemeral words\n');
    logs.flushIndex();
    expect(searchLogs(createLogsStore(db), { q: 'ephemeral', teamIds: [teamId], limit: 10 })).toHaveLength(1);
    db.prepare('DELETE FROM builds WHERE id = ?').run(buildId);
    expect(db.prepare('SELECT count(*) FROM log_fts').pluck().get()).toBe(0);
  });

  it('indexes chunks that reuse the ids of deleted newest chunks', () => {
    const kept = seedBuild('shop', 'web');
    put(kept.stageRunId, 1, 'oldest words\n');
    const doomed = seedBuild('shop', 'web');
    put(doomed.stageRunId, 1, 'doomed words\n');
    put(doomed.stageRunId, 2, 'doomed more\n');
    logs.flushIndex();
    const doomedIds = db.prepare('SELECT id FROM log_chunks WHERE stage_run_id = ?').pluck().all(doomed.stageRunId);
    db.prepare('DELETE FROM builds WHERE id = ?').run(doomed.buildId);
    const fresh = seedBuild('shop', 'web');
    put(fresh.stageRunId, 1, 'phoenix rises\n');
    // SQLite handed out a deleted id again: the case this guards.
    expect(doomedIds).toContain(db.prepare('SELECT id FROM log_chunks WHERE stage_run_id = ?').pluck().get(fresh.stageRunId));
    logs.flushIndex();
    expect(searchLogs(createLogsStore(db), { q: 'phoenix', teamIds: [fresh.teamId], limit: 10 }).map((h) => h.buildId)).toEqual([fresh.buildId]);
    expect(searchLogs(createLogsStore(db), { q: 'doomed', teamIds: [fresh.teamId], limit: 10 })).toEqual([]);
    expect(logs.indexLag()).toBe(0);
  });
});

describe('search', () => {
  it('quotes every term: FTS syntax in the query neither errors nor widens the match', () => {
    const { teamId, stageRunId } = seedBuild('shop', 'web');
    put(stageRunId, 1, 'foo alone here\n');
    put(stageRunId, 2, 'barbecue only\n');
    put(stageRunId, 3, 'foo or bar together\n');
    logs.flushIndex();
    const search = (q: string) => searchLogs(createLogsStore(db), { q, teamIds: [teamId], limit: 10 }).flatMap((h) => h.lines);
    // As FTS syntax this would match all three chunks; quoted it needs the words foo, or and bar.
    expect(search('foo OR bar*')).toEqual(['foo or bar together']);
    expect(search('NOT foo')).toEqual([]);
    expect(search('"foo')).toEqual(['foo or bar together', 'foo alone here']);
    expect(search('(foo) "alone"')).toEqual(['foo alone here']);
    // AND is a word to find too, not an operator.
    expect(search('(foo) AND "alone"')).toEqual([]);
    expect(search('bar (foo')).toEqual(['foo or bar together']);
    // NEAR(foo is the phrase "near foo", absent from every chunk.
    expect(search('bar NEAR(foo')).toEqual([]);
    expect(search('content:foo')).toEqual([]);
    expect(search('foo*')).toEqual(['foo or bar together', 'foo alone here']);
    expect(toMatchExpression(['a"b', 'c'])).toBe('"a""b" AND "c"');
  });

  it('rejects a query without words, naming q', () => {
    expect(() => queryTerms('  ( * " ')).toThrow(/^q: /);
    expect(() => queryTerms('')).toThrow(/^q: /);
    expect(() => queryTerms('x'.repeat(501))).toThrow(/q: at most 500/);
  });

  it('only finds builds of the teams given, and of the job given', () => {
    const shop = seedBuild('shop', 'web');
    const pay = seedBuild('pay', 'api');
    put(shop.stageRunId, 1, 'shared secretword\n');
    put(pay.stageRunId, 1, 'shared secretword too\n');
    logs.flushIndex();
    const games = seedBuild('games', 'web');
    put(games.stageRunId, 1, 'shared secretword as well\n');
    logs.flushIndex();
    const jobs = (teamIds: number[], jobId?: number) => searchLogs(createLogsStore(db), { q: 'secretword', teamIds, jobId, limit: 10 }).map((h) => `${h.team}/${h.job}`);
    expect(jobs([shop.teamId])).toEqual(['shop/web']);
    expect(jobs([pay.teamId])).toEqual(['pay/api']);
    expect(jobs([])).toEqual([]);
    expect(jobs([shop.teamId, pay.teamId])).toEqual(['pay/api', 'shop/web']);
    // One job, by id: not the other team's job of the same name.
    expect(jobs([shop.teamId, pay.teamId, games.teamId], shop.jobId)).toEqual(['shop/web']);
    expect(jobs([shop.teamId, games.teamId], games.jobId)).toEqual(['games/web']);
    expect(jobs([shop.teamId], pay.jobId)).toEqual([]);
  });

  it('returns at most 5 matching lines per chunk, full matches first', () => {
    const text = ['a x', 'x y', 'b', 'x y again', ...Array.from({ length: 8 }, (_, i) => `y ${i}`)].join('\n');
    expect(matchingLines(text, ['x', 'y'])).toEqual(['x y', 'x y again', 'a x', 'y 0', 'y 1']);
  });
});
