/**
 * Team secrets (table secrets) as sealed rows: iv, tag and ciphertext only. Encryption and the policy on names
 * and values live in master/secrets/store.ts; no plain value ever reaches this module.
 *
 * A replaced or deleted secret's row moves to secret_history as it was sealed (same aad: team/name), in the same
 * transaction as the change, so the log center can still mask the old value after a master restart. The history
 * is trimmed to the caller's HistoryPolicy on every change of that secret and by pruneHistory at start.
 */
import { inTransaction, type Db } from './db';

export interface SealedRow {
  iv: Buffer;
  tag: Buffer;
  ciphertext: Buffer;
}

/** How much of a secret's history to keep when it changes. */
export interface HistoryPolicy {
  /** Rows replaced before this time (ms) are deleted. */
  cutoff: number;
  /** At most this many rows per secret, the newest; 0 keeps none (the replaced value is not kept at all). */
  maxPerSecret: number;
}

export interface SecretsTable {
  /** Creates or replaces a team's secret; a replaced value moves to the history under `history`. */
  put(teamId: number, name: string, sealed: SealedRow, now: number, history: HistoryPolicy): void;
  /** Names and update times of a team's secrets, by name. */
  names(teamId: number): { name: string; updatedAt: number }[];
  /** False when there was no such secret; its value moves to the history under `history`. */
  delete(teamId: number, name: string, now: number, history: HistoryPolicy): boolean;
  get(teamId: number, name: string): SealedRow | undefined;
  /** Ids of the history rows of the secret replaced at or after `since`, newest first (ids are never reused). */
  previousIds(teamId: number, name: string, since: number): number[];
  /** A history row's sealed value (of that team and name only). */
  previous(id: number, teamId: number, name: string): SealedRow | undefined;
  /** Deletes history rows replaced before `cutoff`; returns how many. */
  pruneHistory(cutoff: number): number;
}

export function createSecretsTable(db: Db): SecretsTable {
  const put = db.prepare(
    `INSERT INTO secrets (team_id, name, iv, tag, ciphertext, updated_at) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (team_id, name) DO UPDATE SET iv = excluded.iv, tag = excluded.tag, ciphertext = excluded.ciphertext, updated_at = excluded.updated_at`,
  );
  const names = db.prepare<[number], { name: string; updatedAt: number }>('SELECT name, updated_at AS updatedAt FROM secrets WHERE team_id = ? ORDER BY name');
  const del = db.prepare('DELETE FROM secrets WHERE team_id = ? AND name = ?');
  const get = db.prepare<[number, string], SealedRow>('SELECT iv, tag, ciphertext FROM secrets WHERE team_id = ? AND name = ?');
  const keep = db.prepare(
    `INSERT INTO secret_history (team_id, name, iv, tag, ciphertext, replaced_at)
     SELECT team_id, name, iv, tag, ciphertext, ? FROM secrets WHERE team_id = ? AND name = ?`,
  );
  const trim = db.prepare(
    `DELETE FROM secret_history WHERE team_id = ? AND name = ? AND (replaced_at < ? OR id NOT IN (
       SELECT id FROM secret_history WHERE team_id = ? AND name = ? ORDER BY replaced_at DESC, id DESC LIMIT ?))`,
  );
  // Ids only: the masker asks for every batch and reads the (immutable) sealed row of an id it has not seen yet.
  const previousIds = db
    .prepare<[number, string, number], number>('SELECT id FROM secret_history WHERE team_id = ? AND name = ? AND replaced_at >= ? ORDER BY replaced_at DESC, id DESC')
    .pluck();
  const previous = db.prepare<[number, number, string], SealedRow>('SELECT iv, tag, ciphertext FROM secret_history WHERE id = ? AND team_id = ? AND name = ?');
  const prune = db.prepare('DELETE FROM secret_history WHERE replaced_at < ?');

  /** Moves the current value (if any) to the history and trims the secret's history, inside the caller's transaction. */
  const moveToHistory = (teamId: number, name: string, now: number, h: HistoryPolicy) => {
    if (h.maxPerSecret > 0) keep.run(now, teamId, name);
    trim.run(teamId, name, h.cutoff, teamId, name, h.maxPerSecret);
  };
  return {
    put: (teamId, name, s, now, h) =>
      inTransaction(db, () => {
        moveToHistory(teamId, name, now, h);
        put.run(teamId, name, s.iv, s.tag, s.ciphertext, now);
      }),
    names: (teamId) => names.all(teamId),
    delete: (teamId, name, now, h) =>
      inTransaction(db, () => {
        moveToHistory(teamId, name, now, h);
        return del.run(teamId, name).changes > 0;
      }),
    get: (teamId, name) => get.get(teamId, name),
    previousIds: (teamId, name, since) => previousIds.all(teamId, name, since),
    previous: (id, teamId, name) => previous.get(id, teamId, name),
    pruneHistory: (cutoff) => prune.run(cutoff).changes,
  };
}
