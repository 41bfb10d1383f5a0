/**
 * The agent with a real master (both as CLI processes): the stored log equals what the step printed line for
 * line, secrets are masked in the stored log, and an artifact made by stage 1 on a `ci` agent reaches
 * stage 2 on a `pre` agent, checksum verified.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuildDetail } from '../../shared/api';
import { startAgent, startMaster, type TestMaster } from '../helpers/cluster';

let master: TestMaster;
const suffix = Math.random().toString(36).slice(2, 8);
const team = `agent-${suffix}`;
const ci = `ci-${suffix}`;
const pre = `pre-${suffix}`;

beforeAll(async () => {
  master = await startMaster();
  await master.api.createTeam(team);
  await startAgent(master, { environment: ci });
  await startAgent(master, { environment: pre });
});

afterAll(async () => {
  await master?.stop();
});

async function finished(buildId: number): Promise<BuildDetail> {
  for (let i = 0; i < 600; i++) {
    const b = await master.api.getBuild(buildId);
    if (!['queued', 'running'].includes(b.status)) return b;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`build ${buildId} did not finish`);
}

describe('agent with a real master', () => {
  it('stores the log exactly as the step printed it, with secrets masked', async () => {
    const secret = `pw-${suffix}-Xy9`;
    await master.api.setSecret(team, 'DEPLOY_PW', secret);
    await master.api.applyJob(`name: log-${suffix}
team: ${team}
secrets: [DEPLOY_PW]
stages:
  - name: build
    environment: ${ci}
    steps:
      - sh: |
          i=1
          while [ $i -le 5000 ]; do echo "line $i of the build log, padded to look like real compiler output"; i=$((i+1)); done
          echo "password is $DEPLOY_PW"
          echo "again: $DEPLOY_PW."
`);
    const b = await master.api.trigger(`log-${suffix}`);
    const done = await finished(b.id);
    expect(done.status).toBe('success');
    const log = await master.api.buildLog(b.id);
    const expected: string[] = [];
    for (let i = 1; i <= 5000; i++) expected.push(`line ${i} of the build log, padded to look like real compiler output`);
    const lines = log.split('\n');
    expect(lines.slice(0, 5000)).toEqual(expected);
    expect(lines.slice(5000)).toEqual(['password is ***', 'again: ***.', '']);
    expect(log).not.toContain(secret);
  });

  it('passes an artifact from stage 1 on a ci agent to stage 2 on a pre agent', async () => {
    await master.api.applyJob(`name: art-${suffix}
team: ${team}
stages:
  - name: build
    environment: ${ci}
    artifacts: [dist/**/*.txt]
    steps:
      - sh: mkdir -p dist/sub && echo "payload-${suffix}" > dist/sub/app.txt && echo "made on $(hostname)"
  - name: deploy
    environment: ${pre}
    steps:
      - sh: cat dist/sub/app.txt && test "$(cat dist/sub/app.txt)" = "payload-${suffix}"
`);
    const b = await master.api.trigger(`art-${suffix}`);
    const done = await finished(b.id);
    expect(done.stages.map((s) => [s.name, s.status])).toEqual([
      ['build', 'success'],
      ['deploy', 'success'],
    ]);
    expect(done.stages[0].agent).not.toBe(done.stages[1].agent);
    const arts = await master.api.listArtifacts(b.id);
    expect(arts.map((a) => a.path)).toEqual(['dist/sub/app.txt']);
    const content = `payload-${suffix}\n`;
    expect(arts[0].sha256).toBe(createHash('sha256').update(content).digest('hex'));
    const deployLog = await master.api.buildLog(b.id, done.stages[1].id);
    expect(deployLog).toContain(`payload-${suffix}`);
  });

  it('fails the stage with a clear message when a declared artifact is missing', async () => {
    await master.api.applyJob(`name: noart-${suffix}
team: ${team}
stages:
  - name: build
    environment: ${ci}
    artifacts: [out/*.bin]
    steps:
      - sh: echo no output
`);
    const b = await master.api.trigger(`noart-${suffix}`);
    const done = await finished(b.id);
    expect(done.status).toBe('failed');
    expect(done.stages[0].error).toContain("artifact 'out/*.bin' matched no file");
  });
});

describe('agent with a master that limits artifact size', () => {
  it('fails the stage with the master message when an upload is refused (413)', async () => {
    const small = await startMaster({ env: { SLIPWAY_MAX_ARTIFACT_BYTES: '1000' } });
    try {
      await small.api.createTeam(team);
      await startAgent(small, { environment: ci });
      await small.api.applyJob(`name: big-${suffix}
team: ${team}
stages:
  - name: build
    environment: ${ci}
    artifacts: [big.bin]
    steps:
      - sh: head -c 5000 /dev/zero > big.bin
`);
      const b = await small.api.trigger(`big-${suffix}`);
      let done = await small.api.getBuild(b.id);
      for (let i = 0; i < 300 && ['queued', 'running'].includes(done.status); i++) {
        await new Promise((r) => setTimeout(r, 100));
        done = await small.api.getBuild(b.id);
      }
      expect(done.status).toBe('failed');
      expect(done.stages[0].error).toMatch(/upload of artifact 'big\.bin' refused: .*\(HTTP 413\)/);
    } finally {
      await small.stop();
    }
  });
});
