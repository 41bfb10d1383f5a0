/**
 * The scan step's eslint scanner, from the plugin plugins/eslint-sarif (packed, unpacked and run in a child
 * node process the way the agent does), against the real ESLint on a fixture project with known findings
 * (test/fixtures/quality/eslint-project): with the SARIF formatter (@microsoft/eslint-formatter-sarif)
 * installed in the project, and with only ESLint (its json output converted); skipped without ESLint.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SarifRun, Scanner, ScanContext } from '../../agent/scanners/types';
import { loadTestPlugin } from '../conformance/kinds/plugins';

const REPO = resolve(import.meta.dirname, '..', '..');
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
let eslintScanner: Scanner;
beforeAll(async () => {
  const work = mkdtempSync(join(tmpdir(), 'slipway-eslint-plugin-'));
  dirs.push(work);
  eslintScanner = (await loadTestPlugin(join(REPO, 'plugins', 'eslint-sarif'), work)).executors.scanner('eslint')!;
});

/** A copy of the fixture project; `modules`: its node_modules is the repository's, only eslint's bin, or none. */
function project(modules: 'full' | 'eslint-only' | 'none'): string {
  const dir = mkdtempSync(join(tmpdir(), 'slipway-eslint-'));
  dirs.push(dir);
  cpSync(join(REPO, 'test', 'fixtures', 'quality', 'eslint-project'), dir, { recursive: true });
  if (modules === 'full') symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'));
  if (modules === 'eslint-only') {
    mkdirSync(join(dir, 'node_modules', '.bin'), { recursive: true });
    symlinkSync(join(REPO, 'node_modules', 'eslint', 'bin', 'eslint.js'), join(dir, 'node_modules', '.bin', 'eslint'));
  }
  return dir;
}

const ctx = (dir: string, config: Record<string, unknown> = {}): ScanContext & { lines: string[] } => {
  const lines: string[] = [];
  return { workspace: dir, root: dir, exclude: [], allowList: join(dir, 'none'), config, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir }, signal: new AbortController().signal, log: (l) => lines.push(l), lines };
};
const found = (run: SarifRun) =>
  run.results.map((r) => `${r.ruleId} ${r.level ?? '(rule default)'} ${r.locations[0].physicalLocation.artifactLocation.uri}:${r.locations[0].physicalLocation.region?.startLine}`).sort();

describe('eslint adapter (real ESLint)', () => {
  it('takes the run of ESLint\'s SARIF formatter, with workspace-relative files', async () => {
    const c = ctx(project('full'));
    const run = await eslintScanner.run(c);
    expect(c.lines.join('\n')).toMatch(/eslint \(SARIF formatter\): 3 findings/);
    expect(run.tool.driver.name).toBe('eslint');
    expect(run.results.map((r) => [r.ruleId, r.locations[0].physicalLocation.artifactLocation.uri, r.locations[0].physicalLocation.region?.startLine]).sort()).toEqual([
      ['eqeqeq', 'src/app.js', 3],
      ['no-eval', 'src/app.js', 3],
      ['no-unused-vars', 'src/app.js', 1],
    ]);
  }, 60_000);

  it('converts ESLint json output when the SARIF formatter is not installed', async () => {
    const run = await eslintScanner.run(ctx(project('eslint-only')));
    expect(found(run)).toEqual(['eqeqeq warning src/app.js:3', 'no-eval error src/app.js:3', 'no-unused-vars error src/app.js:1']);
  }, 60_000);

  it('takes its settings: json output on request, only the patterns named', async () => {
    const c = ctx(project('full'), { format: 'json', patterns: ['src'] });
    const run = await eslintScanner.run(c);
    expect(c.lines.join('\n')).toMatch(/eslint \(json output\): 3 findings/);
    expect(found(run)).toEqual(['eqeqeq warning src/app.js:3', 'no-eval error src/app.js:3', 'no-unused-vars error src/app.js:1']);
  }, 60_000);

  it('refuses settings its schema does not allow, naming the field', async () => {
    await expect(eslintScanner.run(ctx(project('none'), { format: 'xml' }))).rejects.toThrow(/config\.eslint\.format: /);
  });

  it('fails with the reason when format sarif is asked of a project without the formatter', async () => {
    await expect(eslintScanner.run(ctx(project('eslint-only'), { format: 'sarif' }))).rejects.toThrow(/plugin eslint-sarif@1\.0\.0: the 'eslint' scanner threw: Error: format sarif: @microsoft\/eslint-formatter-sarif is not installed/);
  }, 60_000);

  it('skips a project without ESLint, saying so', async () => {
    const c = ctx(project('none'));
    expect((await eslintScanner.run(c)).results).toEqual([]);
    expect(c.lines).toEqual(['eslint: skipped (no node_modules/.bin/eslint in the scanned directory)']);
  });
});
