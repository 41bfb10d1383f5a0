/**
 * Step executors by kind, registered a plugin at a time: the built-in kinds are the plugin 'builtin'
 * (builtinPlugin), third-party plugins are loaded by agent/plugins/manager.ts, and both go through
 * registerPlugin, so the runner never special-cases a kind. A plugin replaced by another version is removed
 * first (removePlugin); steps already running keep the executor object they started with. A plugin may also
 * bring scanners for the scan step (secrets and dockerfile are the built-in plugin's): registered, removed and
 * snapshotted with its executors, and reported with `scanner: true`.
 */
import type { ExecutorInfo } from '../../shared/protocol';
import { BUILTIN_PLUGIN } from '../../shared/plugins/manifest';
import { AGENT_VERSION } from '../version';
import { dockerfileScanner } from '../scanners/dockerfile';
import { secretsScanner } from '../scanners/secrets';
import type { Scanner } from '../scanners/types';
import type { RunAs, ScannerSource, StepExecutor } from './types';
import { checkoutExecutor } from './checkout';
import { deployExecutor } from './deploy';
import { imageExecutor } from './image';
import { scanExecutor } from './scan';
import { shellExecutor } from './shell';

/** A set of executors registered together: the built-ins, or one third-party plugin at one version. */
export interface ExecutorPlugin {
  name: string;
  version: string;
  executors: StepExecutor[];
  /** Scanners of the scan step the plugin provides. */
  scanners?: Scanner[];
  /** Report format converters the plugin provides. */
  reportFormats?: ReportConverter[];
}

/** Converts a report file (workspace-relative `path`) of its format to `to`, returning the converted text. */
export interface ReportConverter {
  name: string;
  to: 'junit' | 'sarif';
  version: string;
  convert(req: { path: string; workspace: string; env: Record<string, string>; runAs?: RunAs }): Promise<string>;
}

export class ExecutorRegistry implements ScannerSource {
  private readonly byKind = new Map<string, StepExecutor>();
  private readonly pluginOf = new Map<string, string>();
  private readonly scanners = new Map<string, { scanner: Scanner; plugin?: string }>();
  private readonly converters = new Map<string, { converter: ReportConverter; plugin: string }>();

  /**
   * Registers one executor as part of `plugin` (default: none named). Throws when the kind is already
   * registered (two plugins must not silently shadow each other).
   */
  register(executor: StepExecutor, plugin?: string): this {
    if (!executor.kind || !executor.version) throw new Error('a step executor needs a kind and a version');
    if (this.byKind.has(executor.kind)) {
      const owner = this.pluginOf.get(executor.kind);
      throw new Error(`step executor '${executor.kind}' is registered twice${owner ? ` (plugin '${owner}' provides it)` : ''}`);
    }
    this.byKind.set(executor.kind, executor);
    if (plugin) this.pluginOf.set(executor.kind, plugin);
    return this;
  }

  /** Registers every executor of `plugin`, or none of them (throws on the first kind already taken). */
  registerPlugin(plugin: ExecutorPlugin): this {
    const taken = plugin.executors.find((e) => this.byKind.has(e.kind));
    if (taken) this.register(taken, plugin.name);
    const scannerTaken = plugin.scanners?.find((s) => this.scanners.has(s.name));
    if (scannerTaken) throw new Error(`scanner '${scannerTaken.name}' is registered twice (plugin '${this.scanners.get(scannerTaken.name)!.plugin}' provides it)`);
    const formatTaken = plugin.reportFormats?.find((f) => this.converters.has(f.name));
    if (formatTaken) throw new Error(`report format '${formatTaken.name}' is registered twice (plugin '${this.converters.get(formatTaken.name)!.plugin}' provides it)`);
    for (const e of plugin.executors) this.register(e, plugin.name);
    for (const s of plugin.scanners ?? []) this.scanners.set(s.name, { scanner: s, plugin: plugin.name });
    for (const f of plugin.reportFormats ?? []) this.converters.set(f.name, { converter: f, plugin: plugin.name });
    return this;
  }

  /** The converter of report format `name`, or undefined. */
  converter(name: string): ReportConverter | undefined {
    return this.converters.get(name)?.converter;
  }

  scanner(name: string): Scanner | undefined {
    return this.scanners.get(name)?.scanner;
  }

  scannerNames(): string[] {
    return [...this.scanners.keys()];
  }

  /**
   * A copy that later registrations and removals do not change: a stage run takes one when it starts, so all its
   * steps run on the plugin versions it started with even if an update lands meanwhile.
   */
  snapshot(): ExecutorRegistry {
    const copy = new ExecutorRegistry();
    for (const [kind, e] of this.byKind) copy.register(e, this.pluginOf.get(kind));
    for (const [name, s] of this.scanners) copy.scanners.set(name, s);
    for (const [name, f] of this.converters) copy.converters.set(name, f);
    return copy;
  }

  /** Removes the executors of plugin `name` (no-op when it has none). */
  removePlugin(name: string): void {
    for (const [kind, owner] of this.pluginOf) {
      if (owner !== name) continue;
      this.byKind.delete(kind);
      this.pluginOf.delete(kind);
    }
    for (const [scanner, s] of this.scanners) if (s.plugin === name) this.scanners.delete(scanner);
    for (const [format, f] of this.converters) if (f.plugin === name) this.converters.delete(format);
  }

  get(kind: string): StepExecutor | undefined {
    return this.byKind.get(kind);
  }

  /** What agent:hello reports. */
  list(): ExecutorInfo[] {
    const steps = [...this.byKind.values()].map((e) => {
      const plugin = this.pluginOf.get(e.kind);
      return { kind: e.kind, version: e.version, ...(plugin ? { plugin } : {}) };
    });
    const scanners = [...this.scanners.values()].map(({ scanner, plugin }) => ({ kind: scanner.name, version: scanner.version, ...(plugin ? { plugin } : {}), scanner: true }));
    return [...steps, ...scanners];
  }
}

/** The built-in step kinds as one plugin: registered like any other. */
export const builtinPlugin: ExecutorPlugin = {
  name: BUILTIN_PLUGIN,
  version: AGENT_VERSION,
  executors: [shellExecutor, checkoutExecutor, imageExecutor, deployExecutor, scanExecutor],
  scanners: [secretsScanner, dockerfileScanner],
};

/** A registry holding the built-in executors. */
export function builtinExecutors(): ExecutorRegistry {
  return new ExecutorRegistry().registerPlugin(builtinPlugin);
}

/**
 * Validates the agent file's `executors` section against the registered executors' settings schemas; throws
 * naming the file and field (`agent.yml: executors.shell.x: ...`). Returns the parsed settings by kind.
 */
export function executorSettings(registry: ExecutorRegistry, section: Record<string, Record<string, unknown>>, file: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [kind, raw] of Object.entries(section)) {
    const ex = registry.get(kind);
    if (!ex) throw new Error(`${file}: executors.${kind}: no step executor of that kind on this agent (has: ${registry.list().filter((e) => !e.scanner).map((e) => e.kind).join(', ')})`);
    if (!ex.settings) {
      const keys = Object.keys(raw);
      if (keys.length) throw new Error(`${file}: executors.${kind}.${keys[0]}: the ${kind} executor takes no settings`);
      continue;
    }
    const parsed = ex.settings.safeParse(raw);
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      throw new Error(`${file}: executors.${kind}${i.path.length ? `.${i.path.map(String).join('.')}` : ''}: ${i.message}`);
    }
    out[kind] = parsed.data;
  }
  return out;
}
