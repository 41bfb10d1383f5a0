/** Users: creation with validated names and bcrypt hashes, and the first-start `admin` bootstrap. */
import { randomBytes } from 'node:crypto';
import type { UserInfo } from '../../shared/api';
import { badRequest, conflict, notFound } from '../../shared/errors';
import { NAME_RE } from '../../shared/job';
import type { Db } from '../store/db';
import { identitiesStore, type UserRow } from '../store/identities';
import { hashPassword } from './passwords';

export type { UserRow } from '../store/identities';

export function findUserByName(db: Db, username: string): UserRow | undefined {
  return identitiesStore(db).userByName(username);
}

export function findUserById(db: Db, id: number): UserRow | undefined {
  return identitiesStore(db).userById(id);
}

export function listUsers(db: Db): UserInfo[] {
  return identitiesStore(db).users().map(toInfo);
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
  if (disabled !== (user.disabled_at !== null)) identitiesStore(db).setUserDisabledAt(user.id, disabled ? Date.now() : null);
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
  // With the memberships a team maintainer gave this name before the user existed (store/teams.ts).
  const id = identitiesStore(db).insertUser(username, hash, input.isAdmin === true, Date.now());
  return { id, username, isAdmin: input.isAdmin === true };
}

/**
 * First start (no users yet): creates the instance admin `admin`. Returns the generated password when none
 * was given (the caller prints it once), `null` when users already existed.
 */
export async function ensureAdmin(db: Db, passwordOrSource?: string | (() => string | undefined)): Promise<{ generatedPassword?: string } | null> {
  if (identitiesStore(db).userCount() > 0) return null;
  // A source is read only now, on the first start (e.g. a password file that may be gone later).
  const password = typeof passwordOrSource === 'function' ? passwordOrSource() : passwordOrSource;
  const generated = password ? undefined : randomBytes(18).toString('base64url');
  await createUser(db, { username: 'admin', password: password ?? generated, isAdmin: true });
  return { generatedPassword: generated };
}
