import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { open, seal } from '../../master/secrets/crypto';
import { MAX_PREVIOUS_PER_SECRET, SecretStore } from '../../master/secrets/store';
import { createTeam } from '../../master/store/teams';
import { tempStore } from './platform-fixtures';

describe('secret crypto', () => {
  const key = randomBytes(32);

  it('round-trips a value with a fresh IV each time', () => {
    const a = seal(key, 'hunter2-value', '1/TOKEN');
    const b = seal(key, 'hunter2-value', '1/TOKEN');
    expect(a.iv.length).toBe(12);
    expect(a.iv.equals(b.iv)).toBe(false);
    expect(a.ciphertext.includes(Buffer.from('hunter2'))).toBe(false);
    expect(open(key, a, '1/TOKEN')).toBe('hunter2-value');
  });

  it('detects tampering of ciphertext, tag, aad and key without leaking the value', () => {
    const s = seal(key, 'hunter2-value', '1/TOKEN');
    const flipped = Buffer.from(s.ciphertext);
    flipped[0] ^= 1;
    expect(() => open(key, { ...s, ciphertext: flipped }, '1/TOKEN')).toThrow(/cannot be decrypted/);
    const tag = Buffer.from(s.tag);
    tag[3] ^= 0x80;
    expect(() => open(key, { ...s, tag }, '1/TOKEN')).toThrow(/cannot be decrypted/);
    expect(() => open(key, s, '2/TOKEN')).toThrow(/cannot be decrypted/);
    try {
      open(randomBytes(32), s, '1/TOKEN');
      expect.unreachable();
    } catch (e) {
      expect((e as Error).message).not.toContain('hunter2');
    }
  });
});

describe('secret store', () => {
  let store: ReturnType<typeof tempStore>;
  let secrets: SecretStore;
  let team: number;
  beforeEach(() => {
    store = tempStore();
    secrets = new SecretStore(store.db, randomBytes(32));
    team = createTeam(store.db, 'shop').id;
  });
  afterEach(() => store.cleanup());

  it('keeps values encrypted at rest, lists names only and resolves the named ones', () => {
    secrets.set(team, 'DEPLOY_KEY', 'super-secret-deploy-key');
    secrets.set(team, 'OTHER', 'other-value');
    const raw = store.db.prepare('SELECT * FROM secrets').all();
    expect(JSON.stringify(raw)).not.toContain('super-secret');
    expect(Buffer.concat((raw as { ciphertext: Buffer }[]).map((r) => r.ciphertext)).includes('super-secret')).toBe(false);
    expect(secrets.list(team).map((s) => s.name)).toEqual(['DEPLOY_KEY', 'OTHER']);
    expect(JSON.stringify(secrets.list(team))).not.toContain('super-secret');
    expect(secrets.resolve(team, ['DEPLOY_KEY', 'MISSING'])).toEqual({ DEPLOY_KEY: 'super-secret-deploy-key' });
  });

  it('refuses a row moved to another team', () => {
    const other = createTeam(store.db, 'other').id;
    secrets.set(team, 'KEY', 'value-of-shop');
    store.db.prepare('UPDATE secrets SET team_id = ?').run(other);
    expect(() => secrets.resolve(other, ['KEY'])).toThrow(/cannot be decrypted/);
  });

  it('rejects bad names and empty values with the field named', () => {
    expect(() => secrets.set(team, 'bad-name', 'v')).toThrow(/secret name 'bad-name'/);
    expect(() => secrets.set(team, 'OK', '')).toThrow(/value: a non-empty string/);
  });
});

describe('replaced secret values (kept sealed for masking container logs)', () => {
  let store: ReturnType<typeof tempStore>;
  let team: number;
  let now: number;
  const key = randomBytes(32);
  const open = (historyDays?: number) => new SecretStore(store.db, key, { historyDays, now: () => now });
  const DAY = 24 * 60 * 60 * 1000;
  beforeEach(() => {
    store = tempStore();
    team = createTeam(store.db, 'shop').id;
    now = Date.parse('2026-12-01T00:00:00Z');
  });
  afterEach(() => store.cleanup());

  it('keeps a replaced and a deleted value sealed, for a new store on the same database too, and never lists it', () => {
    const secrets = open();
    secrets.set(team, 'API_TOKEN', 'old-token-value-1');
    now += 1000;
    secrets.set(team, 'API_TOKEN', 'new-token-value-2');
    expect(secrets.previousValues(team, ['API_TOKEN'])).toEqual(['old-token-value-1']);
    secrets.set(team, 'DB_PASSWORD', 'deleted-password-3');
    now += 1000;
    secrets.delete(team, 'DB_PASSWORD');
    const raw = store.db.prepare('SELECT * FROM secret_history').all() as { ciphertext: Buffer }[];
    expect(raw.length).toBe(2);
    expect(Buffer.concat(raw.map((r) => r.ciphertext)).includes('old-token')).toBe(false);
    expect(JSON.stringify(raw)).not.toMatch(/old-token|deleted-password/);
    // Asked again after more changes (decrypted rows are cached by id).
    expect(secrets.previousValues(team, ['DB_PASSWORD', 'API_TOKEN'])).toEqual(['deleted-password-3', 'old-token-value-1']);
    // What a restarted master's store sees.
    const again = open();
    expect(again.previousValues(team, ['API_TOKEN', 'DB_PASSWORD', 'MISSING'])).toEqual(['old-token-value-1', 'deleted-password-3']);
    expect(again.resolve(team, ['API_TOKEN', 'DB_PASSWORD'])).toEqual({ API_TOKEN: 'new-token-value-2' });
    expect(JSON.stringify(again.list(team))).not.toMatch(/token-value|password/);
    expect(again.list(team).map((s) => s.name)).toEqual(['API_TOKEN']);
  });

  it('forgets values older than the history period and keeps at most the newest few per secret', () => {
    const secrets = open(30);
    secrets.set(team, 'TOKEN', 'value-0');
    for (let i = 1; i <= MAX_PREVIOUS_PER_SECRET + 3; i++) {
      now += DAY;
      secrets.set(team, 'TOKEN', `value-${i}`);
    }
    const kept = secrets.previousValues(team, ['TOKEN']);
    expect(kept.length).toBe(MAX_PREVIOUS_PER_SECRET);
    expect(kept[0]).toBe(`value-${MAX_PREVIOUS_PER_SECRET + 2}`);
    expect(kept).not.toContain('value-0');
    // 30 days after the last replacement only the values replaced within the period are still given...
    now += 30 * DAY - (MAX_PREVIOUS_PER_SECRET - 3) * DAY;
    expect(secrets.previousValues(team, ['TOKEN']).length).toBe(MAX_PREVIOUS_PER_SECRET - 3 + 1);
    // ...and a store opened later deletes the expired rows.
    now += 365 * DAY;
    open(30);
    expect(store.db.prepare('SELECT COUNT(*) AS n FROM secret_history').get()).toEqual({ n: 0 });
  });

  it('keeps nothing with a history of 0 days', () => {
    const secrets = open(0);
    secrets.set(team, 'TOKEN', 'first-value');
    secrets.set(team, 'TOKEN', 'second-value');
    secrets.delete(team, 'TOKEN');
    expect(secrets.previousValues(team, ['TOKEN'])).toEqual([]);
    expect(store.db.prepare('SELECT COUNT(*) AS n FROM secret_history').get()).toEqual({ n: 0 });
  });
});
