/**
 * A plugin's step kinds as StepKindDefs (shared/job/step-kind.ts): the same registry entry the built-ins
 * have, so the master validates job files with them (errors at file:line:col through the one Locator), the
 * editor schema exports them, and the agent's executor re-checks its config with the same schema.
 * The config schema is the manifest's JSON Schema read by zod (z.fromJSONSchema); a step written with no
 * value (`- dockerfile-lint:`) is the empty object.
 */
import { z } from 'zod';
import { defineStepKind, type AnyStepKind, type ReportSpec } from '../job/step-kind';
import { builtinScannerKinds } from '../job/scanner-kinds';
import { builtinStepKinds, type StepKinds } from '../job/step-kinds';
import type { ScannerKindDef } from '../job/scanner-kinds';
import type { NotifierKindDef } from '../job/notifier-kinds';
import type { ReportFormatDef } from '../job/report-formats';
import type { NotifierSpec, PluginManifest, ReportFormatSpec, ScannerSpec, StepKindSpec } from './manifest';

const OUTPUT_SCHEMAS = {
  string: z.string(),
  number: z.number(),
  boolean: z.boolean(),
  'string[]': z.array(z.string()),
} as const;

/** The StepKindDef of one step kind of `manifest`. */
export function pluginStepKind(manifest: Pick<PluginManifest, 'name' | 'version'>, spec: StepKindSpec): AnyStepKind {
  const schema = z.fromJSONSchema(spec.config as Parameters<typeof z.fromJSONSchema>[0]) as z.ZodType<Record<string, unknown>>;
  const config = z.preprocess((v) => (v === null || v === undefined ? {} : v), schema) as unknown as z.ZodType<Record<string, unknown>>;
  const outputs = z.strictObject(Object.fromEntries(Object.entries(spec.outputs).map(([k, t]) => [k, OUTPUT_SCHEMAS[t].optional()])));
  const reports: ReportSpec[] = spec.reports.map((r) => ({ format: r.format, path: r.path, failStep: r.failStep }));
  return defineStepKind<Record<string, unknown>>({
    kind: spec.kind,
    aliases: spec.aliases,
    config,
    jsonSchema: spec.config,
    plugin: { name: manifest.name, version: manifest.version },
    capabilities: spec.capabilities,
    workspace: spec.workspace,
    outputNames: () => Object.keys(spec.outputs),
    outputs: outputs as unknown as z.ZodType<Record<string, string | number | boolean | string[]>>,
    reports: () => reports,
  });
}

/** Every step kind of `manifest`. */
export function pluginStepKinds(manifest: PluginManifest): AnyStepKind[] {
  return manifest.provides.stepKinds.map((s) => pluginStepKind(manifest, s));
}

/** The scanners of `manifest` as ScannerKindDefs (the scan step validates `config: { KIND: ... }` with them). */
export function pluginScannerKinds(manifest: PluginManifest): ScannerKindDef[] {
  // ?? []: a manifest from an older master (GET /plugins/manifests) has no scanners.
  return (manifest.provides.scanners ?? []).map((s: ScannerSpec) => {
    const schema = z.fromJSONSchema(s.config as Parameters<typeof z.fromJSONSchema>[0]) as z.ZodType<Record<string, unknown>>;
    return { kind: s.kind, config: z.preprocess((v) => (v === null || v === undefined ? {} : v), schema) as unknown as z.ZodType<Record<string, unknown>>, plugin: { name: manifest.name, version: manifest.version } };
  });
}

/** The notifier kinds of `manifest` as NotifierKindDefs (job `notify:` channels validate with them). */
export function pluginNotifierKinds(manifest: PluginManifest): NotifierKindDef[] {
  return (manifest.provides.notifiers ?? []).map((n: NotifierSpec) => {
    const schema = z.fromJSONSchema(n.config as Parameters<typeof z.fromJSONSchema>[0]) as z.ZodType<Record<string, unknown>>;
    return {
      kind: n.kind,
      config: z.preprocess((v) => (v === null || v === undefined ? {} : v), schema) as unknown as z.ZodType<Record<string, unknown>>,
      secrets: n.secrets ?? [],
      plugin: { name: manifest.name, version: manifest.version },
    };
  });
}

/** The report formats of `manifest` as ReportFormatDefs (a step's `junit: { format }` validates with them). */
export function pluginReportFormats(manifest: PluginManifest): ReportFormatDef[] {
  return (manifest.provides.reportFormats ?? []).map((f: ReportFormatSpec) => ({ name: f.name, to: f.to, plugin: { name: manifest.name, version: manifest.version } }));
}

/**
 * The registry a job file is validated with outside the master (the CLI's `apply -f`, the web editor): the
 * built-ins plus the step kinds, scanners, notifiers and report formats of `manifests` (the master's enabled
 * plugins, GET /plugins/manifests). A name clashing with one registered already is skipped: refusing it is
 * the master's call, which validates again.
 */
export function stepKindsFromManifests(manifests: PluginManifest[]): StepKinds {
  const scanners = builtinScannerKinds();
  for (const m of manifests) for (const def of pluginScannerKinds(m)) if (!scanners.get(def.kind)) scanners.register(def);
  const kinds = builtinStepKinds(scanners);
  for (const m of manifests) {
    for (const def of pluginStepKinds(m)) if (![def.kind, ...def.aliases].some((key) => kinds.get(key))) kinds.register(def);
    for (const def of pluginNotifierKinds(m)) if (!kinds.notifiers.get(def.kind)) kinds.notifiers.register(def);
    for (const def of pluginReportFormats(m)) if (!kinds.reportFormats.get(def.name)) kinds.reportFormats.register(def);
  }
  return kinds;
}
