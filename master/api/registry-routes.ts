/**
 * Image registries: admins add them (address, credentials, the teams they are granted to) and remove them;
 * members of a granted team list them and browse their repositories and tags. Adding a registry checks its
 * address and credentials against the registry first, so a typo fails here, not in a build. A registry not
 * granted to any of the caller's teams answers exactly like one that does not exist.
 *
 * Each grant carries the repository prefixes its team may push to (body `prefixes: { TEAM: [PREFIX...] }`,
 * default TEAM/ when the registry is shared by several teams, * otherwise). A non-admin browsing a registry sees
 * only the repositories under their teams' prefixes: a shared registry does not show one team another's images.
 */
import express, { type Request, type Router } from 'express';
import type { RegistryRepository } from '../../shared/api';
import { badRequest, notFound } from '../../shared/errors';
import { RegistryClient, RegistryError } from '../../shared/registry-client';
import { getTeam } from '../store/teams';
import { allow } from '../route-access';
import { ANY_REPOSITORY, repositoryAllowed } from '../../shared/registry-prefixes';
import { body, principal, strParam, type Platform } from './platform';

const MAX_REPOSITORIES = 200;
/** Catalog entries read when the listing is filtered by the caller's prefixes (the registry cannot filter). */
const MAX_CATALOG = 10_000;

export function registryRoutes(pf: Platform): Router {
  const r = express.Router();
  const { db, access } = pf.ctx;
  const registries = pf.registries;

  /** The registry by route name, if the caller may see it (admin, or a member of a granted team). */
  const visible = (req: Request) => {
    const name = strParam(req, 'name');
    const p = principal(req);
    const info = registries.list(p.isAdmin ? 'all' : access.visibleTeamIds(p)).find((x) => x.name === name);
    if (!info) throw notFound(`registry '${name}'`);
    return info;
  };

  r.get('/registries', allow({ kind: 'user', scope: 'read' }), (req, res) => {
    const p = principal(req);
    res.json(registries.list(p.isAdmin ? 'all' : access.visibleTeamIds(p)));
  });

  r.post('/registries', allow({ kind: 'admin' }), async (req, res) => {
    const b = body(req);
    if (!Array.isArray(b.teams) || b.teams.some((t: unknown) => typeof t !== 'string')) throw badRequest('teams: a list of team names the registry is granted to');
    const teamIds = (b.teams as string[]).map((t) => getTeam(db, t).id);
    const prefixes = new Map<number, string[]>();
    if (b.prefixes !== undefined) {
      if (b.prefixes === null || typeof b.prefixes !== 'object' || Array.isArray(b.prefixes)) throw badRequest('prefixes: a map of team name -> list of repository prefixes, e.g. {"shop": ["shop/", "base/"]}');
      for (const [team, list] of Object.entries(b.prefixes as Record<string, unknown>)) {
        if (!Array.isArray(list) || list.some((x) => typeof x !== 'string')) throw badRequest(`prefixes.${team}: a list of repository prefixes such as ["${team}/"] or ["*"]`);
        const i = (b.teams as string[]).indexOf(team);
        if (i < 0) throw badRequest(`prefixes.${team}: '${team}' is not one of the teams the registry is granted to (teams: ${(b.teams as string[]).join(', ')})`);
        prefixes.set(teamIds[i], list as string[]);
      }
    }
    const str = (v: unknown) => (typeof v === 'string' ? v : v === undefined || v === null ? undefined : String(v));
    const input = { name: str(b.name) ?? '', url: str(b.url) ?? '', username: str(b.username), password: str(b.password), teamIds, prefixes };
    if (input.url) {
      try {
        await new RegistryClient({ url: input.url, username: input.username, password: input.password }).ping();
      } catch (e) {
        if (e instanceof RegistryError) throw badRequest(`url: ${e.message}`);
        throw e;
      }
    }
    registries.put(input);
    pf.ctx.log.info({ registry: input.name, url: input.url, teams: b.teams, prefixes: b.prefixes, by: principal(req).username }, 'registry saved');
    res.status(201).json(registries.list('all').find((x) => x.name === input.name));
  });

  r.delete('/registries/:name', allow({ kind: 'admin' }), (req, res) => {
    registries.remove(strParam(req, 'name'));
    res.status(204).end();
  });

  r.get('/registries/:name/repositories', allow({ kind: 'user', scope: 'read' }), async (req, res) => {
    const info = visible(req);
    const prefix = req.query.prefix === undefined ? undefined : String(req.query.prefix);
    if (prefix !== undefined && !/^[a-z0-9._/-]{1,255}$/.test(prefix)) throw badRequest('prefix: a repository path prefix such as shop/');
    const p = principal(req);
    // Admins see every repository; members see those under the prefixes of their teams' grants.
    const mine = p.isAdmin ? [ANY_REPOSITORY] : registries.prefixesOf(info.name, access.visibleTeamIds(p));
    const filtered = !mine.includes(ANY_REPOSITORY);
    const client = new RegistryClient(registries.access(info.name));
    try {
      const catalog = await client.repositories(prefix?.replace(/\/+$/, ''), filtered ? MAX_CATALOG : MAX_REPOSITORIES);
      const repos = (filtered ? catalog.filter((r) => repositoryAllowed(r, mine)) : catalog).slice(0, MAX_REPOSITORIES);
      const out: RegistryRepository[] = [];
      for (const name of repos) out.push({ name, tags: await client.tags(name) });
      res.json(out);
    } catch (e) {
      if (e instanceof RegistryError) throw badRequest(e.message);
      throw e;
    }
  });

  return r;
}
