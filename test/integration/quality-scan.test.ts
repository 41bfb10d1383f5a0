/**
 * The scan step end to end with real master and agent processes: a job checks out a repository with planted
 * test tokens, a Dockerfile, a compose file and a shell script, and scans it (secrets, dockerfile, and real
 * shellcheck through the shellcheck-sarif plugin, installed with the CLI as an operator would). The findings land on the master (API and `slipway findings`); findings are new against the
 * last successful build of the branch (a re-run of a failed build stays failed), so after a baseline only
 * what a new commit added is new, and a quality gate ("no new high") fails that build with a summary.
 */
import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuildDetail } from '../../shared/api';
import { runCli } from '../helpers/cli';
import { startAgent, startMaster, type TestMaster } from '../helpers/cluster';
import { git } from '../helpers/git';
import { waitFor } from '../helpers/wait';
import { tempDir, TestRepo } from '../unit/agent-git-fixtures';

const suffix = Math.random().toString(36).slice(2, 8);
const team = `q-${suffix}`;
const fixture = join(import.meta.dirname, '..', 'fixtures', 'quality', 'scan-repo');
let master: TestMaster;
let root: string;
let repo: TestRepo;

async function runBuild(job: string): Promise<BuildDetail> {
  return finishedBuild((await master.api.trigger(job)).id);
}

async function finishedBuild(id: number): Promise<BuildDetail> {
  return waitFor(`build ${id} finished`, async () => {
    const b = await master.api.getBuild(id);
    return b.status !== 'queued' && b.status !== 'running' ? b : undefined;
  }, { timeoutMs: 90_000 });
}

const jobYaml = (name: string, gate: string) => `name: ${name}
team: ${team}
repo: { url: '${repo.url}' }
stages:
  - name: quality
    environment: ci
    steps:
      - scan: { tools: [secrets, dockerfile, shellcheck], gate: ${gate} }
`;

beforeAll(async () => {
  root = tempDir('quality-scan');
  repo = new TestRepo(join(root, 'app'));
  cpSync(fixture, repo.dir, { recursive: true });
  git(repo.dir, 'add', '-A');
  git(repo.dir, 'commit', '--quiet', '-m', 'fixture');
  master = await startMaster();
  await master.api.createTeam(team);
  const agentName = `ci-${suffix}`;
  await startAgent(master, { environment: 'ci', name: agentName });
  const env = { SLIPWAY_URL: master.url, SLIPWAY_TOKEN: master.api.token!, SLIPWAY_CONFIG: join(root, 'cli.json') };
  const installed = await runCli(['plugin', 'install', join(import.meta.dirname, '..', '..', 'plugins', 'shellcheck-sarif')], { env });
  expect(installed.stdout, installed.stderr).toBe('plugin shellcheck-sarif@1.0.0 installed: scanners shellcheck\n');
  await waitFor('agent runs shellcheck-sarif', async () => (await master.api.listAgents()).find((a) => a.name === agentName)?.plugins?.some((p) => p.name === 'shellcheck-sarif' && p.state === 'loaded'));
}, 60_000);

afterAll(async () => {
  await master?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe('scan step', () => {
  it('stores the findings, marks new ones against the last successful build of the branch, and gates on new highs', async () => {
    const job = `scan-${suffix}`;
    const env = { SLIPWAY_URL: master.url, SLIPWAY_TOKEN: master.api.token! };

    // First build, no baseline: every finding is new, so "no new high" fails it, with a summary.
    await master.api.applyJob(jobYaml(job, '{ newHigh: 0 }'));
    const b1 = await runBuild(job);
    expect(b1.status).toBe('failed');
    const log1 = await master.api.buildLog(b1.id);
    expect(log1).toMatch(/quality gate failed \(\.slipway-scan\/scan\.sarif\): 5 new high findings \(at most 0\)/);
    expect(log1).not.toContain('ghp_Zq9vT3kLmN8pR2sW5xY7aB4cD6eF1gH0jK2L');
    const scanStep = b1.stages[0].steps.find((s) => s.name === 'scan')!;
    expect(scanStep.outputs).toMatchObject({ high: 5, findings: 16 });
    const p1 = await master.api.buildFindings(b1.id);
    expect(p1.previousBuildId).toBeNull();
    expect(p1.total).toEqual({ high: 5, medium: 6, low: 5 });
    expect(p1.findings.map((f) => f.tool)).toEqual(expect.arrayContaining(['slipway-secrets', 'slipway-dockerfile', 'shellcheck']));
    expect(p1.findings.every((f) => f.isNew)).toBe(true);

    // Re-running the failed build does not make its findings old: a failed build is no baseline.
    const again = await finishedBuild((await master.api.rerunBuild(b1.id)).id);
    expect(again.status).toBe('failed');

    // The team accepts today's findings once (a gate on totals): that build is the baseline.
    await master.api.applyJob(jobYaml(job, '{ high: 10 }'));
    const b2 = await runBuild(job);
    expect(b2.status, await master.api.buildLog(b2.id)).toBe('success');
    expect(await master.api.buildLog(b2.id)).toContain('quality gate passed');

    // From now on no new high: the same commit passes, nothing is new.
    await master.api.applyJob(jobYaml(job, '{ newHigh: 0 }'));
    const b3 = await runBuild(job);
    expect(b3.status, await master.api.buildLog(b3.id)).toBe('success');
    const p3 = await master.api.buildFindings(b3.id);
    expect(p3).toMatchObject({ previousBuildId: b2.id, new: { high: 0, medium: 0, low: 0 } });
    expect(p3.total).toEqual(p1.total);

    // A commit planting one more token: exactly that finding is new, and the gate fails naming it.
    repo.commit('leak', { 'src/leak.ts': `export const key = "AKIAQ7EXAMPLEZZ3NEW1";\n` });
    const b4 = await runBuild(job);
    expect(b4.status).toBe('failed');
    const fresh = await master.api.buildFindings(b4.id, { onlyNew: true });
    expect(fresh.previousBuildId).toBe(b3.id);
    expect(fresh.findings.map((f) => [f.ruleId, f.file, f.line, f.severity])).toEqual([['aws-access-key-id', 'src/leak.ts', 1, 'high']]);
    expect(await master.api.buildLog(b4.id)).toMatch(/HIGH NEW aws-access-key-id src\/leak\.ts:1/);
    // ...and stays new on a re-run.
    const b5 = await finishedBuild((await master.api.rerunBuild(b4.id)).id);
    expect(b5.status).toBe('failed');
    expect((await master.api.buildFindings(b5.id)).new.high).toBe(1);

    const cli = await runCli(['findings', String(b4.id)], { env });
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(new RegExp(`new since build ${b3.id}: 1 high, 0 medium, 0 low`));
    expect(cli.stdout).toMatch(/high\s+NEW\s+slipway-secrets\s+aws-access-key-id\s+src\/leak\.ts:1/);
    const detail = await runCli(['build', String(b4.id)], { env });
    expect(detail.stdout).toMatch(/sarif \.slipway-scan\/scan\.sarif \(quality step 2\): 17 findings, 1 new/);
    const json = JSON.parse((await runCli(['findings', String(b4.id), '--new', '--json'], { env })).stdout);
    expect(json.findings).toHaveLength(1);
  }, 240_000);

  it('passes with a gate the findings stay within', async () => {
    const job = `scan-ok-${suffix}`;
    await master.api.applyJob(jobYaml(job, '{ high: 10, medium: 50 }'));
    const b = await runBuild(job);
    expect(b.status, await master.api.buildLog(b.id)).toBe('success');
  }, 120_000);
});
