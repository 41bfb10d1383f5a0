/**
 * Installed plugins on the master: install and update from a package's bytes, enable, disable, remove, and
 * the step kind registries the master validates with. Packages are kept under `<data dir>/plugins/NAME/VERSION.tgz`
 * (an update keeps the old file: agents running a step of the old version already hold its code, and an admin
 * can go back by installing it again); the plugins table (store/plugins.ts) says which version agents run.
 *
 * Two registries:
 *  - enabledKinds(): built-ins + enabled plugins; a disabled plugin's kinds are refused by name
 *    (`step kind 'x' is provided by plugin 'p', which is disabled`). Job apply and trigger validate with it.
 *  - allKinds(): built-ins + every installed plugin: build snapshots and the job cache parse with it, so a
 *    disabled plugin never makes a stored build or job unreadable (its stages wait; see the README).
 * Plugin scanners (of the built-in scan step) follow the same two registries: the scan kind of each validates
 * its tools against the matching scanner registry. eslint and shellcheck were built-in scanners before they
 * became plugins: while no installed plugin provides one, allKinds() still reads jobs and builds that list it
 * (their stages need it, so they wait for the plugin, naming it) and enabledKinds() refuses it at apply.
 * Listeners (the agent gateway) are told after every change, to send master:plugins.
 */
import { createHash, randomBytes } from 'node:crypto';
import { access, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { badRequest, conflict, notFound } from '../../shared/errors';
import { builtinScannerKinds, builtinStepKinds, KNOWN_SCANNER_PLUGINS, type ScannerKinds, type StepKinds } from '../../shared/job';
import { z } from 'zod';
import { manifestFromFiles, PluginManifestError, protocolProblem, type PluginManifest } from '../../shared/plugins/manifest';
import { pluginNotifierKinds, pluginReportFormats, pluginScannerKinds, pluginStepKinds } from '../../shared/plugins/step-kind';
import { TarballError, unpackTarball } from '../../shared/node/tarball';
import { PROTOCOL_VERSION, type PluginRef } from '../../shared/protocol';
import type { Db } from '../store/db';
import { createPluginsStore, type PluginRow, type PluginsStore } from '../store/plugins';

/** Largest package accepted. */
export const MAX_PACKAGE_BYTES = 50 * 1024 * 1024;

export type InstallOutcome = { result: 'installed' | 'updated' | 'unchanged'; plugin: PluginRow };

export class PluginService {
  private readonly store: PluginsStore;
  private readonly dir: string;
  private readonly listeners: (() => void)[] = [];
  private kinds: { all: StepKinds; enabled: StepKinds; enabledScanners: ScannerKinds } | undefined;

  constructor(db: Db, dataDir: string) {
    this.store = createPluginsStore(db);
    this.dir = join(dataDir, 'plugins');
  }

  list(): PluginRow[] {
    return this.store.list();
  }

  get(name: string): PluginRow | undefined {
    return this.store.get(name);
  }

  /** What agents must run: every enabled plugin that has an agent entry, at its version. */
  wanted(): PluginRef[] {
    return this.store
      .list()
      .filter((p) => p.enabled && p.manifest.entry.agent)
      .map((p) => ({ name: p.name, version: p.version, sha256: p.sha256, bytes: p.bytes }));
  }

  /** The report formats installed plugin `name` provides (the scheduler matches them to what agents load). */
  reportFormatsOf(name: string): string[] {
    return this.store.get(name)?.manifest.provides.reportFormats.map((f) => f.name) ?? [];
  }

  /** Built-ins and every installed plugin (build snapshots, the job cache). */
  allKinds(): StepKinds {
    return this.registries().all;
  }

  /** Built-ins and enabled plugins; disabled plugins' kinds refused by name (apply, trigger). */
  enabledKinds(): StepKinds {
    return this.registries().enabled;
  }

  /** Built-in scanners and enabled plugins' scanners; disabled plugins' refused by name (waiting reasons). */
  enabledScanners(): ScannerKinds {
    return this.registries().enabledScanners;
  }

  /**
   * The enabled plugin providing notifier `kind`, with its package file, or why there is none (a delivery
   * attempt fails with that reason and is retried: the plugin may be enabled again meanwhile).
   */
  notifierOf(kind: string): { plugin: PluginRow; file: string; secrets: string[] } | { problem: string } {
    const problem = this.enabledKinds().notifiers.problem(kind);
    if (problem) return { problem };
    const plugin = this.store.list().find((p) => p.enabled && p.manifest.provides.notifiers.some((n) => n.kind === kind));
    if (!plugin) return { problem: `no enabled plugin provides notifier '${kind}'` };
    return { plugin, file: this.packagePath(plugin.name, plugin.version), secrets: plugin.manifest.provides.notifiers.find((n) => n.kind === kind)!.secrets };
  }

  /** The package file of the version agents run, with its recorded sha256 (the agent verifies the bytes). */
  packageOf(name: string, version: string): { file: string; sha256: string; bytes: number } | undefined {
    const p = this.store.get(name);
    if (!p || !p.enabled || p.version !== version) return undefined;
    return { file: this.packagePath(name, version), sha256: p.sha256, bytes: p.bytes };
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  /**
   * Installs a package (.tgz bytes), or updates the plugin of the same name to the package's version.
   * Throws invalid_request naming the manifest file and field, the protocol range, or the offending entry;
   * conflict when a kind is another plugin's or built in, or when the same version arrives with other bytes.
   */
  async install(bytes: Buffer, by: string): Promise<InstallOutcome> {
    if (bytes.length > MAX_PACKAGE_BYTES) throw badRequest(`the package is ${bytes.length} bytes, over the limit of ${MAX_PACKAGE_BYTES}`);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const tag = randomBytes(6).toString('hex');
    const incoming = join(this.dir, `.incoming-${tag}.tgz`);
    const unpacked = join(this.dir, `.unpack-${tag}`);
    try {
      await writeFile(incoming, bytes, { mode: 0o600 });
      await mkdir(unpacked, { mode: 0o700 });
      let manifest: PluginManifest;
      try {
        await unpackTarball(incoming, unpacked);
        const text = (f: string) => readFile(join(unpacked, f), 'utf8').catch(() => undefined);
        manifest = manifestFromFiles({ 'slipway-plugin.json': await text('slipway-plugin.json'), 'package.json': await text('package.json') });
      } catch (err) {
        if (err instanceof PluginManifestError || err instanceof TarballError) throw badRequest(`plugin package refused: ${err.message}`);
        throw err;
      }
      const protocol = protocolProblem(manifest, PROTOCOL_VERSION, 'this master');
      if (protocol) throw badRequest(`plugin package refused: ${protocol}`);
      for (const [field, path] of Object.entries(manifest.entry)) {
        if (path && !(await exists(join(unpacked, path)))) throw badRequest(`plugin package refused: entry.${field}: ${path} is not in the package`);
      }
      this.assertKindsFree(manifest);

      const existing = this.store.get(manifest.name);
      if (existing && existing.version === manifest.version) {
        if (existing.sha256 === sha256) return { result: 'unchanged', plugin: existing };
        throw conflict(`plugin ${manifest.name}@${manifest.version} is installed with other content (sha256 ${existing.sha256.slice(0, 12)}...); give the new package a new version`);
      }
      const target = this.packagePath(manifest.name, manifest.version);
      await mkdir(join(this.dir, manifest.name), { recursive: true, mode: 0o700 });
      await rename(incoming, target);
      this.store.put({ name: manifest.name, version: manifest.version, sha256, bytes: bytes.length, manifest, by });
      this.changed();
      return { result: existing ? 'updated' : 'installed', plugin: this.store.get(manifest.name)! };
    } finally {
      await rm(incoming, { force: true });
      await rm(unpacked, { recursive: true, force: true });
    }
  }

  setEnabled(name: string, enabled: boolean): PluginRow {
    if (!this.store.setEnabled(name, enabled)) throw notFound(`plugin '${name}'`);
    this.changed();
    return this.store.get(name)!;
  }

  /** Removes the plugin and its package files. The caller checks first that no enabled job uses its kinds. */
  async remove(name: string): Promise<void> {
    if (!this.store.remove(name)) throw notFound(`plugin '${name}'`);
    this.changed();
    await rm(join(this.dir, name), { recursive: true, force: true });
  }

  private packagePath(name: string, version: string): string {
    return join(this.dir, name, `${version}.tgz`);
  }

  private assertKindsFree(manifest: PluginManifest): void {
    const builtins = builtinStepKinds();
    const others = this.store.list().filter((p) => p.name !== manifest.name);
    for (const spec of manifest.provides.stepKinds) {
      for (const key of [spec.kind, ...spec.aliases]) {
        if (builtins.get(key)) throw conflict(`plugin ${manifest.name}: step kind '${key}' is built in`);
        const owner = others.find((p) => p.manifest.provides.stepKinds.some((k) => k.kind === key || k.aliases.includes(key)));
        if (owner) throw conflict(`plugin ${manifest.name}: step kind '${key}' is provided by plugin '${owner.name}'`);
      }
    }
    const builtinScanners = builtinScannerKinds();
    for (const { name } of manifest.provides.reportFormats) {
      const owner = others.find((p) => p.manifest.provides.reportFormats.some((f) => f.name === name));
      if (owner) throw conflict(`plugin ${manifest.name}: report format '${name}' is provided by plugin '${owner.name}'`);
    }
    for (const { kind } of manifest.provides.notifiers) {
      if (['webhook', 'slack', 'dingtalk', 'feishu', 'email'].includes(kind)) throw conflict(`plugin ${manifest.name}: notifier '${kind}' is built in`);
      const owner = others.find((p) => p.manifest.provides.notifiers.some((n) => n.kind === kind));
      if (owner) throw conflict(`plugin ${manifest.name}: notifier '${kind}' is provided by plugin '${owner.name}'`);
    }
    for (const { kind } of manifest.provides.scanners) {
      if (builtinScanners.get(kind)) throw conflict(`plugin ${manifest.name}: scanner '${kind}' is built in`);
      const owner = others.find((p) => p.manifest.provides.scanners.some((s) => s.kind === kind));
      if (owner) throw conflict(`plugin ${manifest.name}: scanner '${kind}' is provided by plugin '${owner.name}'`);
    }
  }

  private registries(): { all: StepKinds; enabled: StepKinds; enabledScanners: ScannerKinds } {
    if (this.kinds) return this.kinds;
    const allScanners = builtinScannerKinds();
    const enabledScanners = builtinScannerKinds();
    for (const p of this.store.list()) {
      for (const def of pluginScannerKinds(p.manifest)) {
        allScanners.register(def);
        if (p.enabled) enabledScanners.register(def);
        else enabledScanners.refuse(def.kind, `scanner '${def.kind}' is provided by plugin '${p.name}', which is disabled (slipway plugin enable ${p.name})`);
      }
    }
    for (const [kind, plugin] of Object.entries(KNOWN_SCANNER_PLUGINS)) {
      if (allScanners.get(kind)) continue;
      allScanners.register({ kind, config: z.record(z.string(), z.unknown()), plugin: { name: plugin, version: 'not installed' } });
      enabledScanners.refuse(kind, enabledScanners.problem(kind)!);
    }
    const all = builtinStepKinds(allScanners);
    const enabled = builtinStepKinds(enabledScanners);
    for (const p of this.store.list()) {
      for (const def of pluginNotifierKinds(p.manifest)) {
        all.notifiers.register(def);
        if (p.enabled) enabled.notifiers.register(def);
        else enabled.notifiers.refuse(def.kind, `notifier '${def.kind}' is provided by plugin '${p.name}', which is disabled (slipway plugin enable ${p.name})`);
      }
      for (const def of pluginReportFormats(p.manifest)) {
        all.reportFormats.register(def);
        if (p.enabled) enabled.reportFormats.register(def);
        else enabled.reportFormats.refuse(def.name, `report format '${def.name}' is provided by plugin '${p.name}', which is disabled (slipway plugin enable ${p.name})`);
      }
    }
    for (const p of this.store.list()) {
      for (const def of pluginStepKinds(p.manifest)) {
        all.register(def);
        if (p.enabled) enabled.register(def);
        else for (const key of [def.kind, ...def.aliases]) enabled.refuse(key, `step kind '${key}' is provided by plugin '${p.name}', which is disabled (slipway plugin enable ${p.name})`);
      }
    }
    return (this.kinds = { all, enabled, enabledScanners });
  }

  private changed(): void {
    this.kinds = undefined;
    for (const l of this.listeners) l();
  }
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
