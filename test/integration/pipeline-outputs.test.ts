/**
 * Step outputs and reports end to end, with real master and agent processes: stage 1 on one agent publishes an
 * output through $SLIPWAY_OUTPUT that stage 2 on another agent uses by reference; a reference to a missing
 * output is refused at apply with file:line:col; a JUnit report written by a real test runner
 * (node --test --test-reporter=junit) with one failing test shows up as structured results, in the API and in
 * `slipway build N`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../../shared/errors';
import { runCli } from '../helpers/cli';
import { startAgent, startMaster, type TestMaster } from '../helpers/cluster';
import { waitFor } from '../helpers/wait';

const suffix = Math.random().toString(36).slice(2, 8);
const team = `out-${suffix}`;
let master: TestMaster;

async function runBuild(job: string) {
  const { id } = await master.api.trigger(job);
  return waitFor(`build ${id} finished`, async () => {
    const b = await master.api.getBuild(id);
    return b.status !== 'queued' && b.status !== 'running' ? b : undefined;
  }, { timeoutMs: 60_000 });
}

beforeAll(async () => {
  master = await startMaster();
  await master.api.createTeam(team);
  await startAgent(master, { environment: 'ci', name: `ci-${suffix}` });
  await startAgent(master, { environment: 'pre', name: `pre-${suffix}` });
});

afterAll(async () => {
  await master?.stop();
});

describe('step outputs', () => {
  it('stage 1 publishes an output that stage 2 on another agent uses', async () => {
    const job = `promote-${suffix}`;
    await master.api.applyJob(`name: ${job}
team: ${team}
secrets: []
stages:
  - name: build
    environment: ci
    steps:
      - id: image
        sh:
          run: |
            echo "digest=sha256:abc123" >> "$SLIPWAY_OUTPUT"
            printf 'notes<<EOF\\nline one\\nline two\\nEOF\\n' >> "$SLIPWAY_OUTPUT"
          outputs: [digest, notes]
      - id: same-stage
        sh: 'test "\${{ steps.image.outputs.digest }}" = sha256:abc123 && echo same=ok >> "$SLIPWAY_OUTPUT"'
  - name: deploy
    environment: pre
    steps:
      - sh: echo "deploying $DIGEST on $(hostname)"; test "$DIGEST" = sha256:abc123
        env: { DIGEST: "\${{ steps.image.outputs.digest }}" }
`);
    const b = await runBuild(job);
    expect(b.status, JSON.stringify(b.stages)).toBe('success');
    expect(b.stages[0].agent).toBe(`ci-${suffix}`);
    expect(b.stages[1].agent).toBe(`pre-${suffix}`);
    expect(b.stages[0].steps[0].outputs).toEqual({ digest: 'sha256:abc123', notes: 'line one\nline two' });
    expect(b.stages[0].steps[1].outputs).toEqual({ same: 'ok' });
    const outputs = await master.api.buildOutputs(b.id);
    expect(outputs.find((o) => o.key === 'digest')).toMatchObject({ stepId: 'image', stageIndex: 0, value: 'sha256:abc123' });
    expect(await master.api.buildLog(b.id)).toContain('deploying sha256:abc123');
    const cli = await runCli(['build', String(b.id)], { env: { SLIPWAY_URL: master.url, SLIPWAY_TOKEN: await adminToken() } });
    expect(cli.stdout).toContain('output digest = sha256:abc123');

    // A partial re-run from the deploy stage takes the skipped build stage's outputs from the build it re-runs.
    const rerun = await master.api.rerunBuild(b.id, 'deploy');
    const r = await waitFor(`re-run ${rerun.id} finished`, async () => {
      const x = await master.api.getBuild(rerun.id);
      return x.status !== 'queued' && x.status !== 'running' ? x : undefined;
    });
    expect(r.status, JSON.stringify(r.stages)).toBe('success');
    expect(await master.api.buildLog(r.id)).toContain('deploying sha256:abc123');
  });

  it('exports the step kinds as JSON Schema', async () => {
    const res = await fetch(`${master.url}/api/v1/plugins/schema`, { headers: { authorization: `Bearer ${await adminToken()}` } });
    const body = (await res.json()) as { stepKeys: Record<string, unknown> };
    expect(Object.keys(body.stepKeys)).toEqual(['checkout', 'compile', 'deploy', 'image', 'run', 'scan', 'sh', 'shell', 'test']);
    expect(JSON.stringify(body.stepKeys.sh)).toContain('"outputs"');
  });

  it('refuses a reference to a missing output at apply, naming file:line:col', async () => {
    const yaml = `name: bad-ref-${suffix}
team: ${team}
stages:
  - name: build
    environment: ci
    steps:
      - id: image
        sh: { run: echo digest=x >> "$SLIPWAY_OUTPUT", outputs: [digest] }
  - name: deploy
    environment: pre
    steps:
      - sh: echo \${{ steps.image.outputs.tag }}
`;
    const err = await master.api.applyJob(yaml).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    const issues = (err as ValidationError).issues;
    expect(issues[0]).toMatchObject({ line: 12, column: 18, field: 'stages[1].steps[0].sh' });
    expect(issues[0].message).toMatch(/publishes no output 'tag' \(it has: digest\)/);
  });

  it('fails a step whose output is not allowed (not a name) and says why', async () => {
    const job = `bad-out-${suffix}`;
    await master.api.applyJob(`name: ${job}
team: ${team}
stages:
  - name: build
    environment: ci
    steps:
      - sh: echo "not a line" >> "$SLIPWAY_OUTPUT"
`);
    const b = await runBuild(job);
    expect(b.status).toBe('failed');
    expect(b.stages[0].steps[0].error).toMatch(/SLIPWAY_OUTPUT line 1: expected key=value/);
  });
});

describe('reports', () => {
  it('a JUnit report from node --test with one failing test is stored as structured results', async () => {
    const job = `junit-${suffix}`;
    await master.api.applyJob(`name: ${job}
team: ${team}
stages:
  - name: test
    environment: ci
    steps:
      - sh: |
          cat > math.test.mjs <<'EOF'
          import test from 'node:test';
          import assert from 'node:assert';
          test('adds', () => assert.strictEqual(1 + 1, 2));
          test('subtracts', () => assert.strictEqual(3 - 1, 2));
          test('multiplies', () => assert.strictEqual(2 * 2, 5, 'two times two'));
          EOF
      - test:
          run: mkdir -p reports && node --test --test-reporter=junit --test-reporter-destination=reports/junit.xml math.test.mjs
          junit: reports/junit.xml
        continueOnError: true
      - test: { run: 'true', junit: reports/missing.xml }
      - test:
          run: mkdir -p many && for n in 1 2; do printf '<testsuite name="s%s"><testcase name="t%s"/></testsuite>' $n $n > many/r$n.xml; done
          junit: "many/*.xml"
`);
    const b = await runBuild(job);
    // The failing test fails its step (exit code), continueOnError lets the stage pass; the missing report does
    // not fail the last step: the job did not say failStep.
    expect(b.status, JSON.stringify(b.stages)).toBe('success');
    expect(b.stages[0].steps[1].status).toBe('failed');
    expect(b.reports).toHaveLength(4);
    const [junit, missing, many1, many2] = b.reports;
    expect([many1.path, many2.path, many1.tests, many2.tests]).toEqual(['many/r1.xml', 'many/r2.xml', 1, 1]);
    expect(junit).toMatchObject({ format: 'junit', path: 'reports/junit.xml', status: 'parsed', tests: 3, failures: 1, errors: 0, skipped: 0 });
    expect(missing).toMatchObject({ path: 'reports/missing.xml', status: 'missing', error: expect.stringMatching(/did not write reports\/missing\.xml/) });
    const tests = await master.api.buildTests(b.id);
    expect(tests).toHaveLength(5);
    expect(tests[0]).toMatchObject({ name: 'multiplies', status: 'failed', message: expect.stringMatching(/two times two/) });
    expect(tests.filter((t) => t.status === 'passed').map((t) => t.name).sort()).toEqual(['adds', 'subtracts', 't1', 't2']);
    expect(tests.filter((t) => !t.name.startsWith('t')).every((t) => t.durationMs !== null && t.durationMs >= 0)).toBe(true);
    const log = await master.api.buildLog(b.id);
    expect(log).toContain('junit report reports/junit.xml: 3 tests, 1 failed');
    expect(log).toContain('FAILED');
    const cli = await runCli(['build', String(b.id)], { env: { SLIPWAY_URL: master.url, SLIPWAY_TOKEN: await adminToken() } });
    expect(cli.stdout).toMatch(/junit reports\/junit\.xml \(test step 2\): 3 tests, 2 passed, 1 failed/);
    expect(cli.stdout).toContain('FAILED');
    expect(cli.stdout).toContain('multiplies');
  });

  it('fails the step on a malformed report only when the job says failStep', async () => {
    const job = `junit-bad-${suffix}`;
    await master.api.applyJob(`name: ${job}
team: ${team}
stages:
  - name: test
    environment: ci
    steps:
      - test: { run: 'echo "<testsuites><testcase>" > broken.xml', junit: broken.xml }
      - test: { run: 'echo "<html/>" > page.xml', junit: { path: page.xml, failStep: true } }
`);
    const b = await runBuild(job);
    expect(b.status).toBe('failed');
    expect(b.stages[0].steps[0].status).toBe('success');
    expect(b.stages[0].steps[1]).toMatchObject({ status: 'failed', error: expect.stringMatching(/not a JUnit report: the root element is <html>/) });
    expect(b.reports[0]).toMatchObject({ status: 'malformed', error: expect.stringMatching(/not well-formed XML/) });
  });
});

async function adminToken(): Promise<string> {
  const res = await fetch(`${master.url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: master.adminPassword }),
  });
  return ((await res.json()) as { token: string }).token;
}
