/** The plugins table (migration 16): one row per installed plugin, the version agents run. No SQL elsewhere. */
import type { PluginManifest } from '../../shared/plugins/manifest';
import type { Db } from './db';

export interface PluginRow {
  name: string;
  version: string;
  sha256: string;
  bytes: number;
  enabled: boolean;
  manifest: PluginManifest;
  previousVersion: string | null;
  installedBy: string;
  installedAt: number;
  updatedAt: number;
}

interface Raw {
  name: string;
  version: string;
  sha256: string;
  bytes: number;
  enabled: number;
  manifest: string;
  previous_version: string | null;
  installed_by: string;
  installed_at: number;
  updated_at: number;
}

/** A manifest stored before plugins could provide scanners has no `provides.scanners`: none. */
function withDefaults(m: PluginManifest): PluginManifest {
  m.provides.scanners ??= [];
  m.provides.notifiers ??= [];
  m.provides.reportFormats ??= [];
  return m;
}

const toRow = (r: Raw): PluginRow => ({
  name: r.name,
  version: r.version,
  sha256: r.sha256,
  bytes: r.bytes,
  enabled: r.enabled === 1,
  manifest: withDefaults(JSON.parse(r.manifest) as PluginManifest),
  previousVersion: r.previous_version,
  installedBy: r.installed_by,
  installedAt: r.installed_at,
  updatedAt: r.updated_at,
});

export interface PluginsStore {
  list(): PluginRow[];
  get(name: string): PluginRow | undefined;
  /** Inserts the plugin, or replaces its version (the old one becomes previous_version; enabled is kept). */
  put(p: { name: string; version: string; sha256: string; bytes: number; manifest: PluginManifest; by: string }): void;
  setEnabled(name: string, enabled: boolean): boolean;
  remove(name: string): boolean;
}

export function createPluginsStore(db: Db): PluginsStore {
  const all = db.prepare<[], Raw>('SELECT * FROM plugins ORDER BY name');
  const one = db.prepare<[string], Raw>('SELECT * FROM plugins WHERE name = ?');
  const put = db.prepare(
    `INSERT INTO plugins (name, version, sha256, bytes, enabled, manifest, previous_version, installed_by, installed_at, updated_at)
     VALUES (@name, @version, @sha256, @bytes, 1, @manifest, NULL, @by, @now, @now)
     ON CONFLICT (name) DO UPDATE SET previous_version = CASE WHEN plugins.version = excluded.version THEN plugins.previous_version ELSE plugins.version END,
       version = excluded.version, sha256 = excluded.sha256, bytes = excluded.bytes, manifest = excluded.manifest,
       installed_by = excluded.installed_by, updated_at = excluded.updated_at`,
  );
  const enable = db.prepare('UPDATE plugins SET enabled = ?, updated_at = ? WHERE name = ?');
  const del = db.prepare('DELETE FROM plugins WHERE name = ?');
  return {
    list: () => all.all().map(toRow),
    get: (name) => {
      const r = one.get(name);
      return r && toRow(r);
    },
    put: (p) => void put.run({ ...p, manifest: JSON.stringify(p.manifest), now: Date.now() }),
    setEnabled: (name, enabled) => enable.run(enabled ? 1 : 0, Date.now(), name).changes > 0,
    remove: (name) => del.run(name).changes > 0,
  };
}
