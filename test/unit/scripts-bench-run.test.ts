/**
 * scripts/bench-run.sh (used by scripts/bench.sh, `npm run bench`): a benchmark file that fails or passes its
 * time limit gets the reason and the last lines of its own output printed after it. Before, a timeout showed
 * only "bench NAME failed", with nothing of what the benchmark had printed. Fake benchmark files in a temp dir.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/process';

const dir = mkdtempSync(join(tmpdir(), 'slipway-benchrun-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(name: string, source: string, timeoutS: number) {
  const file = join(dir, `${name}.bench.mjs`);
  writeFileSync(file, source);
  const script = `set -euo pipefail
source ${JSON.stringify(join(REPO_ROOT, 'scripts', 'lib.sh'))}
source ${JSON.stringify(join(REPO_ROOT, 'scripts', 'bench-run.sh'))}
cd ${JSON.stringify(REPO_ROOT)}
if run_bench_file ${name} ${JSON.stringify(file)} ${JSON.stringify(join(dir, `${name}.json`))} ${JSON.stringify(join(dir, `${name}.out`))}; then echo PASSED; else echo FAILED; fi`;
  const r = spawnSync('bash', ['-c', script], { encoding: 'utf8', env: { ...process.env, BENCH_TIMEOUT_S: String(timeoutS) }, timeout: 60_000 });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status, kept: readFileSync(join(dir, `${name}.out`), 'utf8') };
}

it('prints the reason and the last 40 lines of a benchmark that fails', () => {
  const r = run('broken', `for (let i = 1; i <= 60; i++) console.log('progress ' + i);\nconsole.error('boom: the fixture is missing');\nprocess.exit(3);\n`, 60);
  expect(r.status).toBe(0);
  // Shown as it came (stdout), then again after the reason (stderr), and FAILED returned to the caller.
  expect(r.stdout).toMatch(/^progress 1\n[^]*progress 60\nboom: the fixture is missing\nFAILED\n$/);
  const tail = r.stderr.split('\n').filter(Boolean);
  expect(tail[0]).toBe('==> bench broken failed: exit status 3; the last 40 lines of its output:');
  expect(tail.slice(1)).toEqual([...Array.from({ length: 39 }, (_, i) => `  | progress ${i + 22}`), '  | boom: the fixture is missing']);
  expect(r.kept.split('\n').filter(Boolean).length).toBe(61);
});

it('prints what a benchmark had printed when it times out', () => {
  const r = run('slow', `console.log('phase 1 done: 12 figures');\nconsole.error('phase 2: waiting for the engine');\nsetInterval(() => undefined, 1000);\n`, 5);
  expect(r.stdout.trim().split('\n').at(-1)).toBe('FAILED');
  expect(r.stderr).toContain('==> bench slow failed: timed out after 5 s (BENCH_TIMEOUT_S); the last 40 lines of its output:\n  | phase 1 done: 12 figures\n  | phase 2: waiting for the engine\n');
});

it('says so when a benchmark printed nothing', () => {
  const r = run('silent', `process.exit(2);\n`, 60);
  expect(r.stderr).toBe('==> bench silent failed: exit status 2; it printed nothing\n');
});

it('keeps a passing benchmark quiet beyond its own output', () => {
  const r = run('fine', `console.log('fine_ms: 1');\n`, 60);
  expect(r.stdout).toBe('fine_ms: 1\nPASSED\n');
  expect(r.stderr).toBe('');
});
