/**
 * Team secrets (table secrets) as sealed rows: iv, tag and ciphertext only. Encryption and the policy on names
 * and values live in master/secrets/store.ts; no plain value ever reaches this module.
 */
import type { Db } from './db';

export interface SealedRow {
  iv: Buffer;
  tag: Buffer;
  ciphertext: Buffer;
}

export interface SecretsTable {
  /** Creates or replaces a team's secret. */
  put(teamId: number, name: string, sealed: SealedRow, now: number): void;
  /** Names and update times of a team's secrets, by name. */
  names(teamId: number): { name: string; updatedAt: number }[];
  /** False when there was no such secret. */
  delete(teamId: number, name: string): boolean;
  get(teamId: number, name: string): SealedRow | undefined;
}

export function createSecretsTable(db: Db): SecretsTable {
  const put = db.prepare(
    `INSERT INTO secrets (team_id, name, iv, tag, ciphertext, updated_at) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (team_id, name) DO UPDATE SET iv = excluded.iv, tag = excluded.tag, ciphertext = excluded.ciphertext, updated_at = excluded.updated_at`,
  );
  const names = db.prepare<[number], { name: string; updatedAt: number }>('SELECT name, updated_at AS updatedAt FROM secrets WHERE team_id = ? ORDER BY name');
  const del = db.prepare('DELETE FROM secrets WHERE team_id = ? AND name = ?');
  const get = db.prepare<[number, string], SealedRow>('SELECT iv, tag, ciphertext FROM secrets WHERE team_id = ? AND name = ?');
  return {
    put: (teamId, name, s, now) => void put.run(teamId, name, s.iv, s.tag, s.ciphertext, now),
    names: (teamId) => names.all(teamId),
    delete: (teamId, name) => del.run(teamId, name).changes > 0,
    get: (teamId, name) => get.get(teamId, name),
  };
}
