/**
 * Deployed instances as etcd holds them (master/discovery/instances.ts), for the apps the caller's teams
 * deploy: GET /instances?app=&environment=. A master started without etcd (--etcd / SLIPWAY_ETCD) says so.
 */
import express, { type Router } from 'express';
import { SlipwayError } from '../../shared/errors';
import { appTargets, InstanceDirectory } from '../discovery/instances';
import { allow } from '../route-access';
import { principal, type Platform } from './platform';

export function discoveryRoutes(pf: Platform): Router {
  const r = express.Router();
  const etcd = pf.ctx.config.etcd;
  const directory = etcd ? new InstanceDirectory(etcd) : undefined;
  r.get('/instances', allow({ kind: 'user', scope: 'read' }), async (req, res) => {
    if (!directory) throw new SlipwayError('unavailable', 'this master has no etcd to read instances from: start it with --etcd URL (or SLIPWAY_ETCD)');
    const p = principal(req);
    const app = req.query.app === undefined ? undefined : String(req.query.app);
    const environment = req.query.environment === undefined ? undefined : String(req.query.environment);
    const teams = p.isAdmin ? undefined : pf.ctx.access.visibleTeamIds(p);
    const jobs = teams ? pf.jobs.visible(teams) : pf.jobs.all();
    const targets = jobs
      .filter((j) => j.enabled)
      .flatMap((j) => appTargets(j.config))
      .filter((t) => (app === undefined || t.app === app) && (environment === undefined || t.environment === environment));
    try {
      res.json(await directory.list(targets));
    } catch (e) {
      throw new SlipwayError('unavailable', `etcd at ${etcd!.endpoints.join(', ')} did not answer: ${(e as Error).message}`);
    }
  });
  return r;
}
