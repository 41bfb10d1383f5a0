/**
 * Team secrets: stored encrypted (crypto.ts), listed by name only, decrypted only for resolve() when the
 * engine assigns a stage. Values never appear in API responses or logs.
 */
import { badRequest, notFound } from '../../shared/errors';
import { ENV_KEY_RE } from '../../shared/job';
import type { Secrets } from '../context';
import type { Db } from '../store/db';
import { open, seal, type Sealed } from './crypto';

export const MAX_SECRET_BYTES = 64 * 1024;

const aadFor = (teamId: number, name: string) => `${teamId}/${name}`;

export class SecretStore implements Secrets {
  constructor(
    private readonly db: Db,
    private readonly key: Buffer,
  ) {}

  /** Creates or replaces a secret; invalid_request naming the field for a bad name or value. */
  set(teamId: number, name: string, value: unknown): void {
    if (!ENV_KEY_RE.test(name)) throw badRequest(`secret name '${name}': letters, digits and _ only (it becomes an environment variable)`);
    if (typeof value !== 'string' || !value.length) throw badRequest('value: a non-empty string');
    if (Buffer.byteLength(value) > MAX_SECRET_BYTES) throw badRequest(`value: at most ${MAX_SECRET_BYTES} bytes`);
    const s = seal(this.key, value, aadFor(teamId, name));
    this.db
      .prepare(
        `INSERT INTO secrets (team_id, name, iv, tag, ciphertext, updated_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (team_id, name) DO UPDATE SET iv = excluded.iv, tag = excluded.tag, ciphertext = excluded.ciphertext, updated_at = excluded.updated_at`,
      )
      .run(teamId, name, s.iv, s.tag, s.ciphertext, Date.now());
  }

  /** Names and update times, never values. */
  list(teamId: number): { name: string; updatedAt: number }[] {
    return this.db.prepare('SELECT name, updated_at AS updatedAt FROM secrets WHERE team_id = ? ORDER BY name').all(teamId) as {
      name: string;
      updatedAt: number;
    }[];
  }

  delete(teamId: number, name: string): void {
    const r = this.db.prepare('DELETE FROM secrets WHERE team_id = ? AND name = ?').run(teamId, name);
    if (r.changes === 0) throw notFound(`secret '${name}'`);
  }

  resolve(teamId: number, names: string[]): Record<string, string> {
    const out: Record<string, string> = {};
    if (!names.length) return out;
    const stmt = this.db.prepare('SELECT iv, tag, ciphertext FROM secrets WHERE team_id = ? AND name = ?');
    for (const name of names) {
      const row = stmt.get(teamId, name) as Sealed | undefined;
      if (row) out[name] = open(this.key, row, aadFor(teamId, name));
    }
    return out;
  }
}
