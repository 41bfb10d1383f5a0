/**
 * The sweeper and retention over a real SQLite store, with explicit clocks: silent agents become lost,
 * expired leases go through the retry policy, overdue builds are stopped with status timeout, a stop the
 * agent never confirms is finished by the master, and retention keeps the newest finished builds per job.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MasterAssign, MasterMessage } from '../../shared/protocol/messages';
import { startSweeper, type Sweeper } from '../../master/engine/leases/sweeper';
import { startRetention } from '../../master/engine/retention';
import { engineFixture, jobYaml, type EngineFixture, type TestSession } from './engine-fixtures';

let f: EngineFixture;
let sweeper: Sweeper;
beforeEach(() => {
  f = engineFixture();
  sweeper = startSweeper(f.core, 3_600_000);
});
afterEach(() => {
  sweeper.stop();
  f.cleanup();
});

const cfg = () => f.core.ctx.config;
const assigns = (s: TestSession) => s.sent.filter((m): m is MasterAssign => m.type === 'master:assign');
const buildOf = (id: number) => f.db.prepare<[number], { status: string; error: string | null }>('SELECT status, error FROM builds WHERE id = ?').get(id)!;
const endReasons = (id: number) =>
  f.db.prepare<[number, number], { end_reason: string | null }>('SELECT end_reason FROM builds WHERE id = ? UNION ALL SELECT end_reason FROM stage_runs WHERE build_id = ?').all(id, id).map((r) => r.end_reason);
const runsOf = (buildId: number) =>
  f.db.prepare<[number], { status: string; attempt: number }>('SELECT status, attempt FROM stage_runs WHERE build_id = ? ORDER BY stage_index, attempt').all(buildId);

describe('sweeper', () => {
  it('marks an agent lost after agentLostAfterMs without a frame', () => {
    const a = f.connect('quiet', 'ci');
    sweeper.sweep(a.lastFrameAt + cfg().agentLostAfterMs - 1);
    expect(a.lost).toBe(false);
    sweeper.sweep(a.lastFrameAt + cfg().agentLostAfterMs + 1);
    expect(a.lost).toBe(true);
    expect(f.db.prepare('SELECT state FROM agents WHERE id = ?').pluck().get(a.agentId)).toBe('lost');
  });

  it('turns an expired lease into a lost stage and a retry attempt', () => {
    const job = f.addJob(jobYaml('retry', [['a', 'ci']], 'retry: { lost: 1 }\n'));
    const a = f.connect('ci-1', 'ci');
    const b = f.trigger(job);
    f.dispatch();
    expect(assigns(a)).toHaveLength(1);
    sweeper.sweep(Date.now() + cfg().leaseTtlMs - 1000);
    expect(runsOf(b)).toEqual([{ status: 'running', attempt: 1 }]);
    sweeper.sweep(Date.now() + cfg().leaseTtlMs + 1000);
    expect(runsOf(b)).toEqual([
      { status: 'lost', attempt: 1 },
      { status: 'queued', attempt: 2 },
    ]);
    expect(endReasons(b)).toEqual([null, 'lost', null]);
  });

  it('fails a build whose stage was lost with no retry left with end reason lost', () => {
    const job = f.addJob(jobYaml('noretry', [['a', 'ci']]));
    f.connect('ci-1', 'ci');
    const b = f.trigger(job);
    f.dispatch();
    sweeper.sweep(Date.now() + cfg().leaseTtlMs + 1000);
    expect(buildOf(b).status).toBe('failed');
    expect(buildOf(b).error).toContain('no retries');
    expect(endReasons(b)).toEqual(['lost', 'lost']);
  });

  it('ends a stopping build’s stage as cancelled (not lost) when its lease expires', () => {
    const job = f.addJob(jobYaml('gone', [['a', 'ci']], 'retry: { lost: 3 }\n'));
    f.connect('ci-1', 'ci');
    const b = f.trigger(job);
    f.dispatch();
    f.db.prepare("UPDATE builds SET stop_requested = 'cancelled', error = 'cancelled by test' WHERE id = ?").run(b);
    sweeper.sweep(Date.now() + cfg().leaseTtlMs + 1000);
    expect(runsOf(b)).toEqual([{ status: 'cancelled', attempt: 1 }]);
    expect(buildOf(b)).toEqual({ status: 'cancelled', error: 'cancelled by test' });
    expect(endReasons(b)).toEqual(['cancelled', 'cancelled']);
  });

  it('stops an overdue build: master:cancel, then timeout when the agent reports', () => {
    const job = f.addJob(jobYaml('slow', [['a', 'ci'], ['b', 'ci']], 'timeout: 10s\n'));
    const a = f.connect('ci-1', 'ci');
    const b = f.trigger(job);
    f.dispatch();
    sweeper.sweep(Date.now() + 11_000);
    const cancel = a.sent.find((m): m is Extract<MasterMessage, { type: 'master:cancel' }> => m.type === 'master:cancel');
    expect(cancel).toMatchObject({ stageRunId: assigns(a)[0].stageRunId, graceMs: cfg().cancelGraceMs });
    expect(cancel?.reason).toContain('build timed out after 10s');
    expect(buildOf(b).status).toBe('running');
    expect(runsOf(b).map((r) => r.status)).toEqual(['running', 'skipped']);
  });

  it('finishes a stop the agent never confirms', () => {
    const job = f.addJob(jobYaml('stuck', [['a', 'ci']], 'timeout: 10s\n'));
    f.connect('ci-1', 'ci');
    const b = f.trigger(job);
    f.dispatch();
    const t0 = Date.now() + 11_000;
    sweeper.sweep(t0);
    // Keep the lease alive as heartbeats would, so only the stop deadline can end it.
    f.db.prepare('UPDATE stage_runs SET lease_expires_at = ? WHERE build_id = ?').run(t0 + 10 * cfg().leaseTtlMs, b);
    sweeper.sweep(t0 + 1);
    expect(buildOf(b).status).toBe('running');
    sweeper.sweep(t0 + cfg().cancelGraceMs + cfg().leaseTtlMs + 1);
    expect(buildOf(b).status).toBe('timeout');
    expect(runsOf(b).map((r) => r.status)).toEqual(['timeout']);
    expect(endReasons(b)).toEqual(['timeout', 'timeout']);
  });
});

describe('retention', () => {
  it('keeps the newest finished builds per job, deletes older ones with their artifact files, and drops old log chunks', () => {
    const job = f.addJob(jobYaml('many', [['a', 'ci']]));
    const ids = Array.from({ length: 5 }, () => f.trigger(job));
    f.db.prepare("UPDATE builds SET status = 'success', finished_at = 1 WHERE id != ?").run(ids[4]);
    const oldDir = join(cfg().dataDir, 'artifacts', String(ids[0]));
    mkdirSync(oldDir, { recursive: true });
    writeFileSync(join(oldDir, 'f'), 'x');
    const keptRun = f.db.prepare<[number], { id: number }>('SELECT id FROM stage_runs WHERE build_id = ?').get(ids[3])!.id;
    f.db.prepare('INSERT INTO log_chunks (stage_run_id, seq, offset, data, created_at) VALUES (?, 1, 0, ?, ?)').run(keptRun, Buffer.from('old'), 0);
    f.db.prepare('INSERT INTO log_chunks (stage_run_id, seq, offset, data, created_at) VALUES (?, 2, 3, ?, ?)').run(keptRun, Buffer.from('new'), Date.now());

    const cfgMut = cfg() as { retention: { builds: number; logsDays: number } };
    cfgMut.retention = { builds: 2, logsDays: 30 };
    const r = startRetention(f.core);
    r.stop();
    const left = f.db.prepare<[], { id: number }>('SELECT id FROM builds ORDER BY id').all().map((x) => x.id);
    // Two newest finished (ids[2], ids[3]) and the queued one (ids[4]) stay.
    expect(left).toEqual([ids[2], ids[3], ids[4]]);
    expect(existsSync(oldDir)).toBe(false);
    expect(f.db.prepare('SELECT seq FROM log_chunks WHERE stage_run_id = ?').pluck().all(keptRun)).toEqual([2]);
  });
});
