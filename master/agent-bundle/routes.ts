/**
 * Agent distribution, public (like Jenkins' agent.jar: the bundle is code without any secret; the agent
 * token, which is, never passes here):
 *   GET /agent/slipway-agent.json  -> {version, sha256, bytes, protocolVersion, node}   (AgentBundleInfo)
 *   GET /agent/slipway-agent.mjs   -> the bundle; headers X-Slipway-Agent-Version, X-Slipway-Agent-Sha256
 *   GET /agent/install.sh          -> the installer (install-script.ts), its default --url this master's
 * 404 with the reason when the master has no bundle (`npm run build` not run) or one that does not match its json.
 */
import { Router, type Request } from 'express';
import { SlipwayError } from '../../shared/errors';
import { allow } from '../route-access';
import type { AgentBundle, BundleState } from './bundle';
import { installScript } from './install-script';

export function agentBundleRoutes(bundle: AgentBundle, publicUrl: string | undefined): Router {
  const r = Router();
  const current = (): Extract<BundleState, { ok: true }> => {
    const state = bundle.current();
    if (!state.ok) throw new SlipwayError('not_found', `agent bundle not available: ${state.problem}`);
    return state;
  };

  r.get('/agent/slipway-agent.json', allow({ kind: 'public' }), (_req, res) => {
    res.setHeader('Cache-Control', 'no-cache');
    res.json(current().info);
  });

  r.get('/agent/slipway-agent.mjs', allow({ kind: 'public' }), (_req, res, next) => {
    const { info, file } = current();
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('X-Slipway-Agent-Version', info.version);
    res.setHeader('X-Slipway-Agent-Sha256', info.sha256);
    res.sendFile(file, { headers: { 'Content-Type': 'text/javascript; charset=utf-8' } }, (err) => err && next(err));
  });

  r.get('/agent/install.sh', allow({ kind: 'public' }), (req, res) => {
    res.setHeader('Cache-Control', 'no-cache');
    res.type('text/x-shellscript').send(installScript(publicUrl ?? ownUrl(req)));
  });
  return r;
}

/** The URL this request reached the master by (the admin's view of it, when no SLIPWAY_PUBLIC_URL is set). */
function ownUrl(req: Request): string {
  return `${req.protocol}://${req.get('host') ?? ''}`;
}
