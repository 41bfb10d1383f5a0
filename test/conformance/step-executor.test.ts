/**
 * The StepExecutor conformance suite: every built-in kind passes the generic contract (and the process contract
 * when it runs a steerable process) through its fixture in kinds/; kind-specific checks follow. Executors run
 * for real (real processes, real workspaces, as the build user when the test runs as root). A new kind adds a
 * fixture to `fixtures` and passes the same checks.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinExecutors, type ExecutorRegistry } from '../../agent/executors/registry';
import { checkoutExecutor } from '../../agent/executors/checkout';
import { createScanExecutor, scanExecutor } from '../../agent/executors/scan';
import type { StepExecutor } from '../../agent/executors/types';
import { SCAN_REPORT_PATH } from '../../shared/job/kinds/scan';
import { Harness } from './executor-harness';
import { checkoutFixture, checkoutSource, conformanceRepo } from './kinds/checkout';
import { loadTestPlugin } from './kinds/plugins';
import { cleanUpDocker, deployFixture, imageFixture } from './kinds/docker';
import { scanFixture } from './kinds/scan';
import { shellFixture } from './kinds/shell';
import { executorContract, type KindFixture } from './step-executor.contract';

const fixtures: KindFixture[] = [shellFixture, checkoutFixture, imageFixture, deployFixture, scanFixture];
const h = new Harness();
beforeAll(() => h.open());
afterAll(async () => {
  h.close();
  await cleanUpDocker();
});

it('has a fixture for every built-in executor', () => {
  expect(builtinExecutors().list().filter((e) => !e.scanner).map((e) => e.kind).sort()).toEqual(fixtures.map((f) => f.executor.kind).sort());
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

describe('scan specifics', () => {
  const repo = join(import.meta.dirname, '..', 'fixtures', 'quality', 'scan-repo');
  /** The built-in scanners plus the plugins' (eslint-sarif, shellcheck-sarif), in one registry as on an agent. */
  let withPlugins: StepExecutor;
  let registry: ExecutorRegistry;
  beforeAll(async () => {
    registry = builtinExecutors();
    for (const [dir, kind] of [['eslint-sarif', 'eslint'], ['shellcheck-sarif', 'shellcheck']]) {
      const p = await loadTestPlugin(join(import.meta.dirname, '..', '..', 'plugins', dir), join(h.workDir, `scan-${dir}`));
      registry.registerPlugin({ name: p.code.name, version: p.code.version, executors: [], scanners: [p.executors.scanner(kind)!] });
    }
    withPlugins = createScanExecutor(registry);
  });

  it('reports the plugin scanners with their plugin and version, marked as scanners', () => {
    expect(registry.list().filter((e) => e.scanner).map((e) => `${e.kind} ${e.plugin}@${e.version}`).sort()).toEqual([
      expect.stringMatching(/^dockerfile builtin@/),
      'eslint eslint-sarif@1.0.0',
      expect.stringMatching(/^secrets builtin@/),
      'shellcheck shellcheck-sarif@1.0.0',
    ]);
  });

  it('writes one SARIF run per tool into its report file, findings counted in its outputs', async () => {
    const r = await h.run(withPlugins, { tools: ['secrets', 'dockerfile', 'shellcheck', 'eslint'] }, { prepare: (ws) => cpSync(repo, ws, { recursive: true }) });
    expect(r.result.status, r.output).toBe('success');
    const sarif = JSON.parse(readFileSync(join(r.workspace, SCAN_REPORT_PATH), 'utf8')) as { version: string; runs: { tool: { driver: { name: string } }; results: unknown[] }[] };
    expect(sarif.version).toBe('2.1.0');
    expect(sarif.runs.map((x) => x.tool.driver.name)).toEqual(['slipway-secrets', 'slipway-dockerfile', 'shellcheck', 'eslint']);
    expect(r.result.outputs).toMatchObject({ findings: sarif.runs.reduce((n, x) => n + x.results.length, 0) });
    expect(r.output).toMatch(/eslint: skipped/);
    // The report never carries a planted token.
    expect(readFileSync(join(r.workspace, SCAN_REPORT_PATH), 'utf8')).not.toContain('ghp_Zq9vT3kLmN8pR2sW5xY7aB4cD6eF1gH0jK2L');
  });

  it('names an unknown tool', async () => {
    const r = await h.run(withPlugins, { tools: ['nope'] });
    expect(r.result).toMatchObject({ status: 'error', error: expect.stringMatching(/no scanner 'nope'.*secrets, dockerfile, eslint, shellcheck/) });
  });

  it('fails the step, not the agent, when a plugin scanner fails, naming the plugin', async () => {
    const r = await h.run(withPlugins, { tools: ['secrets', 'shellcheck'] }, { prepare: (ws) => cpSync(repo, ws, { recursive: true }), env: { PATH: '/nonexistent' } });
    expect(r.result).toMatchObject({ status: 'error', error: expect.stringMatching(/scan: shellcheck failed: plugin shellcheck-sarif@1\.0\.0: the 'shellcheck' scanner threw: Error: shellcheck is not installed/) });
  });

  it('hands a plugin scanner its settings from config', async () => {
    const all = await h.run(withPlugins, { tools: ['shellcheck'] }, { prepare: (ws) => cpSync(repo, ws, { recursive: true }) });
    const some = await h.run(withPlugins, { tools: ['shellcheck'], config: { shellcheck: { severity: 'error' } } }, { prepare: (ws) => cpSync(repo, ws, { recursive: true }) });
    expect(all.result.outputs).toMatchObject({ low: expect.any(Number) });
    expect((all.result.outputs as { low: number }).low).toBeGreaterThan(0);
    expect(some.result.outputs).toMatchObject({ low: 0, medium: 0, high: (all.result.outputs as { high: number }).high });
  });

  it('does not follow a symbolic link out of the workspace', async () => {
    const outside = mkdtempSync(join(tmpdir(), 'slipway-scan-outside-'));
    writeFileSync(join(outside, 'creds.txt'), 'AKIAQ7EXAMPLEZZ3OUTS\n');
    const r = await h.run(scanExecutor, { tools: ['secrets'] }, { prepare: (ws) => { symlinkSync(outside, join(ws, 'linked')); symlinkSync(join(outside, 'creds.txt'), join(ws, 'creds.txt')); } });
    rmSync(outside, { recursive: true, force: true });
    expect(r.result.outputs).toMatchObject({ findings: 0 });
  });
});

describe('scan report writing', () => {
  it('writes its report as the build user: a planted .slipway-scan link does not make the agent write elsewhere', async () => {
    const outside = mkdtempSync(join(tmpdir(), 'slipway-scan-target-'));
    const r = await h.run(scanExecutor, { tools: ['dockerfile'] }, { prepare: (ws) => symlinkSync(outside, join(ws, '.slipway-scan')) });
    try {
      // Without root the agent and the step are one user: nothing to escalate, the link is followed.
      if (h.runAs) {
        // The build user may not write into a root-owned 0700 directory: the step errors, nothing lands there.
        expect(r.result.status).toBe('error');
        expect(r.result.error).toMatch(/could not write \.slipway-scan\/scan\.sarif/);
        expect(() => statSync(join(outside, 'scan.sarif'))).toThrow();
      }
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });
});
