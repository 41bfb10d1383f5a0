/**
 * Team-scoped authorization, the one place that decides who may do what (see Access in context.ts).
 * Order of checks matters: membership first (outsiders get 404, so they cannot even learn a job exists),
 * then the credential's scope, then the role.
 */
import { forbidden, notFound } from '../shared/errors';
import { hasScope } from './auth/api-tokens';
import type { Access, Action, Principal, TeamRole, TokenScope } from './context';
import type { Db } from './store/db';
import { identitiesStore } from './store/identities';

const ROLE_RANK: Record<TeamRole, number> = { viewer: 0, developer: 1, maintainer: 2 };
const NEEDED_ROLE: Record<Action, TeamRole> = { read: 'viewer', trigger: 'developer', edit: 'developer', manage: 'maintainer' };
/** The credential scope each action needs (route-access.ts checks it before the handler runs). */
export const NEEDED_SCOPE: Record<Action, TokenScope> = { read: 'read', trigger: 'write', edit: 'write', manage: 'write' };

export function createAccess(db: Db): Access {
  const ids = identitiesStore(db);

  const access: Access = {
    roleIn(p, teamId) {
      if (p.isAdmin) return 'maintainer';
      return ids.roleIn(p.userId, teamId) ?? null;
    },
    visibleTeamIds(p) {
      if (!hasScope(p.scopes, 'read')) return [];
      return p.isAdmin ? ids.allTeamIds() : ids.teamIdsOf(p.userId);
    },
    check(p, teamId, action, what) {
      const role = access.roleIn(p, teamId);
      if (role === null) throw notFound(what);
      const scope = NEEDED_SCOPE[action];
      if (!hasScope(p.scopes, scope)) throw forbidden(`${what}: your token's scopes (${p.scopes.join(', ')}) do not allow '${action}'; it needs '${scope}'`);
      const needed = NEEDED_ROLE[action];
      if (ROLE_RANK[role] < ROLE_RANK[needed]) {
        const team = ids.teamName(teamId) ?? String(teamId);
        throw forbidden(`${what}: '${action}' needs role ${needed} in team '${team}'; you are ${role}`);
      }
    },
  };
  return access;
}

/** Admin-only routes: forbidden unless the caller is an instance admin with the 'admin' scope. */
export function requireAdmin(p: Principal, what: string): void {
  if (!p.isAdmin || !hasScope(p.scopes, 'admin')) throw forbidden(`${what}: instance admins only`);
}

/** Routes outside any team (own tokens, ...): forbidden when the credential lacks the scope. */
export function requireScope(p: Principal, scope: TokenScope, what: string): void {
  if (!hasScope(p.scopes, scope)) throw forbidden(`${what}: needs the '${scope}' scope`);
}
