/**
 * Plugin routes.
 *
 * Admins (router, mounted at /api/v1 after user auth; shared/api-plugins.ts):
 *   GET    /plugins/packages                 installed plugins, with the version each connected agent runs
 *   POST   /plugins/packages                 body = the package (.tgz as npm pack writes it): install, or update
 *                                            the plugin of the same name to the package's version
 *   POST   /plugins/packages/:name/enable|disable
 *   DELETE /plugins/packages/:name           refused (409) while an enabled job uses one of its kinds, scanners, notifiers or report formats
 * Signed-in users:
 *   GET    /plugins/manifests                the enabled plugins' manifests (the CLI validates job files with them)
 *
 * Agents (agentRouter, mounted at /api/v1/agent before user auth; Authorization: Bearer <agent token>):
 *   GET    /plugins/:name/:version           the package of an enabled plugin at the version agents must run,
 *                                            with X-Slipway-Sha256 as recorded at install. The bytes are streamed
 *                                            as stored: the agent checks them against the sha256 the master
 *                                            announced over the socket and refuses a mismatch.
 */
import express, { Router, type Request } from 'express';
import { createReadStream } from 'node:fs';
import type { PluginPackageInfo } from '../../shared/api-plugins';
import { badRequest, conflict, notFound, unauthenticated } from '../../shared/errors';
import type { EngineCore } from '../engine/core';
import type { MasterContext } from '../context';
import { allow } from '../route-access';
import { MAX_PACKAGE_BYTES, type PluginService } from './service';
import type { PluginRow } from '../store/plugins';

function service(ctx: MasterContext): PluginService {
  if (!ctx.plugins) throw new Error('plugins are not configured on this master');
  return ctx.plugins;
}

export function pluginRoutes(core: EngineCore): Router {
  const { ctx } = core;
  const r = Router();

  const info = (p: PluginRow): PluginPackageInfo => {
    const agents: PluginPackageInfo['agents'] = [];
    for (const s of core.sessions.values()) {
      const st = s.plugins?.find((x) => x.name === p.name);
      if (st) agents.push({ agent: s.name, environment: s.environment, version: st.version, state: st.state, ...(st.error ? { error: st.error } : {}) });
    }
    return {
      name: p.name,
      version: p.version,
      sha256: p.sha256,
      bytes: p.bytes,
      enabled: p.enabled,
      kinds: p.manifest.provides.stepKinds.map((k) => k.kind),
      scanners: p.manifest.provides.scanners.map((k) => k.kind),
      notifiers: p.manifest.provides.notifiers.map((k) => k.kind),
      reportFormats: p.manifest.provides.reportFormats.map((f) => f.name),
      protocol: p.manifest.protocol,
      description: p.manifest.description ?? null,
      previousVersion: p.previousVersion,
      installedBy: p.installedBy,
      updatedAt: p.updatedAt,
      agents,
    };
  };
  const named = (req: Request): PluginRow => {
    const name = String(req.params.name);
    const p = service(ctx).get(name);
    if (!p) throw notFound(`plugin '${name}'`);
    return p;
  };

  r.get('/plugins/packages', allow({ kind: 'admin' }), (_req, res) => {
    res.json(service(ctx).list().map(info));
  });

  r.get('/plugins/manifests', allow({ kind: 'user', scope: 'read' }), (_req, res) => {
    res.json(service(ctx).list().filter((p) => p.enabled).map((p) => p.manifest));
  });

  r.post(
    '/plugins/packages',
    allow({ kind: 'admin' }),
    express.raw({ type: () => true, limit: MAX_PACKAGE_BYTES }),
    async (req, res) => {
      const body = req.body as unknown;
      if (!Buffer.isBuffer(body) || !body.length) throw badRequest('the request body is the plugin package (.tgz as npm pack writes it)');
      const out = await service(ctx).install(body, req.principal!.username);
      ctx.log.info({ plugin: out.plugin.name, version: out.plugin.version, result: out.result, by: req.principal!.username }, `plugin ${out.result}`);
      res.status(out.result === 'installed' ? 201 : 200).json({ result: out.result, plugin: info(out.plugin) });
    },
  );

  for (const action of ['enable', 'disable'] as const) {
    r.post(`/plugins/packages/:name/${action}`, allow({ kind: 'admin' }), (req, res) => {
      const p = named(req);
      const row = service(ctx).setEnabled(p.name, action === 'enable');
      ctx.log.info({ plugin: p.name, by: req.principal!.username }, `plugin ${action}d`);
      res.json(info(row));
    });
  }

  r.delete('/plugins/packages/:name', allow({ kind: 'admin' }), async (req, res) => {
    const p = named(req);
    const kinds = new Set(p.manifest.provides.stepKinds.map((k) => k.kind));
    const scanners = new Set(p.manifest.provides.scanners.map((k) => k.kind));
    const notifiers = new Set(p.manifest.provides.notifiers.map((k) => k.kind));
    const formats = new Set(p.manifest.provides.reportFormats.map((f) => f.name));
    const users = ctx.jobs
      .all()
      .filter(
        (j) =>
          j.config.stages.some((s) => s.kinds.some((k) => kinds.has(k)) || (s.scanners ?? []).some((k) => scanners.has(k)) || s.steps.some((st) => (st.reports ?? []).some((r) => r.from && formats.has(r.from)))) ||
          (j.config.notify ?? []).some((c) => 'notifier' in c && notifiers.has(c.notifier)),
      );
    if (users.length) throw conflict(`plugin '${p.name}' is used by job${users.length > 1 ? 's' : ''} ${users.map((j) => `'${j.name}'`).join(', ')}; change or delete ${users.length > 1 ? 'them' : 'it'} first (or disable the plugin)`);
    await service(ctx).remove(p.name);
    res.status(204).end();
  });

  return r;
}

export function pluginAgentRoutes(ctx: MasterContext): Router {
  const r = Router();
  r.get('/plugins/:name/:version', (req, res) => {
    const token = /^Bearer\s+(.+)$/i.exec(req.get('authorization') ?? '')?.[1]?.trim();
    if (!token || !ctx.authenticateAgent(token)) throw unauthenticated('agent token required: Authorization: Bearer <agent token>');
    const pkg = ctx.plugins?.packageOf(String(req.params.name), String(req.params.version));
    if (!pkg) throw notFound(`plugin ${req.params.name}@${req.params.version} (not installed at that version, or disabled)`);
    res.setHeader('content-type', 'application/gzip');
    res.setHeader('x-slipway-sha256', pkg.sha256);
    const stream = createReadStream(pkg.file);
    stream.once('error', (err) => {
      ctx.log.error({ err: err.message }, 'plugin package unreadable');
      if (!res.headersSent) res.status(500).json({ error: { code: 'internal', message: 'plugin package unreadable' } });
      else res.destroy();
    });
    stream.pipe(res);
  });
  return r;
}
