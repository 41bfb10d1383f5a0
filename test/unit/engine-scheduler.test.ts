/**
 * The scheduler over a real SQLite store: environment and label matching, capacity, FIFO within a job,
 * round-robin fairness between jobs, stage order, failure skipping later stages, lost-stage retries,
 * parameter validation and the content of master:assign.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ValidationError } from '../../shared/errors';
import { parseJobYaml } from '../../shared/job';
import type { MasterAssign } from '../../shared/protocol/messages';
import { resolveParams } from '../../master/engine/builds/create-build';
import { finishStage, requestStop, type StageRunRow } from '../../master/engine/builds/transitions';
import { Effects } from '../../master/engine/core';
import { planDispatch, type QueuedRun } from '../../master/engine/scheduler/plan';
import { engineFixture, jobYaml, type EngineFixture, type TestSession } from './engine-fixtures';

let f: EngineFixture;
beforeEach(() => {
  f = engineFixture();
});
afterEach(() => f.cleanup());

const assigns = (s: TestSession) => s.sent.filter((m): m is MasterAssign => m.type === 'master:assign');
const runOf = (id: number) =>
  f.db
    .prepare<[number], StageRunRow & { lease_expires_at: number | null }>(
      'SELECT id, build_id, stage_index, name, environment, attempt, status, agent_id, lease_epoch, last_seq, lease_expires_at FROM stage_runs WHERE id = ?',
    )
    .get(id)!;
const runsOf = (buildId: number) =>
  f.db.prepare<[number], { id: number; name: string; status: string; attempt: number }>('SELECT id, name, status, attempt FROM stage_runs WHERE build_id = ? ORDER BY stage_index, attempt').all(buildId);
const buildOf = (id: number) => f.db.prepare<[number], { status: string; error: string | null }>('SELECT status, error FROM builds WHERE id = ?').get(id)!;
function finish(stageRunId: number, status: Parameters<typeof finishStage>[3]) {
  const fx = new Effects();
  f.db.transaction(() => finishStage(f.core, fx, runOf(stageRunId), status, null, Date.now()))();
  return fx;
}

describe('planDispatch (pure matching and fairness)', () => {
  const run = (id: number, jobId: number, environment: string, labels: string[] = []): QueuedRun => ({ id, jobId, environment, labels, queuedAt: id });

  it('never places a stage on an agent of another environment, even an idle one', () => {
    const plan = planDispatch([run(1, 1, 'pre')], [{ agentId: 7, environment: 'ci', labels: [], free: 4 }], new Map(), () => 1);
    expect(plan).toEqual([]);
  });

  it('requires every label of the stage, and lets a blocked run not block the next one of its job', () => {
    let t = 0;
    const plan = planDispatch(
      [run(1, 1, 'ci', ['docker']), run(2, 1, 'ci', ['linux'])],
      [{ agentId: 7, environment: 'ci', labels: ['linux'], free: 1 }],
      new Map(),
      () => ++t,
    );
    expect(plan).toEqual([{ stageRunId: 2, jobId: 1, agentId: 7 }]);
  });

  it('does not let one job with 100 queued builds starve another job', () => {
    const queue = Array.from({ length: 100 }, (_, i) => run(i + 1, 1, 'ci'));
    queue.push(run(1000, 2, 'ci'));
    const served = new Map<number, number>();
    let t = 0;
    const placed: number[] = [];
    // One free slot per pass, as when agents finish one stage at a time.
    for (let pass = 0; pass < 3; pass++) {
      const [p] = planDispatch(queue.filter((q) => !placed.includes(q.id)), [{ agentId: 1, environment: 'ci', labels: [], free: 1 }], served, () => ++t);
      placed.push(p.stageRunId);
    }
    expect(placed).toContain(1000);
    expect(placed.slice(0, 2).sort((a, b) => a - b)).toEqual([1, 1000]);
  });

  it('is FIFO within a job', () => {
    let t = 0;
    const plan = planDispatch([run(3, 1, 'ci'), run(5, 1, 'ci')], [{ agentId: 1, environment: 'ci', labels: [], free: 1 }], new Map(), () => ++t);
    expect(plan.map((p) => p.stageRunId)).toEqual([3]);
  });
});

describe('dispatcher with SQLite', () => {
  it('leases a stage to a matching agent only, respecting capacity', () => {
    const job = f.addJob(jobYaml('web', [['build', 'pre']]));
    const ci = f.connect('ci-1', 'ci', { capacity: 4 });
    const b1 = f.trigger(job);
    const b2 = f.trigger(job);
    expect(f.dispatch()).toBe(0);
    expect(assigns(ci)).toHaveLength(0);
    const pre = f.connect('pre-1', 'pre', { capacity: 1 });
    expect(f.dispatch()).toBe(1);
    const [a] = assigns(pre);
    expect(a.build.id).toBe(b1);
    const leased = runOf(a.stageRunId);
    expect(leased).toMatchObject({ status: 'running', agent_id: pre.agentId, lease_epoch: 1 });
    expect(leased.lease_expires_at).toBeGreaterThan(Date.now());
    expect(runsOf(b2)[0].status).toBe('queued');
    expect(buildOf(b1).status).toBe('running');
  });

  it('sends steps, merged env, params and resolved secrets in master:assign', () => {
    const yaml = `name: shop-web
team: shop
params:
  - name: TARGET
    default: eu
secrets: [API_KEY]
env: { A: job, B: job }
stages:
  - name: build
    environment: ci
    env: { B: stage }
    steps:
      - sh: make
`;
    f.secrets.set(f.teamId, 'API_KEY', 's3cr3t-value');
    const job = f.addJob(yaml);
    const agent = f.connect('ci-1', 'ci');
    const b = f.trigger(job, resolveParams(parseJobYaml(yaml), { TARGET: 'us' }));
    f.dispatch();
    const [a] = assigns(agent);
    expect(a.env).toMatchObject({ A: 'job', B: 'stage', TARGET: 'us', SLIPWAY_JOB: 'shop-web', SLIPWAY_BUILD_NUMBER: '1', SLIPWAY_BUILD_ID: String(b), SLIPWAY_STAGE: 'build' });
    expect(a.secrets).toEqual({ API_KEY: 's3cr3t-value' });
    expect(a.stage.steps.map((s) => s.config)).toEqual([{ run: 'make' }]);
    expect(a.build).toMatchObject({ job: 'shop-web', team: 'shop', number: 1 });
  });

  it('runs stages in order and skips later stages when one fails', () => {
    const job = f.addJob(jobYaml('three', [['a', 'ci'], ['b', 'ci'], ['c', 'ci']]));
    const agent = f.connect('ci-1', 'ci');
    const b = f.trigger(job);
    f.dispatch();
    expect(runsOf(b).map((r) => r.status)).toEqual(['running', 'pending', 'pending']);
    finish(assigns(agent)[0].stageRunId, 'success');
    expect(runsOf(b).map((r) => r.status)).toEqual(['success', 'queued', 'pending']);
    f.dispatch();
    finish(assigns(agent)[1].stageRunId, 'failed');
    expect(runsOf(b).map((r) => r.status)).toEqual(['success', 'failed', 'skipped']);
    expect(buildOf(b).status).toBe('failed');
  });

  it('asks for a dispatch pass whenever a stage run ends, since its agent slot is free again', () => {
    const job = f.addJob(jobYaml('one', [['a', 'ci']]));
    const agent = f.connect('ci-1', 'ci', { capacity: 1 });
    const b1 = f.trigger(job);
    const b2 = f.trigger(job);
    f.dispatch();
    expect(runsOf(b2)[0].status).toBe('queued');
    // The last stage of b1 ends the build: nothing of b1 is left to queue, yet b2 waits for that slot.
    const fx = finish(assigns(agent)[0].stageRunId, 'success');
    expect(buildOf(b1).status).toBe('success');
    expect(fx.dispatch).toBe(true);
  });

  it('re-queues a lost stage as a new attempt per retry.lost, then fails the build', () => {
    const job = f.addJob(jobYaml('flaky', [['a', 'ci']], 'retry: { lost: 1 }\n'));
    const agent = f.connect('ci-1', 'ci');
    const b = f.trigger(job);
    f.dispatch();
    finish(assigns(agent)[0].stageRunId, 'lost');
    expect(runsOf(b).map((r) => [r.attempt, r.status])).toEqual([[1, 'lost'], [2, 'queued']]);
    f.dispatch();
    const second = assigns(agent)[1];
    expect(second.stage.attempt).toBe(2);
    finish(second.stageRunId, 'lost');
    expect(buildOf(b)).toMatchObject({ status: 'failed', error: "stage 'a': agent lost (attempt 2); no retries left (retry.lost: 1)" });
  });

  it('cancels queued builds at once and asks the agent to cancel a running one', () => {
    const job = f.addJob(jobYaml('long', [['a', 'ci'], ['b', 'ci']]));
    const agent = f.connect('ci-1', 'ci');
    const running = f.trigger(job);
    const queued = f.trigger(job);
    f.dispatch();
    const fx = new Effects();
    f.db.transaction(() => {
      requestStop(f.db, fx, queued, 'cancelled', 'cancelled by test', Date.now());
      requestStop(f.db, fx, running, 'cancelled', 'cancelled by test', Date.now());
    })();
    expect(buildOf(queued).status).toBe('cancelled');
    expect(runsOf(queued).map((r) => r.status)).toEqual(['cancelled', 'skipped']);
    expect(buildOf(running).status).toBe('running');
    expect(fx.cancels).toEqual([expect.objectContaining({ agentId: agent.agentId, stageRunId: assigns(agent)[0].stageRunId })]);
    finish(assigns(agent)[0].stageRunId, 'cancelled');
    expect(buildOf(running).status).toBe('cancelled');
    expect(runsOf(running).map((r) => r.status)).toEqual(['cancelled', 'skipped']);
  });

  it('with cancelPrevious, a new build cancels older queued builds of the same branch only', () => {
    const job = f.addJob(jobYaml('cp', [['a', 'ci']], 'cancelPrevious: true\n'));
    const old = f.trigger(job, {}, 'main');
    const other = f.trigger(job, {}, 'dev');
    f.trigger(job, {}, 'main');
    expect(buildOf(old).status).toBe('cancelled');
    expect(buildOf(other).status).toBe('queued');
  });
});

describe('resolveParams', () => {
  const cfg = parseJobYaml(`name: p
team: shop
params:
  - name: TARGET
    choices: [eu, us]
  - name: LEVEL
    default: 3
stages:
  - name: a
    environment: ci
    steps: [ { sh: 'true' } ]
`);
  it('applies defaults and the first choice', () => {
    expect(resolveParams(cfg, {})).toEqual({ TARGET: 'eu', LEVEL: '3' });
  });
  it('names an unknown parameter', () => {
    expect(() => resolveParams(cfg, { NOPE: 'x' })).toThrow(/unknown parameter 'NOPE'/);
    expect(() => resolveParams(cfg, { NOPE: 'x' })).toThrow(ValidationError);
  });
  it('enforces choices', () => {
    expect(() => resolveParams(cfg, { TARGET: 'asia' })).toThrow(/params.TARGET: 'asia' is not one of eu, us/);
  });
});
