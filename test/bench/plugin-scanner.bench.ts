/**
 * plugin_scanner_ms: what running a scan tool as a plugin costs (shellcheck through plugins/shellcheck-sarif:
 * a fresh node process per scan, which imports the plugin and spawns shellcheck), against the baseline
 * measured in the same run: shellcheck spawned straight from the agent's process with the same arguments, as
 * the adapter did before it became a plugin. Both over the scan fixture (test/fixtures/quality/scan-repo),
 * interleaved, median of ROUNDS after one untimed warm-up each. Noisy on a shared 2-CPU machine.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadTestPlugin } from '../conformance/kinds/plugins';
import { reportBench } from '../helpers/bench';
import { round } from './common';

const ROUNDS = Number(process.env.PLUGIN_BENCH_ROUNDS ?? 20);
const REPO = join(import.meta.dirname, '..', '..');
const FIXTURE = join(REPO, 'test', 'fixtures', 'quality', 'scan-repo');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const work = mkdtempSync(join(tmpdir(), 'slipway-bench-scanner-'));
try {
  const scanner = (await loadTestPlugin(join(REPO, 'plugins', 'shellcheck-sarif'), work)).executors.scanner('shellcheck')!;
  const ctx = { workspace: FIXTURE, root: FIXTURE, exclude: [], allowList: join(FIXTURE, '.none'), config: {}, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, signal: new AbortController().signal, log: () => undefined };
  const viaPlugin = async () => {
    const t0 = performance.now();
    const run = await scanner.run(ctx);
    if (!run.results.length) throw new Error('the plugin found nothing');
    return performance.now() - t0;
  };
  const direct = () => {
    const t0 = performance.now();
    // The same two calls the scanner makes (its version, then the scripts), as the in-agent adapter made them.
    spawnSync('shellcheck', ['--version'], { cwd: FIXTURE, encoding: 'utf8' });
    const r = spawnSync('shellcheck', ['-f', 'json1', '--', 'scripts/deploy.sh'], { cwd: FIXTURE, encoding: 'utf8' });
    if (!(JSON.parse(r.stdout) as { comments: unknown[] }).comments.length) throw new Error('shellcheck found nothing');
    return performance.now() - t0;
  };
  await viaPlugin();
  direct();
  const pluginMs: number[] = [];
  const directMs: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    pluginMs.push(await viaPlugin());
    directMs.push(direct());
  }
  const p = median(pluginMs);
  const d = median(directMs);
  reportBench({ plugin_scanner_ms: round(p), plugin_scanner_baseline_direct_ms: round(d), plugin_scanner_ratio: round(p / d, 2) });
} finally {
  rmSync(work, { recursive: true, force: true });
}
