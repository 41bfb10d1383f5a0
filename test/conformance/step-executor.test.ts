/**
 * The StepExecutor conformance suite: every built-in kind passes the generic contract (and the process contract
 * when it runs a steerable process) through its fixture in kinds/; kind-specific checks follow. Executors run
 * for real (real processes, real workspaces, as the build user when the test runs as root). A new kind adds a
 * fixture to `fixtures` and passes the same checks.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinExecutors } from '../../agent/executors/registry';
import { checkoutExecutor } from '../../agent/executors/checkout';
import { Harness } from './executor-harness';
import { checkoutFixture, checkoutSource, conformanceRepo } from './kinds/checkout';
import { cleanUpDocker, deployFixture, imageFixture } from './kinds/docker';
import { shellFixture } from './kinds/shell';
import { executorContract, type KindFixture } from './step-executor.contract';

const fixtures: KindFixture[] = [shellFixture, checkoutFixture, imageFixture, deployFixture];
const h = new Harness();
beforeAll(() => h.open());
afterAll(async () => {
  h.close();
  await cleanUpDocker();
});

it('has a fixture for every built-in executor', () => {
  expect(builtinExecutors().list().map((e) => e.kind).sort()).toEqual(fixtures.map((f) => f.executor.kind).sort());
});

for (const f of fixtures) executorContract(h, f);

describe('checkout specifics', () => {
  it('fails without a source, naming why', async () => {
    const r = await h.run(checkoutExecutor, {});
    expect(r.result).toMatchObject({ status: 'error', exitCode: null, error: expect.stringMatching(/without a source/) });
  });

  it('publishes the commit it checked out as outputs, files owned by the build user', async () => {
    const r = await h.run(checkoutExecutor, {}, { source: checkoutSource() });
    expect(r.result.outputs).toEqual({ sha: conformanceRepo().sha, author: 'c <c@x>', message: 'c1' });
    expect(checkoutExecutor.def.commitOf?.(r.result.outputs!)).toEqual({ sha: conformanceRepo().sha, author: 'c <c@x>', message: 'c1' });
    if (h.runAs) expect(statSync(join(r.workspace, 'f.txt')).uid).toBe(h.runAs.uid);
  });
});
