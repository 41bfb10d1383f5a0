import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAccess } from '../../master/access';
import { requireAdmin } from '../../master/access';
import type { Access, Principal, TokenScope } from '../../master/context';
import { createTeam, setMember } from '../../master/store/teams';
import { SlipwayError } from '../../shared/errors';
import { tempStore } from './platform-fixtures';

function code(fn: () => void): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    return (e as SlipwayError).code;
  }
}

describe('team access rules', () => {
  let store: ReturnType<typeof tempStore>;
  let access: Access;
  let shop: number;
  let other: number;
  const user = (id: number, scopes: TokenScope[] = ['read', 'write', 'admin'], isAdmin = false): Principal => ({
    userId: id,
    username: `u${id}`,
    isAdmin,
    scopes,
    via: scopes.length === 3 ? 'jwt' : 'token',
  });

  beforeEach(() => {
    store = tempStore();
    const ins = store.db.prepare("INSERT INTO users (username, password_hash, created_at) VALUES (?, 'x', 0)");
    for (const n of ['viewer', 'dev', 'maint', 'outsider']) ins.run(n);
    shop = createTeam(store.db, 'shop').id;
    other = createTeam(store.db, 'other').id;
    setMember(store.db, shop, 'viewer', 'viewer');
    setMember(store.db, shop, 'dev', 'developer');
    setMember(store.db, shop, 'maint', 'maintainer');
    access = createAccess(store.db);
  });
  afterEach(() => store.cleanup());

  it('gives outsiders not_found for every action', () => {
    for (const a of ['read', 'trigger', 'edit', 'manage'] as const) expect(code(() => access.check(user(4), shop, a, 'job x'))).toBe('not_found');
  });

  it('lets roles do exactly what they allow and forbids the rest', () => {
    const table = {
      1: { read: undefined, trigger: 'forbidden', edit: 'forbidden', manage: 'forbidden' },
      2: { read: undefined, trigger: undefined, edit: undefined, manage: 'forbidden' },
      3: { read: undefined, trigger: undefined, edit: undefined, manage: undefined },
    } as const;
    for (const [id, expected] of Object.entries(table)) {
      for (const [action, want] of Object.entries(expected)) {
        expect(code(() => access.check(user(Number(id)), shop, action as 'read', 'job x')), `user ${id} ${action}`).toBe(want);
      }
    }
  });

  it('forbids a read-scoped token from triggering or editing even for a maintainer', () => {
    const readOnly = user(3, ['read']);
    expect(code(() => access.check(readOnly, shop, 'read', 'job x'))).toBeUndefined();
    expect(code(() => access.check(readOnly, shop, 'trigger', 'job x'))).toBe('forbidden');
    expect(code(() => access.check(readOnly, shop, 'edit', 'job x'))).toBe('forbidden');
  });

  it('names the needed role and team in the 403 message', () => {
    expect(() => access.check(user(1), shop, 'trigger', "job 'web'")).toThrow(/job 'web'.*needs role developer in team 'shop'; you are viewer/);
  });

  it('treats admins as maintainers everywhere and shows them every team', () => {
    const admin = user(4, ['read', 'write', 'admin'], true);
    expect(access.roleIn(admin, other)).toBe('maintainer');
    expect(access.visibleTeamIds(admin).sort()).toEqual([shop, other].sort());
    expect(access.visibleTeamIds(user(2))).toEqual([shop]);
    expect(access.visibleTeamIds(user(4))).toEqual([]);
  });

  it('keeps admin-only routes for admins holding the admin scope', () => {
    expect(code(() => requireAdmin(user(3), 'users'))).toBe('forbidden');
    expect(code(() => requireAdmin(user(4, ['read', 'write', 'admin'], true), 'users'))).toBeUndefined();
    expect(code(() => requireAdmin(user(4, ['write'], true), 'users'))).toBe('forbidden');
  });
});
