/**
 * Scanner kinds of the scan step: the names a scan step may list in `tools:`, each with the schema of its
 * settings (`scan: { config: { KIND: {...} } }`). The built-in scanners (secrets, dockerfile) take no
 * settings and run on every agent; plugin scanners (shared/plugins/scanner-kind.ts) carry their plugin, so
 * the scheduler gives the stage only to an agent running that plugin at the version the master names.
 *
 * Like StepKinds, nothing registers itself: builtinScannerKinds() makes a fresh registry, the master's plugin
 * service adds the installed plugins' scanners (refusing a disabled plugin's by name), and the scan kind
 * (kinds/scan.ts) validates a step's tools and settings against the registry it was made with.
 */
import { z } from 'zod';
import { KindRegistry } from './kind-registry';

export interface ScannerKindDef {
  kind: string;
  /** Validates the tool's settings (absent in the job file: the empty object). */
  config: z.ZodType<Record<string, unknown>>;
  /** The plugin that provides the scanner; absent for the built-ins. */
  plugin?: { name: string; version: string };
}

/**
 * Scanners that are plugins of this repository, by kind: an error about a scanner no enabled plugin provides
 * says which plugin to install (`plugins/<name>`).
 */
export const KNOWN_SCANNER_PLUGINS: Readonly<Record<string, string>> = { eslint: 'eslint-sarif', shellcheck: 'shellcheck-sarif' };

const anySettings = z.record(z.string(), z.unknown());
const noSettings = z.strictObject({}) as unknown as z.ZodType<Record<string, unknown>>;

/** The built-in scanners of agent/scanners (in-process, on every agent). */
export const BUILTIN_SCANNERS: readonly ScannerKindDef[] = [
  { kind: 'secrets', config: noSettings },
  { kind: 'dockerfile', config: noSettings },
];

export class ScannerKinds extends KindRegistry<ScannerKindDef> {
  private open = false;

  private static any: ScannerKinds | undefined;

  constructor() {
    super('scanner', (def) => [def.kind]);
  }

  /**
   * The registry that accepts every kind with any settings (one instance; register nothing into it): the
   * agent's scan executor, which checks the tools against the scanners it actually has when it runs (and a
   * plugin scanner checks its own settings).
   */
  static anyKind(): ScannerKinds {
    if (ScannerKinds.any) return ScannerKinds.any;
    const r = builtinScannerKinds();
    r.open = true;
    return (ScannerKinds.any = r);
  }

  override get(kind: string): ScannerKindDef | undefined {
    return this.defs.get(kind) ?? (this.open ? { kind, config: anySettings } : undefined);
  }

  /** Why a scan step may not list `kind`, or undefined when it may. */
  problem(kind: string): string | undefined {
    if (this.defs.has(kind) || this.open) return undefined;
    const refused = this.refused.get(kind);
    if (refused) return refused;
    const plugin = KNOWN_SCANNER_PLUGINS[kind];
    const known = `known: ${this.keys().join(', ')}`;
    return plugin
      ? `no enabled plugin provides scanner '${kind}' (${known}); the plugin '${plugin}' provides it (slipway plugin install plugins/${plugin})`
      : `unknown scanner '${kind}' (${known})`;
  }
}

/** A new registry holding the built-in scanners. */
export function builtinScannerKinds(): ScannerKinds {
  const r = new ScannerKinds();
  for (const s of BUILTIN_SCANNERS) r.register(s);
  return r;
}
