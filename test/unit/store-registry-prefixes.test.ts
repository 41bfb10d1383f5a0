/**
 * Migration 19 over a real SQLite file: grants of an existing data dir get the default push prefixes, TEAM/ for a
 * registry shared by several teams and * for a registry of one team, and the store lists them.
 */
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDb } from '../../master/store/db';
import { migrations } from '../../master/store/migrations';
import { RegistryStore } from '../../master/store/registries';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('migration 19: push prefixes of registry grants', () => {
  it('gives existing grants of a shared registry TEAM/ and a one-team registry *', () => {
    dir = mkdtempSync(join(tmpdir(), 'slipway-regprefix-'));
    const old = new Database(join(dir, 'slipway.db'));
    for (let v = 0; v < 8; v++) old.exec(migrations[v]);
    old.pragma('user_version = 8');
    old.exec(`INSERT INTO teams (id, name, created_at) VALUES (1, 'shop', 0), (2, 'web', 0);
      INSERT INTO registries (id, name, url, created_at) VALUES (1, 'shared', '127.0.0.1:5000', 0), (2, 'own', '127.0.0.1:5001', 0);
      INSERT INTO registry_grants (registry_id, team_id) VALUES (1, 1), (1, 2), (2, 1);`);
    old.close();

    const db = openDb(dir);
    try {
      expect(db.pragma('user_version', { simple: true })).toBe(migrations.length);
      const store = new RegistryStore(db, randomBytes(32));
      const byName = Object.fromEntries(store.list('all').map((r) => [r.name, r.grants]));
      expect(byName).toEqual({
        own: [{ team: 'shop', prefixes: ['*'] }],
        shared: [
          { team: 'shop', prefixes: ['shop/'] },
          { team: 'web', prefixes: ['web/'] },
        ],
      });
      expect(store.pushGrants(1)).toEqual([
        { registry: 'own', prefixes: ['*'] },
        { registry: 'shared', prefixes: ['shop/'] },
      ]);
      expect(store.prefixesOf('shared', [1, 2]).sort()).toEqual(['shop/', 'web/']);
      expect(store.prefixesOf('shared', [3])).toEqual([]);
    } finally {
      db.close();
    }
  });
});
