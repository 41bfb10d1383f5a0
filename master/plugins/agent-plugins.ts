/**
 * Which of an agent's executors the scheduler may count: built-in kinds always; a plugin's kind only when the
 * agent runs the exact version the master names (so right after an update no stage goes to an agent still on
 * the old version, and a disabled or removed plugin's kinds count nowhere). Pure.
 */
import type { ExecutorInfo, PluginRef } from '../../shared/protocol';
import { BUILTIN_PLUGIN } from '../../shared/plugins/manifest';

export function effectiveExecutors(reported: ExecutorInfo[], wanted: PluginRef[]): ExecutorInfo[] {
  const versions = new Map(wanted.map((w) => [w.name, w.version]));
  return reported.filter((e) => !e.plugin || e.plugin === BUILTIN_PLUGIN || versions.get(e.plugin) === e.version);
}
