/**
 * Job references in API paths (`/jobs/:job/...`) and CLI arguments: `name`, or `team/name`. Job names are unique
 * per team, not across teams (migration 17), so a team may use a name another team uses without learning that
 * the other job exists:
 *
 *   resolveJobRef(access, p, 'web', byName)        // the caller's one job named web, among the teams they are in
 *   resolveJobRef(access, p, 'shop/web', byName)   // team shop's job web
 *
 * Only jobs of the caller's teams (every team for an admin) are candidates, so the answer for another team's job
 * is the same `job 'X' not found` as for a name nobody uses. A bare name that matches jobs of several of the
 * caller's teams is refused as a conflict naming those teams and the `team/name` form to use instead.
 * Authorisation of the action itself stays with the caller (access.check on the returned team).
 */
import { conflict, notFound } from '../../shared/errors';
import type { Access, Principal } from '../context';

/** A reference split into its team (when given) and the job's name. */
export function parseJobRef(ref: string): { team?: string; name: string } {
  const slash = ref.indexOf('/');
  return slash < 0 ? { name: ref } : { team: ref.slice(0, slash), name: ref.slice(slash + 1) };
}

/**
 * The job `ref` names for `p`. `byName` lists every job of that name (one per team, any state the route
 * accepts). Throws not_found when none of them is in the caller's teams, conflict when several are and the
 * reference names no team.
 */
export function resolveJobRef<T extends { teamId: number; team: string }>(access: Access, p: Principal, ref: string, byName: (name: string) => T[]): T {
  const { team, name } = parseJobRef(ref);
  const mine = byName(name).filter((j) => (team === undefined || j.team === team) && access.roleIn(p, j.teamId) !== null);
  if (!mine.length) throw notFound(`job '${ref}'`);
  if (mine.length > 1) {
    const teams = mine.map((j) => j.team).sort();
    throw conflict(`job name '${name}' is used by several of your teams (${teams.join(', ')}); name the team: ${teams.map((t) => `${t}/${name}`).join(' or ')}`);
  }
  return mine[0];
}
