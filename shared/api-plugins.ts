/**
 * The installed plugins API (admin): what `GET /api/v1/plugins/packages` lists and install/update answers.
 *  [A] GET    /api/v1/plugins/packages                 -> PluginPackageInfo[]
 *  [A] POST   /api/v1/plugins/packages                 body: the package (.tgz, application/gzip) -> PluginInstallResult
 *  [A] POST   /api/v1/plugins/packages/:name/enable    -> PluginPackageInfo
 *  [A] POST   /api/v1/plugins/packages/:name/disable   -> PluginPackageInfo
 *  [A] DELETE /api/v1/plugins/packages/:name           -> 204 (409 while an enabled job uses its kinds)
 *  [U] GET    /api/v1/plugins/manifests                -> PluginManifest[] of the enabled plugins (CLI/UI validation)
 */
import type { PluginManifest } from './plugins/manifest';

export interface PluginPackageInfo {
  name: string;
  version: string;
  sha256: string;
  bytes: number;
  enabled: boolean;
  /** Step kinds it provides. */
  kinds: string[];
  /** Scanners it provides for the scan step (`tools:`); absent from masters before plugin scanners. */
  scanners?: string[];
  /** Notifier kinds it provides for notify channels (delivered by the master). */
  notifiers?: string[];
  /** Report formats it converts on agents (a step report's `format`). */
  reportFormats?: string[];
  protocol: string;
  description: string | null;
  /** The version an update replaced (its package file is kept). */
  previousVersion: string | null;
  installedBy: string;
  updatedAt: number;
  /** Connected agents and the version of it they run (or failed to load). */
  agents: { agent: string; environment: string; version: string; state: 'loaded' | 'failed'; error?: string }[];
}

export interface PluginInstallResult {
  result: 'installed' | 'updated' | 'unchanged';
  plugin: PluginPackageInfo;
}

export type { PluginManifest };
