/**
 * Logs and reports in their own file (logs.db) over real SQLite files: a data dir from before the split has its
 * log chunks, search index, reports, test results and findings moved on first start (also after a start that
 * was interrupted half-way), and deleting builds still cascades into logs.db.
 */
import Database from 'better-sqlite3';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LOGS_FILE, openDb, type Db } from '../../master/store/db';
import { logsMigrations } from '../../master/store/logs-migrations';
import { createLogsStore } from '../../master/store/logs';
import { createReportsStore } from '../../master/store/reports';
import { migrations } from '../../master/store/migrations';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A data dir as a master before migration 15 left it: everything in slipway.db, at user_version 14. */
function oldDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'slipway-logsdb-'));
  dirs.push(dir);
  const db = new Database(join(dir, 'slipway.db'));
  db.pragma('journal_mode = WAL');
  for (let v = 0; v < 14; v++) db.exec(migrations[v]);
  db.pragma('user_version = 14');
  db.exec(`
    INSERT INTO teams (id, name, created_at) VALUES (1, 'shop', 0);
    INSERT INTO jobs (id, name, team_id, yaml, source, created_at, updated_at) VALUES (1, 'web', 1, '', 'api', 0, 0);
    INSERT INTO builds (id, job_id, number, status, yaml, created_at) VALUES (1, 1, 1, 'success', '', 0), (2, 1, 2, 'failed', '', 0);
    INSERT INTO stage_runs (id, build_id, stage_index, name, environment, status) VALUES (10, 1, 0, 'build', 'ci', 'success'), (20, 2, 0, 'build', 'ci', 'failed');
    INSERT INTO artifacts (id, build_id, stage_run_id, path, size, sha256, storage_path, created_at) VALUES (5, 2, 20, 'junit.xml', 1, 'x', 'p', 0);
    INSERT INTO reports (id, build_id, stage_run_id, step_index, format, path, artifact_id, status, tests, failures, created_at, findings)
      VALUES (7, 2, 20, 0, 'junit', 'junit.xml', 5, 'parsed', 2, 1, 0, 1);
    INSERT INTO test_results (report_id, suite, name, status) VALUES (7, 's', 'passes', 'passed'), (7, 's', 'breaks', 'failed');
    INSERT INTO findings (report_id, tool, rule_id, level, severity, message, fingerprint, is_new) VALUES (7, 'lint', 'r1', 'error', 'high', 'bad', 'fp', 1);
  `);
  const chunk = db.prepare('INSERT INTO log_chunks (id, stage_run_id, seq, offset, data, created_at) VALUES (?, ?, ?, 0, ?, 0)');
  chunk.run(1, 10, 1, Buffer.from('compiling flamingo\n'));
  chunk.run(2, 20, 1, Buffer.from('npm ERR! pelican\n'));
  chunk.run(3, 20, 2, Buffer.from('not indexed yet: heron\n'));
  // Chunks 1 and 2 were indexed, 3 not yet.
  db.exec("INSERT INTO log_fts (rowid, content) VALUES (1, 'compiling flamingo'), (2, 'npm ERR! pelican'); UPDATE log_index_state SET last_rowid = 2");
  db.close();
  return dir;
}

function tablesOf(db: Db, schema: 'main' | 'logs'): string[] {
  return db.prepare(`SELECT name FROM ${schema}.sqlite_master WHERE type = 'table' ORDER BY name`).pluck().all() as string[];
}

function checkMoved(db: Db): void {
  for (const t of ['log_chunks', 'log_fts', 'log_index_state', 'reports', 'test_results', 'findings']) {
    expect(tablesOf(db, 'main')).not.toContain(t);
    expect(tablesOf(db, 'logs')).toContain(t);
  }
  const logs = createLogsStore(db);
  expect(logs.read(20, 0).map((c) => c.data.toString())).toEqual(['npm ERR! pelican\n', 'not indexed yet: heron\n']);
  expect(logs.indexLag()).toBe(1);
  expect(logs.search('"pelican"', [1], null, 10)).toMatchObject([{ buildId: 2, job: 'web', stageRunId: 20 }]);
  const reports = createReportsStore(db);
  expect(reports.forBuild(2)).toMatchObject([{ id: 7, format: 'junit', tests: 2, failures: 1, artifactId: 5, findings: 1 }]);
  expect(reports.tests(2).map((t) => t.name)).toEqual(['breaks', 'passes']);
}

describe('logs.db', () => {
  it('moves the logs and reports of a single-file data dir into logs.db on first start, once', () => {
    const dir = oldDataDir();
    expect(existsSync(join(dir, LOGS_FILE))).toBe(false);
    const db = openDb(dir);
    expect(existsSync(join(dir, LOGS_FILE))).toBe(true);
    expect(db.pragma('user_version', { simple: true })).toBe(migrations.length);
    expect(db.pragma('logs.user_version', { simple: true })).toBe(logsMigrations.length);
    checkMoved(db);
    db.close();
    // A second start finds nothing to move and the same rows.
    const again = openDb(dir);
    checkMoved(again);
    again.close();
  });

  it('completes a move that an earlier start left half done (the two files commit separately)', () => {
    const dir = oldDataDir();
    // As if logs.db had committed part of the copy while slipway.db had not: main still at 14.
    const half = new Database(join(dir, 'slipway.db'));
    half.prepare('ATTACH DATABASE ? AS logs').run(join(dir, LOGS_FILE));
    for (const m of logsMigrations) half.exec(m);
    half.pragma(`logs.user_version = ${logsMigrations.length}`);
    half.exec(`INSERT INTO logs.log_chunks SELECT * FROM main.log_chunks WHERE id <= 2;
      INSERT INTO logs.log_fts (rowid, content) SELECT rowid, content FROM main.log_fts;
      INSERT INTO logs.reports (id, build_id, stage_run_id, step_index, format, path, status, created_at) VALUES (7, 2, 20, 0, 'junit', 'junit.xml', 'parsed', 0);`);
    half.close();
    const db = openDb(dir);
    checkMoved(db);
    expect(db.prepare('SELECT count(*) FROM logs.log_chunks').pluck().get()).toBe(3);
    expect(db.prepare('SELECT count(*) FROM logs.log_fts').pluck().get()).toBe(2);
    db.close();
  });

  it('deleting a build deletes its chunks (and their index rows), reports, test results and findings in logs.db', () => {
    const db = openDb(oldDataDir());
    createLogsStore(db);
    db.prepare('DELETE FROM builds WHERE id = 2').run();
    expect(db.prepare('SELECT stage_run_id FROM logs.log_chunks').pluck().all()).toEqual([10]);
    expect(db.prepare('SELECT rowid FROM logs.log_fts').pluck().all()).toEqual([1]);
    for (const t of ['reports', 'test_results', 'findings']) expect(db.prepare(`SELECT count(*) FROM logs.${t}`).pluck().get()).toBe(0);
    db.close();
  });

  it('a deleted artifact leaves its report without a file', () => {
    const db = openDb(oldDataDir());
    db.prepare('DELETE FROM artifacts WHERE id = 5').run();
    expect(createReportsStore(db).forBuild(2)).toMatchObject([{ id: 7, artifactId: null }]);
    db.close();
  });
});
