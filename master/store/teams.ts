/** Teams and their members (roles maintainer, developer, viewer). Authorization lives in access.ts. */
import type { Role, TeamInfo } from '../../shared/api';
import { badRequest, conflict, notFound } from '../../shared/errors';
import { NAME_RE } from '../../shared/job';
import { statement, type Db } from './db';

const ROLES: readonly Role[] = ['maintainer', 'developer', 'viewer'];

export interface TeamRow {
  id: number;
  name: string;
}

export function findTeam(db: Db, name: string): TeamRow | undefined {
  return statement(db, 'SELECT id, name FROM teams WHERE name = ?').get(name) as TeamRow | undefined;
}

/** The team with this name; not_found naming it otherwise. */
export function getTeam(db: Db, name: string): TeamRow {
  const t = findTeam(db, name);
  if (!t) throw notFound(`team '${name}'`);
  return t;
}

export function validateTeamName(name: unknown): string {
  if (typeof name !== 'string' || !NAME_RE.test(name))
    throw badRequest(`name: must be 1-63 characters of a-z, 0-9, '.', '_' or '-' (got ${JSON.stringify(name)})`);
  return name;
}

export function createTeam(db: Db, name: unknown): TeamRow {
  const n = validateTeamName(name);
  if (findTeam(db, n)) throw conflict(`team '${n}' already exists`);
  const r = statement(db, 'INSERT INTO teams (name, created_at) VALUES (?, ?)').run(n, Date.now());
  return { id: Number(r.lastInsertRowid), name: n };
}

/** The team, created when missing (jobs files bootstrap their teams). */
export function ensureTeam(db: Db, name: string): TeamRow {
  return findTeam(db, name) ?? createTeam(db, name);
}

/** Members by name, pending ones (names without a user yet) listed exactly like the others. */
export function members(db: Db, teamId: number): { username: string; role: Role }[] {
  return statement(db,
      `SELECT u.username, m.role FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.team_id = ?
       UNION ALL SELECT username, role FROM pending_memberships WHERE team_id = ?
       ORDER BY 1`,
    )
    .all(teamId, teamId) as { username: string; role: Role }[];
}

/** Teams given by id with the caller's role in each (computed by the caller) and their members. */
export function teamInfos(db: Db, ids: number[], roleOf: (teamId: number) => Role | null): TeamInfo[] {
  if (!ids.length) return [];
  const rows = db.prepare(`SELECT id, name FROM teams WHERE id IN (${ids.map(() => '?').join(',')}) ORDER BY name`).all(...ids) as TeamRow[];
  return rows.map((t) => ({ id: t.id, name: t.name, role: roleOf(t.id), members: members(db, t.id) }));
}

/**
 * Adds a member or changes their role. `unknownUser` says what a name without a user does: 'not_found'
 * (admins, who may list users anyway) or 'pending' (everyone else: the membership waits for the user, so
 * the answer is the same whether the name exists or not).
 */
export function setMember(db: Db, teamId: number, username: string, role: unknown, unknownUser: 'not_found' | 'pending' = 'not_found'): void {
  if (typeof role !== 'string' || !ROLES.includes(role as Role)) throw badRequest(`role: one of ${ROLES.join(', ')} (got ${JSON.stringify(role)})`);
  if (!NAME_RE.test(username)) throw badRequest(`username: must be 1-63 characters of a-z, 0-9, '.', '_' or '-' (got ${JSON.stringify(username)})`);
  const user = statement(db, 'SELECT id FROM users WHERE username = ?').get(username) as { id: number } | undefined;
  if (!user && unknownUser === 'not_found') throw notFound(`user '${username}'`);
  if (!user) {
    statement(db,
      'INSERT INTO pending_memberships (team_id, username, role, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (team_id, username) DO UPDATE SET role = excluded.role',
    ).run(teamId, username, role, Date.now());
    return;
  }
  statement(db, 'INSERT INTO memberships (user_id, team_id, role) VALUES (?, ?, ?) ON CONFLICT (user_id, team_id) DO UPDATE SET role = excluded.role').run(
    user.id,
    teamId,
    role,
  );
}

/** Removes a member (or a pending membership of that name); not_found when the name is neither. */
export function removeMember(db: Db, teamId: number, username: string): void {
  const r = statement(db, 'DELETE FROM memberships WHERE team_id = ? AND user_id = (SELECT id FROM users WHERE username = ?)').run(teamId, username);
  const pending = statement(db, 'DELETE FROM pending_memberships WHERE team_id = ? AND username = ?').run(teamId, username);
  if (r.changes === 0 && pending.changes === 0) throw notFound(`member '${username}'`);
}

/** Turns the pending memberships of a new user's name into memberships (called when the user is created). */
export function claimPendingMemberships(db: Db, userId: number, username: string): void {
  statement(db, 'INSERT OR IGNORE INTO memberships (user_id, team_id, role) SELECT ?, team_id, role FROM pending_memberships WHERE username = ?').run(userId, username);
  statement(db, 'DELETE FROM pending_memberships WHERE username = ?').run(username);
}
