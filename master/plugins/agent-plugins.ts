/**
 * Which of an agent's executors the scheduler may count: built-in kinds always; a plugin's kind only when the
 * agent runs the exact version the master names (so right after an update no stage goes to an agent still on
 * the old version, and a disabled or removed plugin's kinds count nowhere). Pure.
 */
import type { ExecutorInfo, PluginRef, PluginState } from '../../shared/protocol';
import { BUILTIN_PLUGIN } from '../../shared/plugins/manifest';

export function effectiveExecutors(reported: ExecutorInfo[], wanted: PluginRef[]): ExecutorInfo[] {
  const versions = new Map(wanted.map((w) => [w.name, w.version]));
  return reported.filter((e) => !e.plugin || e.plugin === BUILTIN_PLUGIN || versions.get(e.plugin) === e.version);
}

/** The first agent protocol whose agents convert reports with plugins (master:assign carries `from`). */
export const REPORT_FORMATS_SINCE_PROTOCOL = 12;

/**
 * The plugin report formats the scheduler counts for an agent: those of every plugin the agent reports
 * loaded at the exact version the master names (`formatsOf` gives the installed plugin's format names), and
 * none for agents older than REPORT_FORMATS_SINCE_PROTOCOL, which have no converters. A plugin that failed
 * to load there counts for nothing, so its reports go to an agent where they can be converted. Pure.
 */
export function agentReportFormats(
  states: PluginState[] | undefined,
  wanted: PluginRef[],
  formatsOf: (plugin: string) => string[],
  protocolVersion: number | undefined,
): string[] {
  if ((protocolVersion ?? 0) < REPORT_FORMATS_SINCE_PROTOCOL) return [];
  const versions = new Map(wanted.map((w) => [w.name, w.version]));
  return [...new Set((states ?? []).filter((p) => p.state === 'loaded' && versions.get(p.name) === p.version).flatMap((p) => formatsOf(p.name)))].sort();
}
