/**
 * Identities (tables users, api_tokens, agent_tokens, memberships as access reads them): every statement on
 * them outside teams.ts lives here. Callers (master/auth/*, access.ts, api/auth-routes.ts) validate input and
 * decide policy; this module only reads and writes rows. Statements are prepared once per connection.
 */
import type { Role } from '../../shared/api';
import type { Db } from './db';
import { claimPendingMemberships } from './teams';

export interface UserRow {
  id: number;
  username: string;
  password_hash: string;
  is_admin: number;
  /** Set while the user is disabled: no login, no session or token works. */
  disabled_at: number | null;
}

export interface ApiTokenRow {
  id: number;
  user_id: number;
  name: string;
  scopes: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

export interface AgentTokenRow {
  id: number;
  name: string;
  environment: string;
  environment_id: number;
  created_at: number;
  revoked_at: number | null;
}

export interface IdentitiesStore {
  userByName(username: string): UserRow | undefined;
  userById(id: number): UserRow | undefined;
  /** Every user, by name. */
  users(): UserRow[];
  userCount(): number;
  /** Inserts a user and turns the pending memberships of the name into memberships, atomically; the new id. */
  insertUser(username: string, passwordHash: string, isAdmin: boolean, now: number): number;
  setUserDisabledAt(userId: number, at: number | null): void;
  /** The user's teams with their role, by team name. */
  teamRolesOf(userId: number): { name: string; role: Role }[];
  /** The user's role in a team, or undefined. */
  roleIn(userId: number, teamId: number): Role | undefined;
  /** Ids of the user's teams. */
  teamIdsOf(userId: number): number[];
  /** Ids of every team. */
  allTeamIds(): number[];
  teamName(teamId: number): string | undefined;

  insertApiToken(userId: number, name: string, tokenHash: string, scopes: string, now: number): number;
  apiTokensOf(userId: number): ApiTokenRow[];
  apiTokenById(id: number): ApiTokenRow | undefined;
  apiTokenByHash(tokenHash: string): ApiTokenRow | undefined;
  revokeApiToken(id: number, now: number): void;
  touchApiToken(id: number, now: number): void;

  insertAgentToken(environmentId: number, name: string, tokenHash: string, now: number): number;
  agentTokensOf(environmentId: number): AgentTokenRow[];
  agentTokenById(id: number): AgentTokenRow | undefined;
  /** The token with its environment's name, by hash. */
  agentTokenByHash(tokenHash: string): AgentTokenRow | undefined;
  revokeAgentToken(id: number, now: number): void;
}

const cache = new WeakMap<Db, IdentitiesStore>();

/** One store per connection (prepared statements shared by every caller). */
export function identitiesStore(db: Db): IdentitiesStore {
  let s = cache.get(db);
  if (!s) cache.set(db, (s = create(db)));
  return s;
}

function create(db: Db): IdentitiesStore {
  const USER_COLS = 'id, username, password_hash, is_admin, disabled_at';
  const byName = db.prepare<[string], UserRow>(`SELECT ${USER_COLS} FROM users WHERE username = ?`);
  const byId = db.prepare<[number], UserRow>(`SELECT ${USER_COLS} FROM users WHERE id = ?`);
  const all = db.prepare<[], UserRow>(`SELECT ${USER_COLS} FROM users ORDER BY username`);
  const count = db.prepare('SELECT COUNT(*) FROM users').pluck();
  const insertUser = db.prepare('INSERT INTO users (username, password_hash, is_admin, created_at) VALUES (?, ?, ?, ?)');
  const addUser = db.transaction((username: string, hash: string, isAdmin: boolean, now: number) => {
    const userId = Number(insertUser.run(username, hash, isAdmin ? 1 : 0, now).lastInsertRowid);
    // Memberships a team maintainer gave this name before the user existed (teams.ts).
    claimPendingMemberships(db, userId, username);
    return userId;
  });
  const disable = db.prepare('UPDATE users SET disabled_at = ? WHERE id = ?');
  const teamRoles = db.prepare<[number], { name: string; role: Role }>(
    'SELECT t.name, m.role FROM memberships m JOIN teams t ON t.id = m.team_id WHERE m.user_id = ? ORDER BY t.name',
  );
  const role = db.prepare<[number, number], { role: Role }>('SELECT role FROM memberships WHERE user_id = ? AND team_id = ?');
  const teamIds = db.prepare<[number], number>('SELECT team_id FROM memberships WHERE user_id = ?').pluck();
  const allTeams = db.prepare<[], number>('SELECT id FROM teams').pluck();
  const teamName = db.prepare<[number], string>('SELECT name FROM teams WHERE id = ?').pluck();

  const insertApi = db.prepare('INSERT INTO api_tokens (user_id, name, token_hash, scopes, created_at) VALUES (?, ?, ?, ?, ?)');
  const apiOf = db.prepare<[number], ApiTokenRow>('SELECT * FROM api_tokens WHERE user_id = ? ORDER BY id');
  const apiById = db.prepare<[number], ApiTokenRow>('SELECT * FROM api_tokens WHERE id = ?');
  const apiByHash = db.prepare<[string], ApiTokenRow>('SELECT * FROM api_tokens WHERE token_hash = ?');
  const revokeApi = db.prepare('UPDATE api_tokens SET revoked_at = ? WHERE id = ?');
  const touchApi = db.prepare('UPDATE api_tokens SET last_used_at = ? WHERE id = ?');

  const AGENT_COLS = 't.id, t.name, e.name AS environment, t.environment_id, t.created_at, t.revoked_at FROM agent_tokens t JOIN environments e ON e.id = t.environment_id';
  const insertAgent = db.prepare('INSERT INTO agent_tokens (environment_id, name, token_hash, created_at) VALUES (?, ?, ?, ?)');
  const agentOf = db.prepare<[number], AgentTokenRow>(`SELECT ${AGENT_COLS} WHERE t.environment_id = ? ORDER BY t.id`);
  const agentById = db.prepare<[number], AgentTokenRow>(`SELECT ${AGENT_COLS} WHERE t.id = ?`);
  const agentByHash = db.prepare<[string], AgentTokenRow>(`SELECT ${AGENT_COLS} WHERE t.token_hash = ?`);
  const revokeAgent = db.prepare('UPDATE agent_tokens SET revoked_at = ? WHERE id = ?');

  return {
    userByName: (username) => byName.get(username),
    userById: (id) => byId.get(id),
    users: () => all.all(),
    userCount: () => count.get() as number,
    insertUser: (username, hash, isAdmin, now) => addUser(username, hash, isAdmin, now),
    setUserDisabledAt: (userId, at) => void disable.run(at, userId),
    teamRolesOf: (userId) => teamRoles.all(userId),
    roleIn: (userId, teamId) => role.get(userId, teamId)?.role,
    teamIdsOf: (userId) => teamIds.all(userId),
    allTeamIds: () => allTeams.all(),
    teamName: (teamId) => teamName.get(teamId),

    insertApiToken: (userId, name, hash, scopes, now) => Number(insertApi.run(userId, name, hash, scopes, now).lastInsertRowid),
    apiTokensOf: (userId) => apiOf.all(userId),
    apiTokenById: (id) => apiById.get(id),
    apiTokenByHash: (hash) => apiByHash.get(hash),
    revokeApiToken: (id, now) => void revokeApi.run(now, id),
    touchApiToken: (id, now) => void touchApi.run(now, id),

    insertAgentToken: (environmentId, name, hash, now) => Number(insertAgent.run(environmentId, name, hash, now).lastInsertRowid),
    agentTokensOf: (environmentId) => agentOf.all(environmentId),
    agentTokenById: (id) => agentById.get(id),
    agentTokenByHash: (hash) => agentByHash.get(hash),
    revokeAgentToken: (id, now) => void revokeAgent.run(now, id),
  };
}
