/**
 * Environments (ci, pre, prod, ...): created by admins; agents and stages are bound to one by name. A protected
 * environment names the teams whose members may approve its stages (table environment_teams); the engine's
 * approval gates (master/engine/builds/gates.ts) enforce it.
 */
import type { EnvironmentInfo, EnvironmentInput } from '../../shared/api';
import { badRequest, conflict, notFound } from '../../shared/errors';
import { NAME_RE } from '../../shared/job';
import { statement, type Db } from './db';

interface EnvRow {
  id: number;
  name: string;
  description: string;
  protected: number;
  /** JSON of EnvironmentInfo['deployPolicy'] (migration 10). */
  deploy_policy: string;
}

const NO_POWERS: EnvironmentInfo['deployPolicy'] = { allowBindMounts: false, allowPrivileged: false, allowDockerSocket: false };

function teamsOf(db: Db, envId: number): string[] {
  return (
    statement(db, 'SELECT t.name FROM environment_teams et JOIN teams t ON t.id = et.team_id WHERE et.environment_id = ? ORDER BY t.name')
      .all(envId) as { name: string }[]
  ).map((r) => r.name);
}

const toInfo = (db: Db, r: EnvRow): EnvironmentInfo => ({
  id: r.id,
  name: r.name,
  description: r.description,
  protected: r.protected === 1,
  teams: teamsOf(db, r.id),
  deployPolicy: { ...NO_POWERS, ...(JSON.parse(r.deploy_policy || '{}') as Partial<EnvironmentInfo['deployPolicy']>) },
});

export function listEnvironments(db: Db): EnvironmentInfo[] {
  return (statement(db, 'SELECT * FROM environments ORDER BY name').all() as EnvRow[]).map((r) => toInfo(db, r));
}

/** The environment with this name, or undefined. */
export function findEnvironment(db: Db, name: string): EnvironmentInfo | undefined {
  const row = statement(db, 'SELECT * FROM environments WHERE name = ?').get(name) as EnvRow | undefined;
  return row ? toInfo(db, row) : undefined;
}

/** The environment with this name; not_found naming it otherwise. */
export function getEnvironment(db: Db, name: string): EnvironmentInfo {
  const env = findEnvironment(db, name);
  if (!env) throw notFound(`environment '${name}'`);
  return env;
}

function checkFields(input: EnvironmentInput): void {
  const { description, protected: prot } = input as Record<string, unknown>;
  if (description !== undefined && (typeof description !== 'string' || description.length > 500))
    throw badRequest('description: a string of at most 500 characters');
  if (prot !== undefined && typeof prot !== 'boolean') throw badRequest('protected: must be true or false');
  const policy = (input as Record<string, unknown>).deployPolicy;
  if (policy !== undefined) {
    if (!policy || typeof policy !== 'object' || Array.isArray(policy)) throw badRequest('deployPolicy: an object of allowBindMounts, allowPrivileged, allowDockerSocket');
    for (const [k, v] of Object.entries(policy)) {
      if (!(k in NO_POWERS)) throw badRequest(`deployPolicy.${k}: unknown (allowed: ${Object.keys(NO_POWERS).join(', ')})`);
      if (typeof v !== 'boolean') throw badRequest(`deployPolicy.${k}: must be true or false`);
    }
  }
}

/** Team ids of `teams` (names); invalid_request naming the unknown ones (admins only call this). */
function teamIds(db: Db, teams: unknown): number[] {
  if (!Array.isArray(teams) || teams.some((t) => typeof t !== 'string')) throw badRequest('teams: a list of team names');
  const find = statement(db, 'SELECT id FROM teams WHERE name = ?');
  const ids: number[] = [];
  const unknown: string[] = [];
  for (const t of new Set(teams as string[])) {
    const row = find.get(t) as { id: number } | undefined;
    if (row) ids.push(row.id);
    else unknown.push(t);
  }
  if (unknown.length) throw badRequest(`teams: no team named ${unknown.map((u) => `'${u}'`).join(', ')}`);
  return ids;
}

function setTeams(db: Db, envId: number, ids: number[]): void {
  statement(db, 'DELETE FROM environment_teams WHERE environment_id = ?').run(envId);
  const ins = statement(db, 'INSERT INTO environment_teams (environment_id, team_id) VALUES (?, ?)');
  for (const id of ids) ins.run(envId, id);
}

/** Creates an environment; invalid_request for a bad name or field (or an unknown team), conflict when it exists. */
export function createEnvironment(db: Db, input: EnvironmentInput): EnvironmentInfo {
  const { name, description = '', protected: prot = false, teams = [] } = input;
  if (typeof name !== 'string' || !NAME_RE.test(name))
    throw badRequest(`name: must be 1-63 characters of a-z, 0-9, '.', '_' or '-' (got ${JSON.stringify(name)})`);
  checkFields(input);
  const ids = teamIds(db, teams);
  if (statement(db, 'SELECT 1 FROM environments WHERE name = ?').get(name)) throw conflict(`environment '${name}' already exists`);
  return db.transaction(() => {
    const r = statement(db, 'INSERT INTO environments (name, description, protected, deploy_policy, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(name, description, prot ? 1 : 0, JSON.stringify({ ...NO_POWERS, ...(input.deployPolicy ?? {}) }), Date.now());
    setTeams(db, Number(r.lastInsertRowid), ids);
    return getEnvironment(db, name);
  })();
}

/**
 * Changes an environment's description, protection and approver teams (fields left out stay); not_found for an
 * unknown environment, invalid_request for a bad field or an unknown team.
 */
export function updateEnvironment(db: Db, name: string, input: EnvironmentInput): EnvironmentInfo {
  const env = getEnvironment(db, name);
  checkFields(input);
  const ids = input.teams === undefined ? undefined : teamIds(db, input.teams);
  return db.transaction(() => {
    if (input.description !== undefined) statement(db, 'UPDATE environments SET description = ? WHERE id = ?').run(input.description, env.id);
    if (input.protected !== undefined) statement(db, 'UPDATE environments SET protected = ? WHERE id = ?').run(input.protected ? 1 : 0, env.id);
    if (ids) setTeams(db, env.id, ids);
    if (input.deployPolicy !== undefined) {
      statement(db, 'UPDATE environments SET deploy_policy = ? WHERE id = ?').run(JSON.stringify({ ...env.deployPolicy, ...input.deployPolicy }), env.id);
    }
    return getEnvironment(db, name);
  })();
}
