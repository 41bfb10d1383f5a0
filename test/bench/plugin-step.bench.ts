/**
 * plugin_step_ms: what running a step through a plugin costs, against the built-in shell step as the baseline
 * measured in the same run. Plugin code runs in a fresh node process per step (as the build user when root),
 * which imports the plugin's entry (agent/plugins/plugin-process.ts); the built-in shell step spawns `sh` only.
 * Both run `true` in a fresh 0700 workspace of the build user, through the conformance harness (the runner's
 * own log shipper and masking). Median of ROUNDS steps each, after one untimed warm-up of each.
 * Also: plugin_load_ms, the agent's load of a package (unpack of the .tgz + the import check in a child),
 * median of LOAD_ROUNDS. Figures are noisy on a shared 2-CPU machine.
 */
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { shellExecutor } from '../../agent/executors/shell';
import { describePlugin } from '../../agent/plugins/plugin-process';
import { Harness } from '../conformance/executor-harness';
import { loadTestPlugin } from '../conformance/kinds/plugins';
import { reportBench } from '../helpers/bench';
import { round } from './common';

const ROUNDS = Number(process.env.PLUGIN_BENCH_ROUNDS ?? 30);
const LOAD_ROUNDS = 5;
const REPO = join(import.meta.dirname, '..', '..');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const h = new Harness();
await h.open();
try {
  const loadMs: number[] = [];
  let plugin!: Awaited<ReturnType<typeof loadTestPlugin>>;
  for (let i = 0; i < LOAD_ROUNDS; i++) {
    const t0 = performance.now();
    plugin = await loadTestPlugin(join(REPO, 'test', 'fixtures', 'plugins', 'sh-plugin'), join(h.workDir, `load-${i}`));
    const { kinds } = await describePlugin(plugin.code, h.runAs);
    loadMs.push(performance.now() - t0);
    if (!kinds.includes('plugin-sh')) throw new Error(`plugin-sh not exported (${kinds.join(', ')})`);
  }
  const pluginEx = plugin.executor('plugin-sh');
  const time = async (run: () => Promise<{ result: { status: string } }>) => {
    const t0 = performance.now();
    const r = await run();
    if (r.result.status !== 'success') throw new Error(`step ${r.result.status}`);
    return performance.now() - t0;
  };
  await time(() => h.run(shellExecutor, { run: 'true' }));
  await time(() => h.run(pluginEx, { run: 'true' }));
  const shellMs: number[] = [];
  const pluginMs: number[] = [];
  // Interleaved, so drift in the machine's load hits both alike.
  for (let i = 0; i < ROUNDS; i++) {
    shellMs.push(await time(() => h.run(shellExecutor, { run: 'true' })));
    pluginMs.push(await time(() => h.run(pluginEx, { run: 'true' })));
  }
  const p = median(pluginMs);
  const s = median(shellMs);
  reportBench({
    plugin_step_ms: round(p),
    plugin_step_baseline_shell_ms: round(s),
    plugin_step_ratio: round(p / s, 2),
    plugin_load_ms: round(median(loadMs)),
  });
} finally {
  h.close();
}
