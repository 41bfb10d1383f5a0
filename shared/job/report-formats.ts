/**
 * Report formats plugins add: a step's report may be written in another format (`junit: { path: out.tap,
 * format: tap }`) that the agent converts with the plugin's converter before the upload, to the JUnit XML or
 * SARIF the master parses. Filled by the master's plugin service (enabled plugins; a disabled plugin's formats
 * refused by name) and by the CLI from the master's manifests; job validation checks each report's format.
 */
import { KindRegistry } from './kind-registry';

export interface ReportFormatDef {
  name: string;
  /** What the converter produces. */
  to: 'junit' | 'sarif';
  plugin: { name: string; version: string };
}

export class ReportFormats extends KindRegistry<ReportFormatDef> {
  constructor() {
    super('report format', (def) => [def.name]);
  }

  /** Why a `to` report (junit, sarif) may not be written in format `name`, or undefined when it may. */
  problem(name: string, to: string): string | undefined {
    const def = this.defs.get(name);
    if (def) return def.to === to ? undefined : `report format '${name}' (plugin '${def.plugin.name}') converts to ${def.to}, not ${to}`;
    const known = [...this.defs.values()].filter((d) => d.to === to).map((d) => d.name).sort();
    return this.refused.get(name) ?? `unknown report format '${name}' (${known.length ? `known for ${to}: ${known.join(', ')}` : `no plugin converts to ${to}`}; plugins/tap-junit converts tap)`;
  }
}
