/**
 * Team secrets: stored encrypted (crypto.ts), listed by name only, decrypted only for resolve() when the
 * engine assigns a stage. Values never appear in API responses or logs.
 *
 * A value replaced or deleted is kept, still sealed, for `historyDays` (at most MAX_PREVIOUS_PER_SECRET per
 * secret): previousValues() gives it to the log center's masker only (master/app-logs/secret-mask.ts), so a
 * container still running with an old value has it masked also after a master restart. No API returns it.
 */
import { badRequest, notFound } from '../../shared/errors';
import { ENV_KEY_RE } from '../../shared/job';
import type { Secrets } from '../context';
import type { Db } from '../store/db';
import { createSecretsTable, type HistoryPolicy, type SecretsTable } from '../store/secrets';
import { open, seal, type Sealed } from './crypto';

export const MAX_SECRET_BYTES = 64 * 1024;
/** Default of SLIPWAY_SECRET_HISTORY_DAYS: how long a replaced value stays masked in container logs. */
export const DEFAULT_SECRET_HISTORY_DAYS = 30;
/** Replaced values kept per secret (the newest): bounds the masking work of a secret rotated very often. */
export const MAX_PREVIOUS_PER_SECRET = 10;
const DAY_MS = 24 * 60 * 60 * 1000;
/** Decrypted old values kept in memory (see previousValues). */
const MAX_OPENED = 4096;

export interface SecretStoreOptions {
  /** How long replaced and deleted values are kept (sealed) for masking; 0 keeps none. */
  historyDays?: number;
  /** The clock (tests). */
  now?: () => number;
}

const aadFor = (teamId: number, name: string) => `${teamId}/${name}`;

export class SecretStore implements Secrets {
  private readonly table: SecretsTable;
  private readonly historyMs: number;
  private readonly now: () => number;
  /**
   * Decrypted history rows by id, as the masker asks for every batch. Rows never change; cleared on every set and
   * delete (the only writes, which may trim rows), so an id can never stand for another row's value.
   */
  private readonly opened = new Map<number, string>();

  constructor(
    db: Db,
    private readonly key: Buffer,
    options: SecretStoreOptions = {},
  ) {
    this.table = createSecretsTable(db);
    this.historyMs = (options.historyDays ?? DEFAULT_SECRET_HISTORY_DAYS) * DAY_MS;
    this.now = options.now ?? Date.now;
    this.table.pruneHistory(this.now() - this.historyMs);
  }

  private history(now: number): HistoryPolicy {
    return { cutoff: now - this.historyMs, maxPerSecret: this.historyMs > 0 ? MAX_PREVIOUS_PER_SECRET : 0 };
  }

  /** Creates or replaces a secret; invalid_request naming the field for a bad name or value. */
  set(teamId: number, name: string, value: unknown): void {
    if (!ENV_KEY_RE.test(name)) throw badRequest(`secret name '${name}': letters, digits and _ only (it becomes an environment variable)`);
    if (typeof value !== 'string' || !value.length) throw badRequest('value: a non-empty string');
    if (Buffer.byteLength(value) > MAX_SECRET_BYTES) throw badRequest(`value: at most ${MAX_SECRET_BYTES} bytes`);
    const s = seal(this.key, value, aadFor(teamId, name));
    const now = this.now();
    this.table.put(teamId, name, s, now, this.history(now));
    this.opened.clear();
  }

  /** Names and update times, never values. */
  list(teamId: number): { name: string; updatedAt: number }[] {
    return this.table.names(teamId);
  }

  delete(teamId: number, name: string): void {
    const now = this.now();
    this.opened.clear();
    if (!this.table.delete(teamId, name, now, this.history(now))) throw notFound(`secret '${name}'`);
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

  /**
   * Decrypted values the named secrets held before they were last replaced or deleted, within the history
   * period, newest first per name. Only for masking logs: never for an API answer or a stage.
   */
  previousValues(teamId: number, names: string[]): string[] {
    const out: string[] = [];
    const since = this.now() - this.historyMs;
    for (const name of names) {
      for (const id of this.table.previousIds(teamId, name, since)) {
        let value = this.opened.get(id);
        if (value === undefined) {
          const row = this.table.previous(id, teamId, name);
          if (!row) continue; // pruned meanwhile
          value = open(this.key, row, aadFor(teamId, name));
          // Bounded: at most MAX_PREVIOUS_PER_SECRET rows per secret are live; past the bound start afresh.
          if (this.opened.size >= MAX_OPENED) this.opened.clear();
          this.opened.set(id, value);
        }
        out.push(value);
      }
    }
    return out;
  }
}
