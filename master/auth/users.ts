/** Users: creation with validated names and bcrypt hashes, and the first-start `admin` bootstrap. */
import { randomBytes } from 'node:crypto';
import type { UserInfo } from '../../shared/api';
import { badRequest, conflict, notFound } from '../../shared/errors';
import { NAME_RE } from '../../shared/job';
import type { Db } from '../store/db';
import { claimPendingMemberships } from '../store/teams';
import { hashPassword } from './passwords';

export interface UserRow {
  id: number;
  username: string;
  password_hash: string;
  is_admin: number;
  /** Set while the user is disabled: no login, no session or token works. */
  disabled_at: number | null;
}

export function findUserByName(db: Db, username: string): UserRow | undefined {
  return db.prepare('SELECT id, username, password_hash, is_admin, disabled_at FROM users WHERE username = ?').get(username) as UserRow | undefined;
}

export function findUserById(db: Db, id: number): UserRow | undefined {
  return db.prepare('SELECT id, username, password_hash, is_admin, disabled_at FROM users WHERE id = ?').get(id) as UserRow | undefined;
}

export function listUsers(db: Db): UserInfo[] {
  const rows = db.prepare('SELECT id, username, is_admin, disabled_at FROM users ORDER BY username').all() as UserRow[];
  return rows.map(toInfo);
}

export const toInfo = (r: Pick<UserRow, 'id' | 'username' | 'is_admin' | 'disabled_at'>): UserInfo => ({
  id: r.id,
  username: r.username,
  isAdmin: r.is_admin === 1,
  ...(r.disabled_at !== null ? { disabled: true } : {}),
});

/**
 * Disables or enables a user (admins; the route tells the access-change listeners). not_found for an unknown
 * name; conflict when an admin would disable their own account (nobody could enable it again).
 */
export function setUserDisabled(db: Db, username: string, disabled: unknown, by: { userId: number }): UserInfo {
  if (typeof disabled !== 'boolean') throw badRequest('disabled: must be true or false');
  const user = findUserByName(db, username);
  if (!user) throw notFound(`user '${username}'`);
  if (disabled && user.id === by.userId) throw conflict('you cannot disable your own account');
  if (disabled !== (user.disabled_at !== null)) db.prepare('UPDATE users SET disabled_at = ? WHERE id = ?').run(disabled ? Date.now() : null, user.id);
  return toInfo(findUserById(db, user.id)!);
}

/** Creates a user; invalid_request for a bad name or password, conflict when the name is taken. */
export async function createUser(db: Db, input: { username: unknown; password: unknown; isAdmin?: unknown }): Promise<UserInfo> {
  const { username, password } = input;
  if (typeof username !== 'string' || !NAME_RE.test(username))
    throw badRequest(`username: must be 1-63 characters of a-z, 0-9, '.', '_' or '-' (got ${JSON.stringify(username)})`);
  if (typeof password !== 'string') throw badRequest('password: required');
  if (input.isAdmin !== undefined && typeof input.isAdmin !== 'boolean') throw badRequest('isAdmin: must be true or false');
  if (findUserByName(db, username)) throw conflict(`user '${username}' already exists`);
  const hash = await hashPassword(password);
  const id = db.transaction(() => {
    const r = db
      .prepare('INSERT INTO users (username, password_hash, is_admin, created_at) VALUES (?, ?, ?, ?)')
      .run(username, hash, input.isAdmin ? 1 : 0, Date.now());
    const userId = Number(r.lastInsertRowid);
    // Memberships a team maintainer gave this name before the user existed (store/teams.ts).
    claimPendingMemberships(db, userId, username);
    return userId;
  })();
  return { id, username, isAdmin: input.isAdmin === true };
}

/**
 * First start (no users yet): creates the instance admin `admin`. Returns the generated password when none
 * was given (the caller prints it once), `null` when users already existed.
 */
export async function ensureAdmin(db: Db, password?: string): Promise<{ generatedPassword?: string } | null> {
  const { n } = db.prepare('SELECT COUNT(*) AS n FROM users').get() as { n: number };
  if (n > 0) return null;
  const generated = password ? undefined : randomBytes(18).toString('base64url');
  await createUser(db, { username: 'admin', password: password ?? generated, isAdmin: true });
  return { generatedPassword: generated };
}
