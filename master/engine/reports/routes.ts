/**
 * Quality routes over the parsed reports (user side, mounted at /api/v1 after user auth), team-checked like
 * the build (404 outside the team, exactly as for a build that does not exist):
 *   GET /builds/:id/findings ?severity=high|medium|low &new=1 &limit=N (default 1000, max 100000) -> FindingsPage
 *   GET /builds/:id/test-report ?slowest=N (default 10, max 1000)  -> TestReport
 *   GET /jobs/:job/test-trend ?limit=N (default 30, max 500)       -> TestTrendPoint[], newest first
 *   GET /builds/:id/notifications                                  -> NotificationInfo[] (master/notify)
 */
import { Router } from 'express';
import type { Severity } from '../../../shared/api';
import { badRequest } from '../../../shared/errors';
import { createJobsTable } from '../../store/jobs';
import { createNotificationsStore } from '../../store/notifications';
import { resolveJobRef } from '../../jobs/resolve';
import { createTestHistoryStore } from '../../store/test-history';
import type { EngineCore } from '../core';
import { optionalString, positiveInt, principalOf, visibleBuild } from '../logs/http';
import { allow } from '../../route-access';

const SEVERITIES = ['high', 'medium', 'low'];

export function qualityRoutes(core: EngineCore): Router {
  const r = Router();
  const history = createTestHistoryStore(core.ctx.db);
  const notifications = createNotificationsStore(core.ctx.db);
  const jobsTable = createJobsTable(core.ctx.db);
  const intQuery = (req: Parameters<typeof optionalString>[0], name: string, dflt: number, max: number) => {
    const raw = optionalString(req, name);
    return raw === undefined ? dflt : Math.min(positiveInt(raw, name), max);
  };

  r.get('/builds/:id/findings', allow({ kind: 'team', action: 'read' }), (req, res) => {
    const build = visibleBuild(core.ctx, principalOf(req), positiveInt(req.params.id, 'build id'));
    const severity = optionalString(req, 'severity');
    if (severity !== undefined && !SEVERITIES.includes(severity)) throw badRequest('severity must be high, medium or low');
    const fresh = optionalString(req, 'new');
    if (fresh !== undefined && fresh !== '1' && fresh !== '0') throw badRequest('new must be 1 or 0');
    const limit = intQuery(req, 'limit', 1000, 100_000);
    res.json(core.reports.findings(build.id, { severity: severity as Severity | undefined, onlyNew: fresh === '1', limit }));
  });

  r.get('/builds/:id/test-report', allow({ kind: 'team', action: 'read' }), (req, res) => {
    const build = visibleBuild(core.ctx, principalOf(req), positiveInt(req.params.id, 'build id'));
    res.json(history.report(build.id, { slowest: intQuery(req, 'slowest', 10, 1000) }));
  });

  r.get('/builds/:id/notifications', allow({ kind: 'team', action: 'read' }), (req, res) => {
    const build = visibleBuild(core.ctx, principalOf(req), positiveInt(req.params.id, 'build id'));
    res.json(notifications.forBuild(build.id));
  });

  r.get('/jobs/:job/test-trend', allow({ kind: 'team', action: 'read' }), (req, res) => {
    const name = String(req.params.job);
    // Disabled jobs keep their history: resolved over the table, among the caller's teams.
    const job = resolveJobRef(core.ctx.access, principalOf(req), name, jobsTable.idsAndTeamsByName);
    core.ctx.access.check(principalOf(req), job.teamId, 'read', `job '${name}'`);
    res.json(history.trend(job.id, intQuery(req, 'limit', 30, 500)));
  });

  return r;
}
