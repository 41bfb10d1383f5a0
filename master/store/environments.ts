/** Environments (ci, pre, prod, ...): created by admins; agents and stages are bound to one by name. */
import type { EnvironmentInfo } from '../../shared/api';
import { badRequest, conflict, notFound } from '../../shared/errors';
import { NAME_RE } from '../../shared/job';
import type { Db } from './db';

interface EnvRow {
  id: number;
  name: string;
  description: string;
  protected: number;
}

const toInfo = (r: EnvRow): EnvironmentInfo => ({ id: r.id, name: r.name, description: r.description, protected: r.protected === 1 });

export function listEnvironments(db: Db): EnvironmentInfo[] {
  return (db.prepare('SELECT * FROM environments ORDER BY name').all() as EnvRow[]).map(toInfo);
}

/** The environment with this name; not_found naming it otherwise. */
export function getEnvironment(db: Db, name: string): EnvironmentInfo {
  const row = db.prepare('SELECT * FROM environments WHERE name = ?').get(name) as EnvRow | undefined;
  if (!row) throw notFound(`environment '${name}'`);
  return toInfo(row);
}

/** Creates an environment; invalid_request for a bad name or field, conflict when it exists. */
export function createEnvironment(db: Db, input: { name?: unknown; description?: unknown; protected?: unknown }): EnvironmentInfo {
  const { name, description = '', protected: prot = false } = input;
  if (typeof name !== 'string' || !NAME_RE.test(name))
    throw badRequest(`name: must be 1-63 characters of a-z, 0-9, '.', '_' or '-' (got ${JSON.stringify(name)})`);
  if (typeof description !== 'string' || description.length > 500) throw badRequest('description: a string of at most 500 characters');
  if (typeof prot !== 'boolean') throw badRequest('protected: must be true or false');
  if (db.prepare('SELECT 1 FROM environments WHERE name = ?').get(name)) throw conflict(`environment '${name}' already exists`);
  const r = db
    .prepare('INSERT INTO environments (name, description, protected, created_at) VALUES (?, ?, ?, ?)')
    .run(name, description, prot ? 1 : 0, Date.now());
  return { id: Number(r.lastInsertRowid), name, description, protected: prot };
}
