/**
 * Teams, their members and their secrets. Team scope applies: outsiders get 404 for a team's members and
 * secrets, members below maintainer get 403. Secret values are write-only: never returned, never logged.
 */
import express, { type Request, type Router } from 'express';
import { notFound, SlipwayError } from '../../shared/errors';
import type { Action } from '../context';
import { createTeam, findTeam, removeMember, setMember, teamInfos, type TeamRow } from '../store/teams';
import { body, principal, strParam, type Platform } from './platform';
import { allow } from '../route-access';

export function teamRoutes(pf: Platform): Router {
  const r = express.Router();
  const { db, access } = pf.ctx;

  /**
   * The route's team after the access check. Outsiders get exactly the answer of a team that does not
   * exist (`team 'x' not found`), never a message naming what they asked for inside it.
   */
  const team = (req: Request, action: Action, what: string): TeamRow => {
    const name = strParam(req, 'team');
    const t = findTeam(db, name);
    if (!t) throw notFound(`team '${name}'`);
    try {
      access.check(principal(req), t.id, action, what.replace('%t', `team '${name}'`));
    } catch (err) {
      if (err instanceof SlipwayError && err.code === 'not_found') throw notFound(`team '${name}'`);
      throw err;
    }
    return t;
  };

  r.get('/teams', allow({ kind: 'user', scope: 'read' }), (req, res) => {
    const p = principal(req);
    res.json(teamInfos(db, access.visibleTeamIds(p), (id) => access.roleIn(p, id)));
  });
  r.post('/teams', allow({ kind: 'admin' }), (req, res) => {
    const p = principal(req);
    const t = createTeam(db, body(req).name);
    res.status(201).json({ id: t.id, name: t.name, role: 'maintainer', members: [] });
  });
  r.put('/teams/:team/members/:username', allow({ kind: 'team', action: 'manage' }), (req, res) => {
    const t = team(req, 'manage', 'members of %t');
    const p = principal(req);
    // Only instance admins learn whether a user name exists; for others an unknown name becomes a pending
    // membership, listed and answered exactly like an existing user's.
    setMember(db, t.id, strParam(req, 'username'), body(req).role, p.isAdmin ? 'not_found' : 'pending');
    pf.ctx.accessChanged({ kind: 'membership', teamId: t.id });
    res.status(204).end();
  });
  r.delete('/teams/:team/members/:username', allow({ kind: 'team', action: 'manage' }), (req, res) => {
    const t = team(req, 'manage', 'members of %t');
    removeMember(db, t.id, strParam(req, 'username'));
    pf.ctx.accessChanged({ kind: 'membership', teamId: t.id });
    res.status(204).end();
  });
  r.get('/teams/:team/secrets', allow({ kind: 'team', action: 'manage' }), (req, res) => {
    const t = team(req, 'manage', 'secrets of %t');
    res.json(pf.secrets.list(t.id));
  });
  r.put('/teams/:team/secrets/:name', allow({ kind: 'team', action: 'manage' }), (req, res) => {
    const t = team(req, 'manage', 'secrets of %t');
    const name = strParam(req, 'name');
    pf.secrets.set(t.id, name, body(req).value);
    pf.ctx.log.info({ team: t.name, secret: name, by: principal(req).username }, 'secret set');
    res.status(204).end();
  });
  r.delete('/teams/:team/secrets/:name', allow({ kind: 'team', action: 'manage' }), (req, res) => {
    const t = team(req, 'manage', 'secrets of %t');
    pf.secrets.delete(t.id, strParam(req, 'name'));
    res.status(204).end();
  });
  return r;
}
