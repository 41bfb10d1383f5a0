/**
 * Test reports over time with real master and agent processes and a real test runner (node --test with its
 * JUnit reporter) over a checked-out repository: one test breaks in a new commit (newly failing versus the
 * previous build of the branch), one fails only on odd build numbers (a re-run of the same commit passes it:
 * flaky), the job's trend lists every build; API and `slipway tests BUILD`.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { BuildDetail } from '../../shared/api';
import { runCli } from '../helpers/cli';
import { startAgent, startMaster, type TestMaster } from '../helpers/cluster';
import { waitFor } from '../helpers/wait';
import { tempDir, TestRepo } from '../unit/agent-git-fixtures';

const suffix = Math.random().toString(36).slice(2, 8);
const team = `qt-${suffix}`;
const job = `tests-${suffix}`;
let master: TestMaster;
let root: string;
let repo: TestRepo;

const testFile = (multiplyResult: number) => `import test from 'node:test';
import assert from 'node:assert';
test('adds', () => assert.strictEqual(1 + 1, 2));
test('multiplies', () => assert.strictEqual(2 * 2, ${multiplyResult}));
test('sometimes', () => assert.ok(Number(process.env.SLIPWAY_BUILD_NUMBER) % 2 === 0, 'odd build'));
test('slow', async () => { await new Promise((r) => setTimeout(r, 300)); });
`;

async function finished(id: number): Promise<BuildDetail> {
  return waitFor(`build ${id} finished`, async () => {
    const b = await master.api.getBuild(id);
    return b.status !== 'queued' && b.status !== 'running' ? b : undefined;
  }, { timeoutMs: 90_000 });
}

beforeAll(async () => {
  root = tempDir('quality-tests');
  repo = new TestRepo(join(root, 'app'));
  repo.commit('tests', { 'math.test.mjs': testFile(4) });
  master = await startMaster();
  await master.api.createTeam(team);
  await startAgent(master, { environment: 'ci', name: `ci-${suffix}` });
  await master.api.applyJob(`name: ${job}
team: ${team}
repo: { url: '${repo.url}' }
stages:
  - name: test
    environment: ci
    steps:
      - test:
          run: node --test --test-reporter=junit --test-reporter-destination=junit.xml math.test.mjs
          junit: junit.xml
`);
}, 60_000);

afterAll(async () => {
  await master?.stop();
  rmSync(root, { recursive: true, force: true });
});

it('shows newly failing, fixed, flaky and slowest tests and the trend, in the API and the CLI', async () => {
  // #1 (odd): 'sometimes' fails. #2 re-runs the same commit (even): it passes -> flaky.
  const b1 = await finished((await master.api.trigger(job)).id);
  expect(b1.status).toBe('failed');
  const b2 = await finished((await master.api.rerunBuild(b1.id)).id);
  expect(b2.status, await master.api.buildLog(b2.id)).toBe('success');
  const r2 = await master.api.buildTestReport(b2.id);
  expect(r2.previousBuildId).toBe(b1.id);
  expect(r2.fixed.map((t) => t.name)).toEqual(['sometimes']);
  expect(r2.flaky).toMatchObject([{ name: 'sometimes', passedIn: [b2.id], failedIn: [b1.id] }]);
  expect(r2.slowest[0]).toMatchObject({ name: 'slow' });
  expect(r2.slowest[0].durationMs).toBeGreaterThanOrEqual(250);

  // #3 (odd) on a commit that breaks 'multiplies': newly failing are 'multiplies' (passed before) and 'sometimes'.
  repo.commit('break multiply', { 'math.test.mjs': testFile(5) });
  const b3 = await finished((await master.api.trigger(job)).id);
  expect(b3.status).toBe('failed');
  const r3 = await master.api.buildTestReport(b3.id);
  expect(r3.previousBuildId).toBe(b2.id);
  expect(r3.totals).toMatchObject({ tests: 4, passed: 2, failed: 2 });
  expect(r3.newlyFailing.map((t) => [t.name, t.before]).sort()).toEqual([
    ['multiplies', 'passed'],
    ['sometimes', 'passed'],
  ]);
  expect(r3.flaky).toEqual([]);

  const trend = await master.api.testTrend(job);
  expect(trend.map((p) => [p.buildId, p.tests, p.failures])).toEqual([
    [b3.id, 4, 2],
    [b2.id, 4, 0],
    [b1.id, 4, 1],
  ]);

  const env = { SLIPWAY_URL: master.url, SLIPWAY_TOKEN: master.api.token! };
  const cli = await runCli(['tests', String(b3.id)], { env });
  expect(cli.code, cli.stderr).toBe(0);
  expect(cli.stdout).toContain(`compared with build ${b2.id}`);
  expect(cli.stdout).toMatch(/NEWLY FAILING .*multiplies \(passed before\)/);
  expect(cli.stdout).toMatch(/slowest:\n.*\n\s*0\.3\d\ds\s+.*slow/);
  expect(cli.stdout).toMatch(/trend of /);
  const flakyCli = await runCli(['tests', String(b2.id)], { env });
  expect(flakyCli.stdout).toMatch(new RegExp(`FLAKY .*sometimes \\(passed in build ${b2.id}; failed in build ${b1.id}\\)`));
}, 240_000);
