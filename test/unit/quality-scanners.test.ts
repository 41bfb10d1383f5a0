/**
 * The scan step's built-in scanners on the fixture repository with planted test tokens
 * (test/fixtures/quality/scan-repo), and the shellcheck scanner of plugins/shellcheck-sarif with the real
 * Debian shellcheck, run in a child node process the way the agent runs it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerfileScanner } from '../../agent/scanners/dockerfile';
import { entropy, secretsScanner } from '../../agent/scanners/secrets';
import type { SarifRun, Scanner, ScanContext } from '../../agent/scanners/types';
import { loadTestPlugin } from '../conformance/kinds/plugins';
import { gateProblems } from '../../shared/job/gate';

const repo = join(import.meta.dirname, '..', 'fixtures', 'quality', 'scan-repo');
const ctx = (config: Record<string, unknown> = {}): ScanContext & { lines: string[] } => {
  const lines: string[] = [];
  return { workspace: repo, root: repo, exclude: [], allowList: join(repo, '.slipway/secrets-allow'), config, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, signal: new AbortController().signal, log: (l) => lines.push(l), lines };
};
const found = (run: SarifRun) => run.results.map((r) => `${r.ruleId} ${r.level} ${r.locations[0].physicalLocation.artifactLocation.uri}:${r.locations[0].physicalLocation.region?.startLine}`).sort();

describe('secrets scanner', () => {
  it('finds the planted tokens by format and entropy, honours the allow-list and inline marks, never shows a token', async () => {
    const run = await secretsScanner.run(ctx());
    expect(found(run)).toEqual(['aws-access-key-id error config/settings.py:2', 'generic-secret warning config/settings.py:4', 'github-token error config/settings.py:3']);
    const text = JSON.stringify(run);
    for (const token of ['AKIAQ7EXAMPLEZZ3PLNT', 'ghp_Zq9vT3kLmN8pR2sW5xY7aB4cD6eF1gH0jK2L', 'Xk29!fLq#73mZp0vRt4W']) expect(text).not.toContain(token);
    expect(run.results.find((r) => r.ruleId === 'github-token')!.message.text).toBe('GitHub token: ghp_... (40 characters)');
  });

  it('measures entropy in bits per character', () => {
    expect(entropy('aaaa')).toBe(0);
    expect(entropy('abcd')).toBe(2);
  });
});

describe('dockerfile and compose linter', () => {
  it('reports root user, unpinned images, missing health checks and secrets in env', async () => {
    const run = await dockerfileScanner.run(ctx());
    expect(found(run)).toEqual([
      'latest-tag warning deploy/Dockerfile:3',
      'latest-tag warning deploy/compose.yml:3',
      'no-healthcheck note deploy/Dockerfile:3',
      'no-healthcheck note deploy/compose.yml:2',
      'root-user warning deploy/Dockerfile:3',
      'root-user warning deploy/compose.yml:4',
      'secret-in-env error deploy/Dockerfile:4',
      'secret-in-env error deploy/compose.yml:6',
    ]);
    expect(JSON.stringify(run)).not.toContain('hunter2');
  });
});

describe('shellcheck scanner of the shellcheck-sarif plugin (real shellcheck)', () => {
  let shellcheck: Scanner;
  let work: string;
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'slipway-shellcheck-plugin-'));
    shellcheck = (await loadTestPlugin(join(import.meta.dirname, '..', '..', 'plugins', 'shellcheck-sarif'), work)).executors.scanner('shellcheck')!;
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('converts shellcheck json1 findings to SARIF', async () => {
    const c = ctx();
    const run = await shellcheck.run(c);
    expect(run.tool.driver.name).toBe('shellcheck');
    expect(found(run)).toEqual(expect.arrayContaining(['SC2086 note scripts/deploy.sh:4', 'SC2045 error scripts/deploy.sh:5']));
    expect(c.lines.join('\n')).toMatch(/^shellcheck \S+: \d+ scripts, \d+ findings$/m);
  });

  it('passes its settings to shellcheck: a severity floor and excluded codes', async () => {
    const run = await shellcheck.run(ctx({ severity: 'warning', exclude: ['SC2045'] }));
    expect(found(run)).not.toContain('SC2045 error scripts/deploy.sh:5');
    expect(run.results.every((r) => r.level !== 'note')).toBe(true);
  });

  it('fails naming shellcheck when it is not on the PATH', async () => {
    const c = { ...ctx(), env: { PATH: '/nonexistent' } };
    await expect(shellcheck.run(c)).rejects.toThrow(/shellcheck-sarif@1\.0\.0: the 'shellcheck' scanner threw: Error: shellcheck is not installed on this agent \(Debian: apt-get install shellcheck\)/);
  });
});

describe('quality gate', () => {
  const s = { total: { high: 2, medium: 5, low: 0 }, new: { high: 1, medium: 0, low: 0 } };
  it('names every limit exceeded', () => {
    expect(gateProblems({ high: 5, newMedium: 0 }, s)).toEqual([]);
    expect(gateProblems({ high: 0, newHigh: 0, medium: 10 }, s)).toEqual(['2 high findings (at most 0)', '1 new high findings (at most 0)']);
  });
});
