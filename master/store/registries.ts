/**
 * Image registries the master knows (table group "registries"): name, address, credentials sealed like team
 * secrets (AES-256-GCM under the master key, bound to the registry's name), and the teams each is granted to,
 * each grant with the repository prefixes the team may push to (migration 19, shared/registry-prefixes.ts).
 * Passwords leave this module only through grantedTo(), for the master:assign of a granted team's stage; every
 * listing shows whether a password is set, never the password.
 */
import type { RegistryInfo } from '../../shared/api';
import { defaultPrefixes, prefixProblem, type PushGrant } from '../../shared/registry-prefixes';
import { badRequest, notFound } from '../../shared/errors';
import { NAME_RE } from '../../shared/job';
import type { RegistryAccess } from '../../shared/protocol';
import { open, seal, type Sealed } from '../secrets/crypto';
import { statement, type Db } from './db';

export interface RegistryInput {
  name: string;
  url: string;
  username?: string;
  password?: string;
  /** Team ids the registry is granted to. */
  teamIds: number[];
  /** Push prefixes per team id of teamIds; a team left out gets defaultPrefixes. */
  prefixes?: Map<number, string[]>;
}


interface Row {
  id: number;
  name: string;
  url: string;
  username: string | null;
  iv: Buffer | null;
  tag: Buffer | null;
  ciphertext: Buffer | null;
  created_at: number;
}

const aadFor = (name: string) => `registry/${name}`;
const URL_RE = /^(https?:\/\/)?[A-Za-z0-9.-]+(:\d{1,5})?\/?$/;

/** The registries granted to a team with the prefixes it may push to; no credentials (so no master key needed). */
export function pushGrantsOf(db: Db, teamId: number): PushGrant[] {
  const rows = statement(db, `SELECT r.name AS registry, g.prefixes FROM registries r JOIN registry_grants g ON g.registry_id = r.id WHERE g.team_id = ? ORDER BY r.name`)
    .all(teamId) as { registry: string; prefixes: string }[];
  return rows.map((x) => ({ registry: x.registry, prefixes: JSON.parse(x.prefixes) as string[] }));
}

export class RegistryStore {
  constructor(
    private readonly db: Db,
    private readonly key: Buffer,
  ) {}

  /** Creates or replaces a registry and its grants; invalid_request naming the field for bad input. */
  put(r: RegistryInput): void {
    if (!NAME_RE.test(r.name)) throw badRequest(`name: must be 1-63 characters of a-z, 0-9, '.', '_' or '-' (got ${JSON.stringify(r.name)})`);
    if (typeof r.url !== 'string' || !URL_RE.test(r.url)) throw badRequest(`url: a registry address such as 127.0.0.1:5000 or https://registry.example.com (got ${JSON.stringify(r.url)})`);
    if (r.username !== undefined && (typeof r.username !== 'string' || !r.username || r.username.includes(':'))) throw badRequest('username: a non-empty string without ":"');
    if (r.password !== undefined && (typeof r.password !== 'string' || !r.password)) throw badRequest('password: a non-empty string');
    if (r.password !== undefined && r.username === undefined) throw badRequest('password: given without a username');
    const teamIds = [...new Set(r.teamIds)];
    for (const [teamId, list] of r.prefixes ?? []) {
      const team = this.teamName(teamId);
      if (!teamIds.includes(teamId)) throw badRequest(`prefixes: team '${team}' is not one of the teams the registry is granted to`);
      if (!list.length) throw badRequest(`prefixes: team '${team}' needs at least one prefix (* for any repository)`);
      for (const p of list) {
        const problem = prefixProblem(p);
        if (problem) throw badRequest(`prefixes: team '${team}': ${problem}`);
      }
    }
    const s: Sealed | undefined = r.password === undefined ? undefined : seal(this.key, r.password, aadFor(r.name));
    this.db.transaction(() => {
      statement(this.db,
          `INSERT INTO registries (name, url, username, iv, tag, ciphertext, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (name) DO UPDATE SET url = excluded.url, username = excluded.username, iv = excluded.iv, tag = excluded.tag,
             ciphertext = excluded.ciphertext`,
        )
        .run(r.name, r.url.replace(/\/+$/, ''), r.username ?? null, s?.iv ?? null, s?.tag ?? null, s?.ciphertext ?? null, Date.now());
      const id = (statement(this.db, 'SELECT id FROM registries WHERE name = ?').get(r.name) as { id: number }).id;
      statement(this.db, 'DELETE FROM registry_grants WHERE registry_id = ?').run(id);
      const grant = statement(this.db, 'INSERT INTO registry_grants (registry_id, team_id, prefixes) VALUES (?, ?, ?)');
      for (const t of teamIds) grant.run(id, t, JSON.stringify(r.prefixes?.get(t) ?? defaultPrefixes(this.teamName(t), teamIds.length)));
    })();
  }

  remove(name: string): void {
    const res = statement(this.db, 'DELETE FROM registries WHERE name = ?').run(name);
    if (res.changes === 0) throw notFound(`registry '${name}'`);
  }

  /** Registries granted to any of `teamIds` (all of them when teamIds is 'all'), without passwords. */
  list(teamIds: number[] | 'all'): RegistryInfo[] {
    const rows = statement(this.db, 'SELECT id, name, url, username, iv, tag, ciphertext, created_at FROM registries ORDER BY name').all() as Row[];
    const grants = statement(this.db, 'SELECT g.registry_id AS id, t.id AS teamId, t.name AS team, g.prefixes FROM registry_grants g JOIN teams t ON t.id = g.team_id ORDER BY t.name')
      .all() as { id: number; teamId: number; team: string; prefixes: string }[];
    const visible = teamIds === 'all' ? undefined : new Set(teamIds);
    return rows
      .map((r) => ({ r, g: grants.filter((g) => g.id === r.id) }))
      .filter(({ g }) => !visible || g.some((x) => visible.has(x.teamId)))
      .map(({ r, g }) => ({
        name: r.name,
        url: r.url,
        username: r.username,
        hasPassword: r.ciphertext !== null,
        teams: g.map((x) => x.team),
        grants: g.map((x) => ({ team: x.team, prefixes: JSON.parse(x.prefixes) as string[] })),
        createdAt: r.created_at,
      }));
  }

  /** One registry with its password, for the master's own calls (catalog); not_found when unknown. */
  access(name: string): RegistryAccess {
    const r = statement(this.db, 'SELECT id, name, url, username, iv, tag, ciphertext, created_at FROM registries WHERE name = ?').get(name) as Row | undefined;
    if (!r) throw notFound(`registry '${name}'`);
    return this.toAccess(r);
  }

  /** The registries granted to a team, with passwords: only for that team's master:assign. */
  grantedTo(teamId: number): RegistryAccess[] {
    const rows = statement(this.db,
        `SELECT r.id, r.name, r.url, r.username, r.iv, r.tag, r.ciphertext, r.created_at FROM registries r
         JOIN registry_grants g ON g.registry_id = r.id WHERE g.team_id = ? ORDER BY r.name`,
      )
      .all(teamId) as Row[];
    return rows.map((r) => this.toAccess(r));
  }

  /** The registries granted to a team with the prefixes it may push to (job validation and dispatch). */
  pushGrants(teamId: number): PushGrant[] {
    return pushGrantsOf(this.db, teamId);
  }

  /** The union of the prefixes of a registry's grants to any of `teamIds` ([] when none is granted it). */
  prefixesOf(name: string, teamIds: number[]): string[] {
    const teams = new Set(teamIds);
    const rows = statement(this.db, 'SELECT g.team_id AS teamId, g.prefixes FROM registry_grants g JOIN registries r ON r.id = g.registry_id WHERE r.name = ?')
      .all(name) as { teamId: number; prefixes: string }[];
    return [...new Set(rows.filter((x) => teams.has(x.teamId)).flatMap((x) => JSON.parse(x.prefixes) as string[]))];
  }

  private teamName(teamId: number): string {
    const row = statement(this.db, 'SELECT name FROM teams WHERE id = ?').get(teamId) as { name: string } | undefined;
    if (!row) throw notFound(`team ${teamId}`);
    return row.name;
  }

  private toAccess(r: Row): RegistryAccess {
    const out: RegistryAccess = { name: r.name, url: r.url };
    if (r.username) out.username = r.username;
    if (r.iv && r.tag && r.ciphertext) out.password = open(this.key, { iv: r.iv, tag: r.tag, ciphertext: r.ciphertext }, aadFor(r.name));
    return out;
  }
}
