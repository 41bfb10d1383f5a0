import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { open, seal } from '../../master/secrets/crypto';
import { SecretStore } from '../../master/secrets/store';
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
