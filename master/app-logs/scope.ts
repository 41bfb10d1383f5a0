/**
 * Which apps' container logs a caller may read. An app belongs to the team whose enabled jobs deploy it (the
 * deploy steps' `app`, shared/job deployTargets; master/jobs/service.ts keeps one team per app). Containers
 * that opted in by label without any job deploying their app belong to no team: only instance admins see them.
 */
import { deployTargets } from '../../shared/job';
import { hasScope } from '../auth/api-tokens';
import type { MasterContext, Principal } from '../context';

export interface AppScope {
  /** Apps the caller may read; `admin` adds every app stored (knownApps). */
  visibleApps(p: Principal): Set<string>;
}

export function createAppScope(ctx: MasterContext, knownApps: () => Iterable<string>): AppScope {
  return {
    visibleApps(p) {
      const apps = new Set<string>();
      if (!hasScope(p.scopes, 'read')) return apps;
      const teams = new Set(ctx.access.visibleTeamIds(p));
      for (const j of ctx.jobs.all()) {
        if (!j.enabled || !teams.has(j.teamId)) continue;
        for (const t of deployTargets(j.config)) apps.add(t.app);
      }
      if (p.isAdmin) for (const a of knownApps()) apps.add(a);
      return apps;
    },
  };
}
