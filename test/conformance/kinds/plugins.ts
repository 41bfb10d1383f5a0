/**
 * Plugin kinds in the conformance suite: each test plugin is packed into a .tgz and unpacked the way the agent
 * does it (shared/node/tarball.ts), its manifest read with the same zod schema, its executors made by the agent's
 * pluginExecutor and registered with registerPlugin like the built-ins. The sample plugin (plugins/dockerfile-lint)
 * passes the generic contract; test/fixtures/plugins/sh-plugin runs a command, so it passes the process
 * contract too (env, secrets masked, no agent env, build user, group kill on timeout and cancel).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExecutorRegistry } from '../../../agent/executors/registry';
import { pluginExecutor, pluginScanner } from '../../../agent/plugins/manager';
import type { StepExecutor } from '../../../agent/executors/types';
import type { PluginCode } from '../../../agent/plugins/plugin-process';
import { builtinScannerKinds, builtinStepKinds, type StepKinds } from '../../../shared/job';
import { manifestFromFiles } from '../../../shared/plugins/manifest';
import { pluginScannerKinds, pluginStepKinds } from '../../../shared/plugins/step-kind';
import { unpackTarball } from '../../../shared/node/tarball';
import type { KindFixture } from '../step-executor.contract';

const REPO = join(import.meta.dirname, '..', '..', '..');

export interface LoadedTestPlugin {
  executors: ExecutorRegistry;
  kinds: StepKinds;
  executor(kind: string): StepExecutor;
  code: PluginCode;
}

/** Packs `src` (npm pack layout), unpacks it under `workDir/plugins/NAME@VERSION` and registers its kinds and scanners. */
export async function loadTestPlugin(src: string, workDir: string): Promise<LoadedTestPlugin> {
  const read = (f: string) => {
    try {
      return readFileSync(join(src, f), 'utf8');
    } catch {
      return undefined;
    }
  };
  const manifest = manifestFromFiles({ 'slipway-plugin.json': read('slipway-plugin.json'), 'package.json': read('package.json') });
  mkdirSync(workDir, { recursive: true, mode: 0o755 });
  const tgz = join(workDir, `${manifest.name}.tgz`);
  execFileSync('tar', ['-czf', tgz, '-C', src, '--transform', 's,^\\.,package,', '.']);
  const dir = join(workDir, 'plugins', `${manifest.name}@${manifest.version}`);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  await unpackTarball(tgz, dir);
  const code = { name: manifest.name, version: manifest.version, dir, entry: join(dir, manifest.entry.agent!) };
  const defs = pluginStepKinds(manifest);
  const scannerDefs = pluginScannerKinds(manifest);
  const executors = new ExecutorRegistry().registerPlugin({
    name: manifest.name,
    version: manifest.version,
    executors: defs.map((d) => pluginExecutor(d, code)),
    scanners: scannerDefs.map((d) => pluginScanner(d, code)),
  });
  const scanners = builtinScannerKinds();
  for (const d of scannerDefs) scanners.register(d);
  const kinds = builtinStepKinds(scanners);
  for (const d of defs) kinds.register(d);
  return { executors, kinds, executor: (kind) => executors.get(kind)!, code };
}

export function pluginFixtures(workDir: string): Promise<KindFixture[]> {
  return Promise.all([
    loadTestPlugin(join(REPO, 'plugins', 'dockerfile-lint'), workDir).then(
      (p): KindFixture => ({
        executor: p.executor('dockerfile-lint'),
        registry: () => p.executors,
        kinds: () => p.kinds,
        good: async () => ({ config: { failOn: 'none' } }),
        invalid: { config: { failOn: 'sometimes' }, field: /failOn/ },
      }),
    ),
    loadTestPlugin(join(REPO, 'test', 'fixtures', 'plugins', 'sh-plugin'), workDir).then(
      (p): KindFixture => ({
        executor: p.executor('plugin-sh'),
        registry: () => p.executors,
        kinds: () => p.kinds,
        good: async () => ({ config: { run: 'echo hello' } }),
        invalid: { config: { run: 'true', shell: '' }, field: /shell/ },
        process: {
          exit: (code) => ({ run: `echo before; exit ${code}` }),
          printEnv: (name) => ({ run: `printf '%s\\n' "$${name}"` }),
          grandchild: (pidFile, ignoreTerm) => ({ run: `${ignoreTerm ? "trap '' TERM; " : ''}sleep 30 & echo $! > ${pidFile}; wait` }),
          read: (path) => ({ run: `cat ${path}` }),
          unstartable: () => ({ run: 'true', shell: '/nonexistent/sh' }),
        },
      }),
    ),
  ]);
}
