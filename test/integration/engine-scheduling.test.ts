/**
 * Scheduling with a real master and real agent processes: environment binding, cancel (the step's
 * process is really gone), build timeout, and stages lost with their agent (retried on another agent,
 * or failing the build). Short heartbeat and lease times keep these tests quick.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, startMaster, type TestMaster } from '../helpers/cluster';
import { waitFor } from '../helpers/wait';

let master: TestMaster;
let scratch: string;
const suffix = Math.random().toString(36).slice(2, 8);
const team = `sched-${suffix}`;

beforeAll(async () => {
  master = await startMaster({
    env: { SLIPWAY_HEARTBEAT_MS: '300', SLIPWAY_LEASE_TTL_MS: '2500', SLIPWAY_AGENT_LOST_MS: '2500', SLIPWAY_CANCEL_GRACE_MS: '500' },
  });
  await master.api.createTeam(team);
  scratch = mkdtempSync(join(tmpdir(), 'slipway-sched-'));
  // Steps may run as an unprivileged user when the agent runs as root: let them write their pid files.
  chmodSync(scratch, 0o777);
});

afterAll(async () => {
  await master?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

function job(name: string, env: string, command: string, extra = ''): string {
  return `name: ${name}
team: ${team}
${extra}stages:
  - name: main
    environment: ${env}
    steps:
      - sh: ${JSON.stringify(command)}
`;
}

const finished = (s: string) => ['success', 'failed', 'cancelled', 'timeout'].includes(s);
async function waitDone(id: number) {
  return waitFor(`build ${id} finished`, async () => {
    const b = await master.api.getBuild(id);
    return finished(b.status) ? b : undefined;
  });
}
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('scheduling with real agents', () => {
  it('never runs a pre job on an idle ci agent; it waits for a pre agent', async () => {
    const ci = await startAgent(master, { environment: 'ci' });
    await master.api.applyJob(job(`pre-only-${suffix}`, 'pre', 'echo "on $SLIPWAY_STAGE"'));
    await master.api.applyJob(job(`ci-only-${suffix}`, 'ci', 'echo ci'));
    const pre = await master.api.trigger(`pre-only-${suffix}`);
    // A ci build triggered after it runs and finishes on the idle ci agent while the pre build still waits.
    const ciBuild = await master.api.trigger(`ci-only-${suffix}`);
    expect((await waitDone(ciBuild.id)).status).toBe('success');
    expect((await master.api.getBuild(pre.id)).status).toBe('queued');

    const preAgent = await startAgent(master, { environment: 'pre' });
    const done = await waitDone(pre.id);
    expect(done.status).toBe('success');
    expect(done.stages[0].agent).toBe(preAgent.name);
    expect(done.stages[0].agent).not.toBe(ci.name);
    await preAgent.stop();
  });

  it('runs consecutive stages of a build on the same capacity-1 agent', async () => {
    // The master dispatches the next stage as soon as stage-finished is committed: the agent must count
    // its slot free once it has reported the stage finished.
    await startAgent(master, { environment: 'solo', capacity: 1 });
    await master.api.applyJob(`name: solo-${suffix}
team: ${team}
stages:
  - name: one
    environment: solo
    steps: [ { sh: echo one } ]
  - name: two
    environment: solo
    steps: [ { sh: echo two } ]
`);
    const b = await master.api.trigger(`solo-${suffix}`);
    const done = await waitDone(b.id);
    expect(done.stages.map((s) => [s.name, s.status, s.error])).toEqual([
      ['one', 'success', null],
      ['two', 'success', null],
    ]);
  });

  it('cancel kills the step process and marks the build cancelled', async () => {
    const pidFile = join(scratch, 'cancel.pid');
    await master.api.applyJob(job(`cancel-${suffix}`, 'ci', `sleep 300 & echo $! > ${pidFile}; wait`));
    const b = await master.api.trigger(`cancel-${suffix}`);
    const pid = await waitFor('step pid file', () => existsSync(pidFile) && Number(readFileSync(pidFile, 'utf8').trim()));
    expect(alive(pid)).toBe(true);
    await master.api.cancelBuild(b.id);
    const done = await waitDone(b.id);
    expect(done.status).toBe('cancelled');
    await waitFor('step process gone', () => !alive(pid), { timeoutMs: 10_000 });
    expect(alive(pid)).toBe(false);
  });

  it('a build over its timeout is stopped by the master with status timeout', async () => {
    const pidFile = join(scratch, 'timeout.pid');
    await master.api.applyJob(job(`slow-${suffix}`, 'ci', `sleep 300 & echo $! > ${pidFile}; wait`, 'timeout: 2s\n'));
    const b = await master.api.trigger(`slow-${suffix}`);
    const pid = await waitFor('step pid file', () => existsSync(pidFile) && Number(readFileSync(pidFile, 'utf8').trim()));
    const done = await waitDone(b.id);
    expect(done.status).toBe('timeout');
    expect(done.error).toContain('timed out');
    await waitFor('step process gone', () => !alive(pid), { timeoutMs: 10_000 });
  });

  it('a stage lost with its agent is retried on another agent when retry.lost allows it', async () => {
    const a1 = await startAgent(master, { environment: 'lossy', labels: ['x'] });
    const a2 = await startAgent(master, { environment: 'lossy', labels: ['x'] });
    const marker = join(scratch, 'retry.started');
    await master.api.applyJob(
      job(`retry-${suffix}`, 'lossy', `echo "attempt on $SLIPWAY_STAGE"; touch ${marker}; sleep 2; echo done`, 'retry: { lost: 1 }\n'),
    );
    const b = await master.api.trigger(`retry-${suffix}`);
    await waitFor('first attempt started', () => existsSync(marker));
    const first = (await master.api.getBuild(b.id)).stages[0];
    const victim = first.agent === a1.name ? a1 : a2;
    const survivor = victim === a1 ? a2 : a1;
    await victim.kill('SIGKILL');
    const done = await waitDone(b.id);
    expect(done.status).toBe('success');
    expect(done.stages.map((s) => [s.attempt, s.status, s.agent])).toEqual([
      [1, 'lost', victim.name],
      [2, 'success', survivor.name],
    ]);
    const agents = await master.api.listAgents();
    expect(agents.find((a) => a.name === victim.name)?.state).toBe('lost');
    await survivor.stop();
  });

  it('a stage lost with its agent fails the build when it may not be retried', async () => {
    const agent = await startAgent(master, { environment: 'fragile' });
    const pidFile = join(scratch, 'fragile.pid');
    await master.api.applyJob(job(`fragile-${suffix}`, 'fragile', `sleep 300 & echo $! > ${pidFile}; wait`));
    const b = await master.api.trigger(`fragile-${suffix}`);
    const pid = await waitFor('stage started', () => existsSync(pidFile) && Number(readFileSync(pidFile, 'utf8').trim()));
    await agent.kill('SIGKILL');
    // A SIGKILLed agent cannot clean up its step; do it here so no sleep outlives the test.
    if (alive(pid)) process.kill(pid, 'SIGKILL');
    const done = await waitDone(b.id);
    expect(done.status).toBe('failed');
    expect(done.error).toContain('agent lost');
    expect(done.stages.map((s) => s.status)).toEqual(['lost']);
  });
});
