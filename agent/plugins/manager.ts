/**
 * The agent's third-party plugins: runs exactly the plugins at the versions the master names
 * (master:accepted.plugins, master:plugins). For each one not loaded yet it downloads the package from the
 * master (GET /api/v1/agent/plugins/NAME/VERSION, agent token), refuses bytes whose sha256 is not the one the
 * master announced, unpacks them into `<work-dir>/plugins/NAME@VERSION` (shared/node/tarball.ts checks the
 * entries first), validates the manifest (the same zod schema as the master) and its protocol range against
 * this agent, imports the agent entry in a child process to check it exports every kind and scanner the manifest names
 * (plugin-process.ts), and registers its executors in the same registry as the built-ins. A plugin no longer
 * named, or named at another version, is removed from the registry first; steps already running keep the
 * executor they started with, so a build running on the old version finishes on it.
 *
 * A plugin that fails (download, checksum, manifest, import) is reported as 'failed' with the reason; when its
 * manifest was readable its kinds are registered with an executor that fails the step with that reason (so a
 * build says why), otherwise it provides no kind. It is tried again at the next master:plugins or reconnect.
 * Loads run one at a time, in order; onChange fires after each change so the agent tells the master.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { AnyStepKind } from '../../shared/job';
import { manifestFromFiles, protocolProblem, type PluginManifest } from '../../shared/plugins/manifest';
import { pluginReportFormats, pluginScannerKinds, pluginStepKinds } from '../../shared/plugins/step-kind';
import type { ReportFormatDef } from '../../shared/job/report-formats';
import type { ScannerKindDef } from '../../shared/job/scanner-kinds';
import { unpackTarball } from '../../shared/node/tarball';
import { PROTOCOL_VERSION, type PluginRef, type PluginState } from '../../shared/protocol';
import { failure, request, saveHashed, type MasterEndpoint } from '../artifacts';
import { builtinPlugin, type ExecutorRegistry, type ReportConverter } from '../executors/registry';
import { defineExecutor, type StepExecutor } from '../executors/types';
import type { Scanner } from '../scanners/types';
import { describePlugin, runPluginConverter, runPluginScanner, runPluginStep, type PluginCode } from './plugin-process';

/** Marker file in an unpacked plugin: the sha256 of the package it came from. */
const MARKER = '.slipway-package-sha256';

export interface PluginManagerDeps {
  registry: ExecutorRegistry;
  endpoint: MasterEndpoint;
  workDir: string;
  log: Logger;
  /** Called after the loaded set changed (send agent:plugins). */
  onChange(): void;
}

export class PluginManager {
  private readonly loaded = new Map<string, { ref: PluginRef; state: PluginState }>();
  private queue: Promise<void> = Promise.resolve();
  /** The first sync of this process removes unpacked versions the master no longer names (nothing runs them yet). */
  private pruned = false;

  constructor(private readonly deps: PluginManagerDeps) {}

  /** What the agent runs: the built-in plugin and every third-party plugin with its state. */
  states(): PluginState[] {
    return [{ name: builtinPlugin.name, version: builtinPlugin.version, state: 'loaded' }, ...[...this.loaded.values()].map((l) => l.state)];
  }

  /** Run exactly `wanted` (in the background, after any sync in progress). */
  sync(wanted: PluginRef[]): Promise<void> {
    this.queue = this.queue.then(() => this.apply(wanted)).catch((err: Error) => this.deps.log.error({ err: err.message }, 'plugin sync failed'));
    return this.queue;
  }

  private async apply(wanted: PluginRef[]): Promise<void> {
    const { registry, log } = this.deps;
    const names = new Set(wanted.map((w) => w.name));
    let changed = false;
    for (const name of [...this.loaded.keys()]) {
      if (names.has(name)) continue;
      registry.removePlugin(name);
      this.loaded.delete(name);
      log.info({ plugin: name }, 'plugin unloaded (the master no longer names it)');
      changed = true;
    }
    for (const ref of wanted) {
      const cur = this.loaded.get(ref.name);
      if (cur && cur.state.state === 'loaded' && cur.ref.version === ref.version && cur.ref.sha256 === ref.sha256) continue;
      const { executors, scanners, reportFormats, state } = await this.load(ref);
      registry.removePlugin(ref.name);
      try {
        registry.registerPlugin({ name: ref.name, version: ref.version, executors, scanners, reportFormats });
      } catch (err) {
        state.state = 'failed';
        state.error = (err as Error).message;
      }
      this.loaded.set(ref.name, { ref, state });
      if (state.state === 'loaded') log.info({ plugin: ref.name, version: ref.version, kinds: executors.map((e) => e.kind) }, 'plugin loaded');
      else log.error({ plugin: ref.name, version: ref.version }, `plugin ${ref.name}@${ref.version} not loaded: ${state.error}`);
      changed = true;
    }
    if (changed) this.deps.onChange();
    if (!this.pruned) {
      this.pruned = true;
      await this.prune(wanted);
    }
  }

  /**
   * Removes `<work-dir>/plugins/NAME@VERSION` directories of versions not in `wanted`. Only at the first sync of
   * the process: later a stage that started on an older version may still be running its code.
   */
  private async prune(wanted: PluginRef[]): Promise<void> {
    const keep = new Set(wanted.map((w) => `${w.name}@${w.version}`));
    const root = join(this.deps.workDir, 'plugins');
    const entries = await readdir(root).catch(() => [] as string[]);
    for (const e of entries) {
      if (keep.has(e)) continue;
      await rm(join(root, e), { recursive: true, force: true });
      this.deps.log.info({ dir: e }, 'removed a plugin version the master no longer names');
    }
  }

  private async load(ref: PluginRef): Promise<{ executors: StepExecutor[]; scanners: Scanner[]; reportFormats: ReportConverter[]; state: PluginState }> {
    const dir = join(this.deps.workDir, 'plugins', `${ref.name}@${ref.version}`);
    let manifest: PluginManifest | undefined;
    try {
      await this.fetch(ref, dir);
      manifest = await readManifest(dir);
      if (manifest.name !== ref.name || manifest.version !== ref.version) {
        throw new Error(`the package is ${manifest.name}@${manifest.version}, not the ${ref.name}@${ref.version} the master named`);
      }
      const protocol = protocolProblem(manifest, PROTOCOL_VERSION, 'this agent');
      if (protocol) throw new Error(protocol);
      // A plugin with nothing for agents (notifiers only) is not named to agents; loaded with nothing, should one be.
      if (!manifest.entry.agent) return { executors: [], scanners: [], reportFormats: [], state: { name: ref.name, version: ref.version, state: 'loaded' } };
      const code: PluginCode = { name: ref.name, version: ref.version, dir, entry: join(dir, manifest.entry.agent) };
      // The import check runs as nobody when the agent is root: plugin code never gets the agent's rights.
      const exported = await describePlugin(code, process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : undefined);
      const defs = pluginStepKinds(manifest);
      const missing = defs.filter((d) => !exported.kinds.includes(d.kind)).map((d) => d.kind);
      if (missing.length) throw new Error(`${manifest.entry.agent} exports no executor for step kind ${missing.map((k) => `'${k}'`).join(', ')} (export const executors = { ... })`);
      const scannerDefs = pluginScannerKinds(manifest);
      const missingScanners = scannerDefs.filter((d) => !exported.scanners.includes(d.kind)).map((d) => d.kind);
      if (missingScanners.length) throw new Error(`${manifest.entry.agent} exports no scanner ${missingScanners.map((k) => `'${k}'`).join(', ')} (export const scanners = { ... })`);
      const formatDefs = pluginReportFormats(manifest);
      const missingFormats = formatDefs.filter((d) => !exported.reportFormats.includes(d.name)).map((d) => d.name);
      if (missingFormats.length) throw new Error(`${manifest.entry.agent} exports no report format ${missingFormats.map((k) => `'${k}'`).join(', ')} (export const reportFormats = { ... })`);
      return {
        executors: defs.map((def) => pluginExecutor(def, code)),
        scanners: scannerDefs.map((def) => pluginScanner(def, code)),
        reportFormats: formatDefs.map((def) => pluginConverter(def, code)),
        state: { name: ref.name, version: ref.version, state: 'loaded' },
      };
    } catch (err) {
      const error = `plugin ${ref.name}@${ref.version} failed to load: ${(err as Error).message}`.slice(0, 4000);
      const executors = manifest ? pluginStepKinds(manifest).map((def) => failingExecutor(def, ref.version, error)) : [];
      const scanners = manifest ? pluginScannerKinds(manifest).map((def): Scanner => ({ name: def.kind, version: ref.version, run: () => Promise.reject(new Error(error)) })) : [];
      const reportFormats = manifest ? pluginReportFormats(manifest).map((def): ReportConverter => ({ name: def.name, to: def.to, version: ref.version, convert: () => Promise.reject(new Error(error)) })) : [];
      return { executors, scanners, reportFormats, state: { name: ref.name, version: ref.version, state: 'failed', error } };
    }
  }

  /** Downloads, verifies and unpacks the package into `dir`, unless `dir` already holds these exact bytes. */
  private async fetch(ref: PluginRef, dir: string): Promise<void> {
    const marker = await readFile(join(dir, MARKER), 'utf8').catch(() => undefined);
    if (marker?.trim() === ref.sha256) return;
    const root = join(this.deps.workDir, 'plugins');
    await mkdir(root, { recursive: true, mode: 0o755 });
    const tag = randomBytes(6).toString('hex');
    const file = join(root, `.incoming-${tag}.tgz`);
    const tmp = join(root, `.unpack-${tag}`);
    try {
      const path = `/api/v1/agent/plugins/${encodeURIComponent(ref.name)}/${encodeURIComponent(ref.version)}`;
      const res = await request(this.deps.endpoint, 'GET', path, {});
      if (res.statusCode !== 200) throw await failure(res, `download of plugin ${ref.name}@${ref.version} failed`);
      const { sha256, bytes } = await saveHashed(res, file);
      if (sha256 !== ref.sha256) throw new Error(`sha256 mismatch: the master announced ${ref.sha256}, the package downloaded (${bytes} bytes) has ${sha256}; refused`);
      await mkdir(tmp, { mode: 0o755 });
      await unpackTarball(file, tmp);
      await writeFile(join(tmp, MARKER), `${sha256}\n`, { mode: 0o644 });
      await rm(dir, { recursive: true, force: true });
      await rename(tmp, dir);
    } finally {
      await rm(file, { force: true });
      await rm(tmp, { recursive: true, force: true });
    }
  }
}

async function readManifest(dir: string): Promise<PluginManifest> {
  const text = (name: string) => readFile(join(dir, name), 'utf8').catch(() => undefined);
  return manifestFromFiles({ 'slipway-plugin.json': await text('slipway-plugin.json'), 'package.json': await text('package.json') });
}

/** The executor of a plugin's kind: the config is checked with the manifest's schema, the step runs in a child. */
export function pluginExecutor(def: AnyStepKind, code: PluginCode): StepExecutor {
  return defineExecutor<Record<string, unknown>>(def, code.version, (ctx, config) => runPluginStep(code, ctx, config));
}

/** A plugin's scanner: its settings checked with the manifest's schema, the scan run in a child (runPluginScanner). */
export function pluginScanner(def: ScannerKindDef, code: PluginCode): Scanner {
  return {
    name: def.kind,
    version: code.version,
    run(ctx) {
      const parsed = def.config.safeParse(ctx.config);
      if (!parsed.success) {
        const i = parsed.error.issues[0];
        return Promise.reject(new Error(`config.${def.kind}${i?.path.length ? `.${i.path.map(String).join('.')}` : ''}: ${i?.message ?? 'invalid'}`));
      }
      return runPluginScanner(code, def.kind, { ...ctx, config: parsed.data });
    },
  };
}

/** A plugin's report format converter: the conversion runs in a child as the build user (runPluginConverter). */
export function pluginConverter(def: ReportFormatDef, code: PluginCode): ReportConverter {
  return { name: def.name, to: def.to, version: code.version, convert: (req) => runPluginConverter(code, { name: def.name, to: def.to, ...req }) };
}

/** The executor of a kind whose plugin failed to load: every step fails with the reason. */
function failingExecutor(def: AnyStepKind, version: string, error: string): StepExecutor {
  return defineExecutor<Record<string, unknown>>(def, version, () => Promise.resolve({ status: 'error', exitCode: null, error }));
}
