/**
 * Repository namespaces of registry grants: a grant of a registry to a team carries the repository prefixes the
 * team's image steps may push to. Pure helpers shared by the master (store, job validation, dispatch, listing)
 * and the CLI.
 *
 * A prefix is `*` (any repository), a path ending in `/` (every repository under it: `shop/` allows `shop/web`,
 * not `shop` nor `shopping/web`), or a repository path without the slash (that repository and those under it:
 * `shop/web` allows `shop/web` and `shop/web/worker`). Pulling is never restricted, only pushing.
 */

import { badRequest } from './errors';

/** A registry granted to a team, with the prefixes the team may push to. */
export interface PushGrant {
  registry: string;
  prefixes: string[];
}

/** Any repository of the registry. */
export const ANY_REPOSITORY = '*';

/** `*`, or a repository path (lower case segments of a-z, 0-9, '.', '_', '-'), optionally ending in `/`. */
export const PREFIX_RE = /^(\*|[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*\/?)$/;

/**
 * The prefixes a grant gets when the admin gives none: the team's name as the first path segment when the
 * registry is shared by several teams, any repository when it is granted to one team only.
 */
export function defaultPrefixes(team: string, grantedTeams: number): string[] {
  return grantedTeams > 1 ? [`${team}/`] : [ANY_REPOSITORY];
}

/** Whether `repository` falls under one of `prefixes`. */
export function repositoryAllowed(repository: string, prefixes: readonly string[]): boolean {
  return prefixes.some((p) => p === ANY_REPOSITORY || (p.endsWith('/') ? repository.startsWith(p) : repository === p || repository.startsWith(`${p}/`)));
}

/** Problem with one prefix as an admin wrote it, or undefined when it is valid. */
export function prefixProblem(prefix: string): string | undefined {
  return PREFIX_RE.test(prefix) ? undefined : `'${prefix}' is not a repository prefix: * (any), a path ending in / such as shop/, or a repository such as shop/web`;
}

/** `shop=shop/,shop=base/,web=*` -> { shop: ['shop/', 'base/'], web: ['*'] }; invalid_request naming the bad item. */
export function parsePrefixes(text: string, label = 'prefixes'): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const item of text.split(',').map((x) => x.trim()).filter(Boolean)) {
    const eq = item.indexOf('=');
    if (eq <= 0 || eq === item.length - 1) throw badRequest(`${label}: '${item}' is not TEAM=PREFIX (e.g. shop=shop/ or web=*)`);
    (out[item.slice(0, eq)] ??= []).push(item.slice(eq + 1));
  }
  return out;
}
