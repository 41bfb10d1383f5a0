/**
 * One build user per job, end to end (real master, real agent process running as root, real users): steps of
 * two jobs run as `slipway-j<jobId>` with different uids, and a step of one job cannot read a live workspace
 * of another job even though it knows the path. Skipped when the tests do not run as root (no build users then).
 */
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, startMaster, type TestAgent, type TestMaster } from '../helpers/cluster';
import { waitFor } from '../helpers/wait';

const root = process.getuid?.() === 0;
const suffix = Math.random().toString(36).slice(2, 8);
const team = `users-${suffix}`;
let master: TestMaster;
let agent: TestAgent;

async function finished(id: number) {
  return waitFor(`build ${id} finished`, async () => {
    const b = await master.api.getBuild(id);
    return b.status !== 'queued' && b.status !== 'running' ? b : undefined;
  });
}

async function jobWith(name: string, step: string): Promise<number> {
  await master.api.applyJob(`name: ${name}
team: ${team}
stages:
  - name: build
    environment: ci
    steps:
      - sh: ${JSON.stringify(step)}
`);
  return (await master.api.getJob(name)).id;
}

beforeAll(async () => {
  if (!root) return;
  master = await startMaster();
  await master.api.createTeam(team);
  agent = await startAgent(master, { environment: 'ci', capacity: 2 });
});

afterAll(async () => {
  await master?.stop();
});

describe.skipIf(!root)('one build user per job', () => {
  it('runs the steps of two jobs as their own users, with different uids', async () => {
    const jobs = [`who-a-${suffix}`, `who-b-${suffix}`];
    const ids = await Promise.all(jobs.map((j) => jobWith(j, 'echo "uid=$(id -u) user=$(id -un) group=$(id -gn)"')));
    const seen: { uid: string; user: string; group: string }[] = [];
    for (const job of jobs) {
      const b = await finished((await master.api.trigger(job)).id);
      expect(b.status).toBe('success');
      const m = /uid=(\d+) user=(\S+) group=(\S+)/.exec(await master.api.buildLog(b.id));
      expect(m).not.toBeNull();
      seen.push({ uid: m![1], user: m![2], group: m![3] });
    }
    expect(seen.map((s) => s.user)).toEqual(ids.map((id) => `slipway-j${id}`));
    expect(seen.map((s) => s.group)).toEqual(ids.map((id) => `slipway-j${id}`));
    expect(seen[0].uid).not.toBe('0');
    expect(seen[0].uid).not.toBe(seen[1].uid);
  });

  it("a step of one job cannot read another job's live workspace, even knowing its path", async () => {
    // B writes a file, prints where, and stays running until the test says so.
    const victim = `victim-${suffix}`;
    await jobWith(victim, 'echo private-bytes > secret.txt; echo "ws=$PWD"; i=0; while [ ! -e release ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done');
    const vb = (await master.api.trigger(victim)).id;
    const ws = await waitFor('the victim step to print its workspace', async () => /ws=(\S+)/.exec(await master.api.buildLog(vb))?.[1]);
    expect(readFileSync(join(ws, 'secret.txt'), 'utf8')).toBe('private-bytes\n');
    expect(statSync(ws).mode & 0o777).toBe(0o700);

    const thief = `thief-${suffix}`;
    await jobWith(thief, `cat ${ws}/secret.txt; echo "cat=$?"; ls ${ws}; echo "ls=$?"`);
    const tb = await finished((await master.api.trigger(thief)).id);
    const log = await master.api.buildLog(tb.id);
    expect(log).toMatch(/Permission denied/);
    expect(log).toMatch(/cat=1/);
    expect(log).not.toMatch(/private-bytes/);
    // The victim was running the whole time: the attempt met a live workspace.
    expect((await master.api.getBuild(vb)).status).toBe('running');

    writeFileSync(join(ws, 'release'), '');
    expect((await finished(vb)).status).toBe('success');
    // The fresh workspace went with its stage (removed as its owner).
    await waitFor('the victim workspace removed', async () => !existsSync(ws));
  });

  it('keeps the agent work dir closed to build users', async () => {
    const probe = `probe-${suffix}`;
    await jobWith(probe, `ls ${agent.workDir}/builds; echo "builds=$?"; ls ${agent.workDir}; echo "workdir=$?"`);
    const b = await finished((await master.api.trigger(probe)).id);
    const log = await master.api.buildLog(b.id);
    expect(log).toMatch(/builds=2/);
    expect(log).toMatch(/workdir=2/);
  });
});
