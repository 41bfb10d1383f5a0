/**
 * Agent liveness, leases, slots and refusals as one rule (issue 6, "Recovery after an agent freeze"):
 *  - an agent silent for more than two heartbeat intervals is in doubt and gets no new work;
 *  - a lease that expires declares its agent lost at the same time (a frozen agent is never offered the retry);
 *  - the master counts an agent's slots as the agent does (busy from heartbeats, aborted runs included);
 *  - agent:refused puts the stage back in the queue (same attempt), never fails the build;
 *  - without retries a lost stage fails the build with a message saying the agent was lost.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AgentRefused, MasterAssign } from '../../shared/protocol/messages';
import { resumeAgent } from '../../master/engine/gateway/hello';
import { handleHeartbeat } from '../../master/engine/leases/heartbeat';
import { handleRefusal } from '../../master/engine/leases/refusal';
import { startSweeper, type Sweeper } from '../../master/engine/leases/sweeper';
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
const runsOf = (buildId: number) =>
  f.db
    .prepare<[number], { status: string; attempt: number; agent_id: number | null }>(
      'SELECT status, attempt, agent_id FROM stage_runs WHERE build_id = ? ORDER BY stage_index, attempt',
    )
    .all(buildId);
const buildOf = (id: number) => f.db.prepare<[number], { status: string; error: string | null }>('SELECT status, error FROM builds WHERE id = ?').get(id)!;
const refusal = (a: MasterAssign, reason: AgentRefused['reason'], busy = 1): AgentRefused => ({
  type: 'agent:refused',
  stageRunId: a.stageRunId,
  epoch: a.epoch,
  reason,
  message: `refused: ${reason}`,
  busy,
});

describe('liveness: who may get new work', () => {
  it('never assigns to an agent silent for more than two heartbeat intervals', () => {
    const job = f.addJob(jobYaml('doubt', [['a', 'ci']]));
    const a = f.connect('quiet', 'ci');
    a.lastFrameAt = Date.now() - 2 * cfg().heartbeatIntervalMs - 1000;
    const b = f.trigger(job);
    expect(f.dispatch()).toBe(0);
    expect(runsOf(b)[0].status).toBe('queued');
    // A frame proves it alive again.
    a.lastFrameAt = Date.now();
    expect(f.dispatch()).toBe(1);
    expect(assigns(a)).toHaveLength(1);
  });

  it('declares the agent lost when its lease expires, so a frozen agent is not offered the retry', () => {
    const job = f.addJob(jobYaml('frozen', [['a', 'ci']], 'retry: { lost: 2 }\n'));
    const a = f.connect('frozen-1', 'ci');
    const b = f.trigger(job);
    f.dispatch();
    // Frozen: no frame since the assignment. The lease lapses first (the agent-lost limit may be longer).
    (cfg() as { agentLostAfterMs: number }).agentLostAfterMs = 10 * cfg().leaseTtlMs;
    const t = Date.now() + cfg().leaseTtlMs + 1000;
    a.lastFrameAt = t - cfg().leaseTtlMs - 500;
    sweeper.sweep(t);
    expect(a.lost).toBe(true);
    expect(runsOf(b).map((r) => [r.attempt, r.status])).toEqual([[1, 'lost'], [2, 'queued']]);
    expect(f.dispatch()).toBe(0);
    expect(assigns(a)).toHaveLength(1);
  });
});

describe('slots: the master counts them as the agent does', () => {
  it('does not assign into a slot the agent still uses for an aborted run', () => {
    const job = f.addJob(jobYaml('slots', [['a', 'ci']]));
    const a = f.connect('busy-1', 'ci', { capacity: 1 });
    // The agent is still killing a stage run the master already gave up on: its heartbeat says busy 1.
    handleHeartbeat(f.core, a, [], 1);
    const b = f.trigger(job);
    expect(f.dispatch()).toBe(0);
    expect(runsOf(b)[0].status).toBe('queued');
    // Its process group is gone: the agent says so at once, and the slot is offered again.
    handleHeartbeat(f.core, a, [], 0);
    expect(f.dispatch()).toBe(1);
  });

  it('a slot of a running lease counts once, not once per heartbeat', () => {
    const job = f.addJob(jobYaml('two', [['a', 'ci']]));
    const a = f.connect('two-1', 'ci', { capacity: 2 });
    const b1 = f.trigger(job);
    const b2 = f.trigger(job);
    expect(f.dispatch()).toBe(1 + 1);
    const first = assigns(a)[0];
    handleHeartbeat(f.core, a, [{ stageRunId: first.stageRunId, epoch: first.epoch }], 2);
    expect(runsOf(b1)[0].status).toBe('running');
    expect(runsOf(b2)[0].status).toBe('running');
  });
});

describe('agent:refused', () => {
  it('puts a stage refused for capacity back in the queue, same attempt, and offers it to another agent', () => {
    const job = f.addJob(jobYaml('full', [['a', 'ci']], 'retry: { lost: 2 }\n'));
    const a1 = f.connect('full-1', 'ci');
    const b = f.trigger(job);
    f.dispatch();
    handleRefusal(f.core, a1, refusal(assigns(a1)[0], 'capacity', 1));
    expect(runsOf(b)).toEqual([{ status: 'queued', attempt: 1, agent_id: null }]);
    expect(buildOf(b).status).not.toBe('failed');
    // The refusing agent is full until it says otherwise: no ping-pong with it.
    expect(f.dispatch()).toBe(0);
    const a2 = f.connect('full-2', 'ci');
    expect(f.dispatch()).toBe(1);
    expect(assigns(a2)[0].stage.attempt).toBe(1);
    expect(assigns(a2)[0].epoch).toBeGreaterThan(assigns(a1)[0].epoch);
  });

  it('a draining refusal marks the agent draining; an unknown-kind refusal keeps that stage away from the agent', () => {
    const job = f.addJob(jobYaml('kinds', [['a', 'ci']]));
    const a1 = f.connect('drain-1', 'ci', { capacity: 4 });
    const b = f.trigger(job);
    f.dispatch();
    handleRefusal(f.core, a1, refusal(assigns(a1)[0], 'draining', 0));
    expect(a1.draining).toBe(true);
    expect(f.dispatch()).toBe(0);

    const a2 = f.connect('kind-1', 'ci', { capacity: 4 });
    expect(f.dispatch()).toBe(1);
    handleRefusal(f.core, a2, refusal(assigns(a2)[0], 'unknown-kind', 0));
    expect(f.dispatch()).toBe(0);
    expect(runsOf(b)[0].status).toBe('queued');
    // Other stage runs may still go there.
    const other = f.trigger(job);
    expect(f.dispatch()).toBe(1);
    expect(runsOf(other)[0].status).toBe('running');
  });

  it('a capacity refusal counts the agent full even when its busy count says otherwise (no ping-pong)', () => {
    const job = f.addJob(jobYaml('odd', [['a', 'ci']]));
    const a = f.connect('odd-1', 'ci', { capacity: 2 });
    f.trigger(job);
    f.dispatch();
    handleRefusal(f.core, a, refusal(assigns(a)[0], 'capacity', 0));
    expect(f.dispatch()).toBe(0);
    handleHeartbeat(f.core, a, [], 0);
    expect(f.dispatch()).toBe(1);
  });

  it('ignores a refusal of a lease the agent no longer holds', () => {
    const job = f.addJob(jobYaml('stale', [['a', 'ci']]));
    const a = f.connect('stale-1', 'ci');
    const b = f.trigger(job);
    f.dispatch();
    const stale = { ...refusal(assigns(a)[0], 'capacity', 1), epoch: assigns(a)[0].epoch + 7 };
    handleRefusal(f.core, a, stale);
    expect(runsOf(b)[0].status).toBe('running');
  });
});

describe('resume of an agent that does not report a stage run it holds', () => {
  it('queues it again (same attempt) when nothing of it was stored: the assignment never reached the agent', () => {
    const job = f.addJob(jobYaml('unsent', [['a', 'ci']]));
    const a = f.connect('unsent-1', 'ci');
    const b = f.trigger(job);
    f.dispatch();
    const { resume, fx } = resumeAgent(f.core, a.agentId, []);
    f.core.apply(fx);
    expect(resume).toEqual([]);
    expect(runsOf(b)).toEqual([{ status: 'queued', attempt: 1, agent_id: null }]);
    expect(buildOf(b).status).not.toBe('failed');
  });

  it('counts it lost when records of it were stored (the agent restarted mid-stage)', () => {
    const job = f.addJob(jobYaml('restarted', [['a', 'ci']]));
    const a = f.connect('restarted-1', 'ci');
    const b = f.trigger(job);
    f.dispatch();
    f.db.prepare('UPDATE stage_runs SET last_seq = 3 WHERE build_id = ?').run(b);
    f.core.apply(resumeAgent(f.core, a.agentId, []).fx);
    expect(runsOf(b).map((r) => r.status)).toEqual(['lost']);
    expect(buildOf(b).status).toBe('failed');
  });
});

describe('lost without retries', () => {
  it('fails the build with a message that says the agent was lost and no retry was left', () => {
    const job = f.addJob(jobYaml('once', [['a', 'ci']]));
    const a = f.connect('gone-1', 'ci');
    const b = f.trigger(job);
    f.dispatch();
    a.lastFrameAt = 0;
    sweeper.sweep(Date.now() + cfg().leaseTtlMs + 1000);
    expect(runsOf(b).map((r) => r.status)).toEqual(['lost']);
    const { status, error } = buildOf(b);
    expect(status).toBe('failed');
    expect(error).toMatch(/^stage 'a': agent lost: 'gone-1' sent no heartbeat for 30 s, its lease expired/);
    expect(error).toMatch(/no retries/);
  });
});
