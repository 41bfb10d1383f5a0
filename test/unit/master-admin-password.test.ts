/**
 * The first admin's password from the environment (master/config.ts adminPasswordFromEnv): the variable, or a
 * file as container secrets pass it, and clear errors naming the variable for the ways that can go wrong.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { adminPasswordFromEnv } from '../../master/config';
import { ensureAdmin } from '../../master/auth/users';
import { openDb } from '../../master/store/db';

const dir = mkdtempSync(join(tmpdir(), 'slipway-adminpw-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('adminPasswordFromEnv', () => {
  it('takes SLIPWAY_ADMIN_PASSWORD, or the file SLIPWAY_ADMIN_PASSWORD_FILE names without its trailing newline', () => {
    expect(adminPasswordFromEnv({})).toBeUndefined();
    expect(adminPasswordFromEnv({ SLIPWAY_ADMIN_PASSWORD: 'from-env' })).toBe('from-env');
    const f = join(dir, 'pw');
    writeFileSync(f, 'from file with spaces \n');
    expect(adminPasswordFromEnv({ SLIPWAY_ADMIN_PASSWORD_FILE: f })).toBe('from file with spaces ');
    expect(adminPasswordFromEnv({ SLIPWAY_ADMIN_PASSWORD: '', SLIPWAY_ADMIN_PASSWORD_FILE: f })).toBe('from file with spaces ');
  });

  it('refuses both set, a missing file and an empty one, naming the variable', () => {
    const f = join(dir, 'pw2');
    writeFileSync(f, 'x\n');
    expect(() => adminPasswordFromEnv({ SLIPWAY_ADMIN_PASSWORD: 'a', SLIPWAY_ADMIN_PASSWORD_FILE: f })).toThrow('SLIPWAY_ADMIN_PASSWORD and SLIPWAY_ADMIN_PASSWORD_FILE are both set: set one');
    expect(() => adminPasswordFromEnv({ SLIPWAY_ADMIN_PASSWORD_FILE: join(dir, 'missing') })).toThrow(`SLIPWAY_ADMIN_PASSWORD_FILE: cannot read ${join(dir, 'missing')}`);
    const empty = join(dir, 'empty');
    writeFileSync(empty, '\n');
    expect(() => adminPasswordFromEnv({ SLIPWAY_ADMIN_PASSWORD_FILE: empty })).toThrow(`SLIPWAY_ADMIN_PASSWORD_FILE: ${empty} is empty`);
  });

  it('is read on the first start only: a later start does not need the file', async () => {
    const db = openDb(mkdtempSync(join(dir, 'data-')));
    try {
      const f = join(dir, 'first');
      writeFileSync(f, 'first-start-pw\n');
      expect(await ensureAdmin(db, () => adminPasswordFromEnv({ SLIPWAY_ADMIN_PASSWORD_FILE: f }))).toEqual({ generatedPassword: undefined });
      rmSync(f);
      let read = 0;
      expect(await ensureAdmin(db, () => (read++, adminPasswordFromEnv({ SLIPWAY_ADMIN_PASSWORD_FILE: f })))).toBeNull();
      expect(read).toBe(0);
    } finally {
      db.close();
    }
  });
});
