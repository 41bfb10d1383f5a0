/**
 * Team secrets: stored encrypted (crypto.ts), listed by name only, decrypted only for resolve() when the
 * engine assigns a stage. Values never appear in API responses or logs.
 */
import { badRequest, notFound } from '../../shared/errors';
import { ENV_KEY_RE } from '../../shared/job';
import type { Secrets } from '../context';
import type { Db } from '../store/db';
import { createSecretsTable, type SecretsTable } from '../store/secrets';
import { open, seal, type Sealed } from './crypto';

export const MAX_SECRET_BYTES = 64 * 1024;

const aadFor = (teamId: number, name: string) => `${teamId}/${name}`;

export class SecretStore implements Secrets {
  private readonly table: SecretsTable;

  constructor(
    db: Db,
    private readonly key: Buffer,
  ) {
    this.table = createSecretsTable(db);
  }

  /** Creates or replaces a secret; invalid_request naming the field for a bad name or value. */
  set(teamId: number, name: string, value: unknown): void {
    if (!ENV_KEY_RE.test(name)) throw badRequest(`secret name '${name}': letters, digits and _ only (it becomes an environment variable)`);
    if (typeof value !== 'string' || !value.length) throw badRequest('value: a non-empty string');
    if (Buffer.byteLength(value) > MAX_SECRET_BYTES) throw badRequest(`value: at most ${MAX_SECRET_BYTES} bytes`);
    const s = seal(this.key, value, aadFor(teamId, name));
    this.table.put(teamId, name, s, Date.now());
  }

  /** Names and update times, never values. */
  list(teamId: number): { name: string; updatedAt: number }[] {
    return this.table.names(teamId);
  }

  delete(teamId: number, name: string): void {
    if (!this.table.delete(teamId, name)) throw notFound(`secret '${name}'`);
  }

  resolve(teamId: number, names: string[]): Record<string, string> {
    const out: Record<string, string> = {};
    if (!names.length) return out;
    for (const name of names) {
      const row: Sealed | undefined = this.table.get(teamId, name);
      if (row) out[name] = open(this.key, row, aadFor(teamId, name));
    }
    return out;
  }
}
