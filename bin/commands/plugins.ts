/**
 * Plugins (admin): `slipway plugin install <folder|package.tgz>` (a folder is packed like npm pack: its files
 * under package/, without .git and node_modules), `plugin list`, `plugin enable|disable <name>`,
 * `plugin remove <name>`. Installing a plugin that is installed at another version updates it.
 * Also localStepKinds: what `apply -f` validates with locally (built-ins + the enabled plugins' kinds, scanners,
 * notifiers and report formats).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { ApiClient } from '../../shared/client/api-client';
import { badRequest } from '../../shared/errors';
import type { StepKinds } from '../../shared/job';
import { stepKindsFromManifests } from '../../shared/plugins/step-kind';
import { sessionClient } from '../lib/client';
import { formatTime, printJson, printTable } from '../lib/output';

/** The package bytes of a .tgz file, or of a folder packed on the fly. */
function packageBytes(path: string): Buffer {
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    throw badRequest(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (!st.isDirectory()) return readFileSync(path);
  const dir = mkdtempSync(join(tmpdir(), 'slipway-plugin-'));
  try {
    const out = join(dir, 'package.tgz');
    const r = spawnSync('tar', ['-czf', out, '-C', resolve(path), '--exclude=./.git', '--exclude=./node_modules', '--transform', 's,^\\.,package,', '.'], { encoding: 'utf8' });
    if (r.status !== 0) throw badRequest(`packing ${path} failed: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim()}`);
    return readFileSync(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Built-in step kinds plus those of the master's enabled plugins, so job files using plugin kinds validate
 * locally too. A master that does not list plugin manifests (older) leaves the built-ins; the master validates again.
 */
export async function localStepKinds(client: ApiClient): Promise<StepKinds> {
  return stepKindsFromManifests(await client.pluginManifests().catch(() => []));
}

export function registerPluginCommands(program: Command): void {
  const plugin = program.command('plugin').description('plugins: step kinds installed on the master and run by agents (admin)');

  plugin
    .command('install <path>')
    .description('install a plugin package (.tgz as npm pack writes it, or a folder), or update the installed plugin of the same name')
    .option('--json', 'machine-readable output')
    .action(async (path: string, flags: { json?: boolean }) => {
      const out = await sessionClient().installPlugin(packageBytes(path));
      if (flags.json) return printJson(out);
      const p = out.plugin;
      const was = out.result === 'updated' && p.previousVersion ? ` (was ${p.previousVersion})` : '';
      process.stdout.write(`plugin ${p.name}@${p.version} ${out.result}${was}: ${[p.kinds.length ? `step kinds ${p.kinds.join(', ')}` : '', p.scanners?.length ? `scanners ${p.scanners.join(', ')}` : '', p.notifiers?.length ? `notifiers ${p.notifiers.join(', ')}` : '', p.reportFormats?.length ? `report formats ${p.reportFormats.join(', ')}` : ''].filter(Boolean).join('; ')}${p.enabled ? '' : ' (disabled)'}\n`);
    });

  plugin
    .command('list')
    .description('installed plugins, their versions and what connected agents run')
    .option('--json', 'machine-readable output')
    .action(async (flags: { json?: boolean }) => {
      const list = await sessionClient().listPluginPackages();
      if (flags.json) return printJson(list);
      printTable(
        ['NAME', 'VERSION', 'ENABLED', 'KINDS', 'PROTOCOL', 'AGENTS', 'UPDATED'],
        list.map((p) => [
          p.name,
          p.version,
          p.enabled ? 'yes' : 'no',
          [...p.kinds, ...(p.scanners ?? []).map((s) => `scan:${s}`), ...(p.notifiers ?? []).map((n) => `notify:${n}`), ...(p.reportFormats ?? []).map((f) => `report:${f}`)].join(',') || '-',
          p.protocol,
          p.agents.map((a) => `${a.agent}:${a.version}${a.state === 'failed' ? '(failed)' : ''}`).join(',') || '-',
          formatTime(p.updatedAt),
        ]),
      );
      for (const p of list) for (const a of p.agents) if (a.error) process.stderr.write(`${a.agent}: ${a.error}\n`);
    });

  for (const action of ['enable', 'disable'] as const) {
    plugin
      .command(`${action} <name>`)
      .description(action === 'enable' ? 'agents load the plugin again; jobs may use its step kinds' : 'agents unload the plugin; jobs using its step kinds are refused at apply and trigger')
      .action(async (name: string) => {
        const p = await sessionClient().setPluginEnabled(name, action === 'enable');
        process.stdout.write(`plugin ${p.name}@${p.version} ${action}d\n`);
      });
  }

  plugin
    .command('remove <name>')
    .description('remove a plugin and its packages (refused while an enabled job uses its step kinds)')
    .action(async (name: string) => {
      await sessionClient().removePlugin(name);
      process.stdout.write(`plugin ${name} removed\n`);
    });
}
