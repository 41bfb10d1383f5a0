/**
 * A team's notification channels (told about every build event of the team's jobs, besides each job's own
 * `notify:`), mounted at /api/v1 after user auth. Maintainers manage them; outsiders get exactly the answer
 * of a team that does not exist. A channel holds secret names, never values (shared/job/notify.ts):
 *   GET    /teams/:team/notifications              -> TeamNotifierInfo[]
 *   PUT    /teams/:team/notifications/:name  body = a channel as in a job's notify entry -> TeamNotifierInfo
 *   DELETE /teams/:team/notifications/:name        -> 204
 */
import { Router, type Request } from 'express';
import type { TeamNotifierInfo } from '../../shared/api';
import { badRequest, notFound, SlipwayError } from '../../shared/errors';
import { checkNotifiers, notifyChannelSchema } from '../../shared/job/notify';
import { NotifierKinds } from '../../shared/job/notifier-kinds';
import type { MasterContext } from '../context';
import { createNotificationsStore } from '../store/notifications';
import { findTeam } from '../store/teams';
import { principalOf } from '../engine/logs/http';
import { allow } from '../route-access';

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function teamNotifierRoutes(ctx: MasterContext): Router {
  const r = Router();
  const store = createNotificationsStore(ctx.db);

  const team = (req: Request) => {
    const name = String(req.params.team);
    const t = findTeam(ctx.db, name);
    if (!t) throw notFound(`team '${name}'`);
    try {
      ctx.access.check(principalOf(req), t.id, 'manage', `notifications of team '${name}'`);
    } catch (err) {
      if (err instanceof SlipwayError && err.code === 'not_found') throw notFound(`team '${name}'`);
      throw err;
    }
    return t;
  };
  const info = (row: { name: string; channel: string; updatedAt: number }): TeamNotifierInfo => ({ name: row.name, channel: JSON.parse(row.channel), updatedAt: row.updatedAt });

  r.get('/teams/:team/notifications', allow({ kind: 'team', action: 'manage' }), (req, res) => {
    res.json(store.teamChannels(team(req).id).map(info));
  });

  r.put('/teams/:team/notifications/:name', allow({ kind: 'team', action: 'manage' }), (req, res) => {
    const t = team(req);
    const name = String(req.params.name);
    if (!NAME_RE.test(name)) throw badRequest('name: 1-64 letters, digits, _ . -, starting with a letter or digit');
    const parsed = notifyChannelSchema.safeParse(req.body ?? {});
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      throw badRequest(`channel${i.path.length ? `.${i.path.map(String).join('.')}` : ''}: ${i.message} (give one of webhook, slack, dingtalk, feishu, email or a plugin notifier kind, and on)`);
    }
    // A plugin notifier's kind and settings, against the enabled plugins (normalises the settings in place).
    const problems = checkNotifiers([parsed.data], ctx.plugins?.enabledKinds().notifiers ?? new NotifierKinds());
    if (problems.length) throw badRequest(problems.map((p) => `channel.${p.path.map(String).join('.')}: ${p.message}`).join('; '));
    const now = Date.now();
    store.setTeamChannel(t.id, name, JSON.stringify(parsed.data), now);
    res.json(info({ name, channel: JSON.stringify(parsed.data), updatedAt: now }));
  });

  r.delete('/teams/:team/notifications/:name', allow({ kind: 'team', action: 'manage' }), (req, res) => {
    const t = team(req);
    if (!store.removeTeamChannel(t.id, String(req.params.name))) throw notFound(`notification channel '${req.params.name}'`);
    res.status(204).end();
  });

  return r;
}
