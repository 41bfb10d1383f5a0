/**
 * Instance administration: users, environments and agent tokens. Listing environments is open to every
 * user (the UI shows where stages run); everything else here is admin-only (403 for others).
 */
import express, { type Router } from 'express';
import { createUser, listUsers, setUserDisabled } from '../auth/users';
import { createEnvironment, listEnvironments, updateEnvironment } from '../store/environments';
import { body, intParam, principal, strParam, type Platform } from './platform';
import { allow } from '../route-access';

export function adminRoutes(pf: Platform): Router {
  const r = express.Router();
  const db = pf.ctx.db;
  r.get('/users', allow({ kind: 'admin' }), (req, res) => {
    res.json(listUsers(db));
  });
  r.post('/users', allow({ kind: 'admin' }), async (req, res) => {
    const b = body(req);
    res.status(201).json(await createUser(db, { username: b.username, password: b.password, isAdmin: b.isAdmin }));
  });
  r.put('/users/:username/disabled', allow({ kind: 'admin' }), (req, res) => {
    const p = principal(req);
    const info = setUserDisabled(db, strParam(req, 'username'), body(req).disabled, p);
    pf.ctx.accessChanged({ kind: 'user', userId: info.id });
    pf.ctx.log.info({ user: info.username, disabled: info.disabled === true, by: p.username }, 'user disabled state set');
    res.json(info);
  });
  r.get('/environments', allow({ kind: 'user', scope: 'read' }), (req, res) => {
    res.json(listEnvironments(db));
  });
  r.post('/environments', allow({ kind: 'admin' }), (req, res) => {
    res.status(201).json(createEnvironment(db, body(req)));
  });
  r.put('/environments/:env', allow({ kind: 'admin' }), (req, res) => {
    const env = updateEnvironment(db, strParam(req, 'env'), body(req));
    pf.ctx.log.info({ environment: env.name, protected: env.protected, teams: env.teams, by: principal(req).username }, 'environment updated');
    res.json(env);
  });
  r.get('/environments/:env/agent-tokens', allow({ kind: 'admin' }), (req, res) => {
    res.json(pf.agentTokens.list(strParam(req, 'env')));
  });
  r.post('/environments/:env/agent-tokens', allow({ kind: 'admin' }), (req, res) => {
    const created = pf.agentTokens.create(strParam(req, 'env'), body(req));
    pf.ctx.log.info({ environment: req.params.env, tokenId: created.id }, 'agent token created');
    res.status(201).json(created);
  });
  r.delete('/agent-tokens/:id', allow({ kind: 'admin' }), (req, res) => {
    const id = intParam(req, 'id');
    pf.agentTokens.revoke(id);
    pf.ctx.log.info({ tokenId: id }, 'agent token revoked');
    res.status(204).end();
  });
  return r;
}
