/**
 * Migration 14 over a real SQLite file: a data dir written before end reasons were columns (stops told apart
 * by builds.error prefixes) gets end_reason / stop_requested filled in from those prefixes on first start.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDb } from '../../master/store/db';
import { migrations } from '../../master/store/migrations';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('migration 14: end reasons', () => {
  it('backfills end_reason and stop_requested of existing builds and stage runs from the old error prefixes', () => {
    dir = mkdtempSync(join(tmpdir(), 'slipway-end-'));
    const old = new Database(join(dir, 'slipway.db'));
    for (let v = 0; v < 13; v++) old.exec(migrations[v]);
    old.pragma('user_version = 13');
    old.exec(`INSERT INTO teams (id, name, created_at) VALUES (1, 't', 0);
      INSERT INTO jobs (id, name, team_id, yaml, source, created_at, updated_at) VALUES (1, 'j', 1, '', 'api', 0, 0);`);
    const build = old.prepare('INSERT INTO builds (id, job_id, number, status, yaml, error, created_at) VALUES (?, 1, ?, ?, \'\', ?, 0)');
    const run = old.prepare("INSERT INTO stage_runs (build_id, stage_index, name, environment, status, error) VALUES (?, 0, 's', 'ci', ?, ?)");
    const rows: [string, string | null, string, string | null][] = [
      ['success', null, 'success', null],
      ['failed', "stage 's' failed", 'failed', 'exit code 1'],
      ['cancelled', 'cancelled by alice', 'cancelled', null],
      ['timeout', 'build timed out after 10s', 'timeout', null],
      ['failed', "stage 's': agent lost: 'a' sent no heartbeat for 30s, its lease expired; no retries (retry.lost is 0)", 'lost', 'agent lost'],
      ['failed', "stage 's': agent lost (attempt 2); no retries left (retry.lost: 1)", 'lost', 'agent lost'],
      ['failed', "stage 's' rejected by bob: not today", 'failed', "stage 's' rejected by bob: not today"],
      ['failed', "stage 's': approval expired after 60s; nobody approved it (it needed a member of x)", 'failed', "stage 's': approval expired after 60s; nobody approved it (it needed a member of x)"],
      ['running', 'build timed out after 5s', 'running', null],
      ['running', 'cancelled by carol', 'running', null],
      ['running', null, 'skipped', null],
    ];
    rows.forEach(([status, error, runStatus, runError], i) => {
      build.run(i + 1, i + 1, status, error);
      run.run(i + 1, runStatus, runError);
    });
    old.close();

    const db = openDb(dir);
    const got = db
      .prepare<[], { end_reason: string | null; stop_requested: string | null; run_reason: string | null }>(
        'SELECT b.end_reason, b.stop_requested, sr.end_reason AS run_reason FROM builds b JOIN stage_runs sr ON sr.build_id = b.id ORDER BY b.id',
      )
      .all();
    db.close();
    expect(got).toEqual([
      { end_reason: 'succeeded', stop_requested: null, run_reason: 'succeeded' },
      { end_reason: 'failed', stop_requested: null, run_reason: 'failed' },
      { end_reason: 'cancelled', stop_requested: null, run_reason: 'cancelled' },
      { end_reason: 'timeout', stop_requested: null, run_reason: 'timeout' },
      { end_reason: 'lost', stop_requested: null, run_reason: 'lost' },
      { end_reason: 'lost', stop_requested: null, run_reason: 'lost' },
      { end_reason: 'gate_rejected', stop_requested: null, run_reason: 'gate_rejected' },
      { end_reason: 'gate_expired', stop_requested: null, run_reason: 'gate_expired' },
      { end_reason: null, stop_requested: 'timeout', run_reason: null },
      { end_reason: null, stop_requested: 'cancelled', run_reason: null },
      { end_reason: null, stop_requested: null, run_reason: 'skipped' },
    ]);
  });
});
