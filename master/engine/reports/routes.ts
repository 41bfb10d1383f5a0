/**
 * Quality routes over the parsed reports (user side, mounted at /api/v1 after user auth), team-checked like
 * the build (404 outside the team, exactly as for a build that does not exist):
 *   GET /builds/:id/findings ?severity=high|medium|low &new=1 &limit=N (default 1000, max 100000) -> FindingsPage
 */
import { Router } from 'express';
import type { Severity } from '../../../shared/api';
import { badRequest } from '../../../shared/errors';
import type { EngineCore } from '../core';
import { optionalString, positiveInt, principalOf, visibleBuild } from '../logs/http';
import { allow } from '../../route-access';

const SEVERITIES = ['high', 'medium', 'low'];

export function qualityRoutes(core: EngineCore): Router {
  const r = Router();

  r.get('/builds/:id/findings', allow({ kind: 'team', action: 'read' }), (req, res) => {
    const build = visibleBuild(core.ctx, principalOf(req), positiveInt(req.params.id, 'build id'));
    const severity = optionalString(req, 'severity');
    if (severity !== undefined && !SEVERITIES.includes(severity)) throw badRequest('severity must be high, medium or low');
    const fresh = optionalString(req, 'new');
    if (fresh !== undefined && fresh !== '1' && fresh !== '0') throw badRequest('new must be 1 or 0');
    const limitRaw = optionalString(req, 'limit');
    const limit = limitRaw === undefined ? 1000 : Math.min(positiveInt(limitRaw, 'limit'), 100_000);
    res.json(core.reports.findings(build.id, { severity: severity as Severity | undefined, onlyNew: fresh === '1', limit }));
  });

  return r;
}
