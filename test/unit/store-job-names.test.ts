/**
 * Migration 17 over a real SQLite file: job names become unique per team. The jobs table is rebuilt, so an
 * existing data dir must keep every job (ids, numbering) and every row that references one, including rows
 * whose foreign key cascades on delete (trigger history, poll heads), which a rebuild with foreign keys on
 * would have deleted.
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

describe('migration 17: job names unique per team', () => {
  it('keeps jobs and what references them, then allows a name per team and refuses it twice in one team', () => {
    dir = mkdtempSync(join(tmpdir(), 'slipway-jobnames-'));
    const old = new Database(join(dir, 'slipway.db'));
    for (let v = 0; v < 13; v++) old.exec(migrations[v]);
    old.pragma('user_version = 13');
    old.exec(`INSERT INTO teams (id, name, created_at) VALUES (1, 'shop', 0), (2, 'games', 0);
      INSERT INTO jobs (id, name, team_id, yaml, source, next_number, created_at, updated_at) VALUES (7, 'web', 1, 'y', 'api', 3, 0, 0);
      INSERT INTO builds (id, job_id, number, status, yaml, created_at) VALUES (1, 7, 1, 'success', '', 0), (2, 7, 2, 'success', '', 0);
      INSERT INTO trigger_events (job_id, provider, event, outcome, created_at) VALUES (7, 'poll', 'poll', 'ignored', 0);
      INSERT INTO poll_heads (job_id, ref, sha, updated_at) VALUES (7, 'refs/heads/main', 'abc', 0);`);
    old.close();

    const db = openDb(dir);
    try {
      expect(db.pragma('user_version', { simple: true })).toBe(migrations.length);
      expect(db.prepare('SELECT id, name, team_id, next_number FROM jobs').all()).toEqual([{ id: 7, name: 'web', team_id: 1, next_number: 3 }]);
      expect(db.prepare('SELECT count(*) FROM builds WHERE job_id = 7').pluck().get()).toBe(2);
      expect(db.prepare('SELECT count(*) FROM trigger_events WHERE job_id = 7').pluck().get()).toBe(1);
      expect(db.prepare('SELECT count(*) FROM poll_heads WHERE job_id = 7').pluck().get()).toBe(1);
      expect(db.pragma('foreign_keys', { simple: true })).toBe(1);

      const insert = db.prepare("INSERT INTO jobs (name, team_id, yaml, source, created_at, updated_at) VALUES ('web', ?, '', 'api', 0, 0)");
      expect(() => insert.run(2)).not.toThrow();
      expect(() => insert.run(1)).toThrow(/UNIQUE constraint failed: jobs.team_id, jobs.name/);
      // References to the rebuilt table are enforced again.
      expect(() => db.prepare("INSERT INTO builds (job_id, number, status, yaml, created_at) VALUES (999, 1, 'queued', '', 0)").run()).toThrow(/FOREIGN KEY/);
    } finally {
      db.close();
    }
  });
});
