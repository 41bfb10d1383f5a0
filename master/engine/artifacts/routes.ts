/**
 * Artifact routes.
 *
 * Agent side (agentRouter, mounted at /api/v1/agent before user auth; Authorization: Bearer <agent token>):
 *   PUT /stage-runs/:id/artifacts?path=<relative path>   body = the file; headers X-Slipway-Epoch (the lease
 *       epoch), X-Slipway-Sha256 (hex). Only the agent holding the running lease with that epoch may upload:
 *       unknown stage run 404, someone else's lease / old epoch / not running 403. Over maxArtifactBytes 413,
 *       checksum mismatch 400 (nothing kept in either case). Uploading the same path again replaces it.
 *       -> 201 ArtifactInfo
 *   PUT /stage-runs/:id/reports?step=<index>&format=<junit...>&path=<workspace path>[&missing=1]   a step's
 *       report: stored like an artifact (under .slipway/reports/step-<index>/, not handed to later stages), then
 *       parsed (reports/ingest.ts). missing=1 (empty body) records that the step did not write the file.
 *       -> 201 ReportSummary
 *   GET /artifacts/:id   for an agent holding a running lease on a build of the artifact's job (later stages
 *       of the same build, and partial re-runs, which take the artifacts of the build they re-run).
 *       Optional X-Slipway-Stage-Run + X-Slipway-Epoch pin the lease that is asking.
 *
 * User side (router, mounted at /api/v1 after user auth), team-checked like the build (404 outside the team):
 *   GET /builds/:id/artifacts -> ArtifactInfo[]
 *   GET /artifacts/:id        -> the file, Content-Disposition: attachment, X-Slipway-Sha256
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import type { Request, Response } from 'express';
import { Router } from 'express';
import { dirname, posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { ArtifactInfo } from '../../../shared/api';
import { badRequest, conflict, forbidden, notFound, SlipwayError, unauthenticated } from '../../../shared/errors';
import type { MasterContext } from '../../context';
import { positiveInt, principalOf, visibleBuild } from '../logs/http';
import { checkArtifactPath, incomingDir, resolveStorage, storagePath } from './paths';
import type { ReportIngest } from '../reports/ingest';
import { receiveToFile } from './receive';
import { allow } from '../../route-access';
import { artifactsStore, type ArtifactRow } from '../../store/artifacts';

/** Prefix of the artifact paths of report files; such artifacts are not input artifacts of later stages. */
export const REPORTS_PREFIX = '.slipway/reports/';


export function artifactRoutes(ctx: MasterContext, ingestReport?: ReportIngest): { router: Router; agentRouter: Router } {
  const db = ctx.db;
  const store = artifactsStore(db);

  /** The agent token of the request; 401 without a valid one. */
  const agentTokenId = (req: Request): number => {
    const header = req.get('authorization') ?? '';
    const token = /^Bearer\s+(.+)$/i.exec(header)?.[1]?.trim();
    const agent = token ? ctx.authenticateAgent(token) : null;
    if (!agent) throw unauthenticated('agent token required: Authorization: Bearer <agent token>');
    return agent.tokenId;
  };

  /** The stage run, after checking that this token's agent holds its running lease with this epoch. */
  const heldLease = (stageRunId: number, tokenId: number, epoch: number): { buildId: number } => {
    const sr = store.lease(stageRunId);
    if (!sr) throw notFound(`stage run ${stageRunId}`);
    if (sr.tokenId !== tokenId) throw forbidden(`stage run ${stageRunId} is not leased to this agent`);
    if (sr.status !== 'running') throw forbidden(`stage run ${stageRunId} is not running (status ${sr.status})`);
    if (sr.epoch !== epoch) throw forbidden(`stage run ${stageRunId}: lease epoch ${epoch} is not the current one (${sr.epoch})`);
    return { buildId: sr.buildId };
  };

  const agentRouter = Router();

  /** Receives an upload of the lease holder into the artifact store under `path` (see the header for the checks). */
  const receiveArtifact = async (req: Request, stageRunId: number, tokenId: number, epoch: number, path: string): Promise<ArtifactInfo> => {
    const expected = req.get('x-slipway-sha256')?.toLowerCase();
    if (!expected || !/^[0-9a-f]{64}$/.test(expected)) throw badRequest('X-Slipway-Sha256: required, the sha256 of the body as 64 hex digits');
    const { buildId } = heldLease(stageRunId, tokenId, epoch);
    const what = `artifact ${path}`;
    const max = ctx.config.maxArtifactBytes;
    const declared = Number(req.get('content-length'));
    if (Number.isFinite(declared) && declared > max) {
      // Refused before reading: node's HTTP server discards the unread body after the response.
      throw new SlipwayError('payload_too_large', `${what} is ${declared} bytes, over the limit of ${max} bytes (SLIPWAY_MAX_ARTIFACT_BYTES)`);
    }

    await mkdir(incomingDir(ctx.config.dataDir), { recursive: true, mode: 0o700 });
    const tmp = `${incomingDir(ctx.config.dataDir)}/${stageRunId}-${randomBytes(8).toString('hex')}`;
    const got = await receiveToFile(req, tmp, max, what);
    try {
      if (got.sha256 !== expected) throw badRequest(`X-Slipway-Sha256: ${what} arrived with sha256 ${got.sha256}, not ${expected}`);
      // The lease may have been lost while the body was on the wire.
      heldLease(stageRunId, tokenId, epoch);
      const storage = storagePath(buildId, stageRunId, path);
      const dest = resolveStorage(ctx.config.dataDir, storage);
      await placeFile(tmp, dest, path);
      const id = store.put({ buildId, stageRunId, path, size: got.size, sha256: got.sha256, storagePath: storage }, Date.now());
      return { id, buildId, stageRunId, path, size: got.size, sha256: got.sha256 };
    } finally {
      await rm(tmp, { force: true });
    }
  };

  agentRouter.put('/stage-runs/:id/artifacts', async (req, res) => {
    const tokenId = agentTokenId(req);
    const stageRunId = positiveInt(req.params.id, 'stage run id');
    const epoch = headerInt(req, 'X-Slipway-Epoch');
    const path = checkArtifactPath(req.query.path);
    res.status(201).json(await receiveArtifact(req, stageRunId, tokenId, epoch, path));
  });

  agentRouter.put('/stage-runs/:id/reports', async (req, res) => {
    if (!ingestReport) throw notFound('report ingestion');
    const tokenId = agentTokenId(req);
    const stageRunId = positiveInt(req.params.id, 'stage run id');
    const epoch = headerInt(req, 'X-Slipway-Epoch');
    const path = checkArtifactPath(req.query.path);
    const step = req.query.step;
    if (typeof step !== 'string' || !/^[0-9]{1,4}$/.test(step)) throw badRequest('step: required, the step index');
    const format = req.query.format;
    if (typeof format !== 'string' || !/^[a-z0-9_-]{1,32}$/.test(format)) throw badRequest('format: required, e.g. junit');
    const upload = { stageRunId, stepIndex: Number(step), format, path };
    if (req.query.missing === '1') {
      const { buildId } = heldLease(stageRunId, tokenId, epoch);
      req.resume();
      res.status(201).json(await ingestReport({ ...upload, buildId, artifactId: null }, null));
      return;
    }
    const art = await receiveArtifact(req, stageRunId, tokenId, epoch, `${REPORTS_PREFIX}step-${step}/${path}`);
    const file = resolveStorage(ctx.config.dataDir, storagePath(art.buildId, stageRunId, art.path));
    res.status(201).json(await ingestReport({ ...upload, buildId: art.buildId, artifactId: art.id }, file));
  });

  agentRouter.get('/artifacts/:id', async (req, res) => {
    const tokenId = agentTokenId(req);
    const a = store.byId(positiveInt(req.params.id, 'artifact id'));
    if (!a) throw notFound(`artifact ${req.params.id}`);
    const leases = store.leasesOnJob(tokenId, a.buildId);
    const pinned = req.get('x-slipway-stage-run');
    const ok = pinned
      ? leases.some((l) => l.id === positiveInt(pinned, 'X-Slipway-Stage-Run') && l.epoch === headerInt(req, 'X-Slipway-Epoch'))
      : leases.length > 0;
    if (!ok) throw forbidden(`artifact ${a.id}: this agent holds no running lease on a build of its job`);
    await sendFile(ctx, res, a);
  });

  const router = Router();

  router.get('/builds/:id/artifacts', allow({ kind: 'team', action: 'read' }), (req, res) => {
    const build = visibleBuild(ctx, principalOf(req), positiveInt(req.params.id, 'build id'));
    const rows = store.ofBuild(build.id);
    res.json(rows.map(toInfo));
  });

  router.get('/artifacts/:id', allow({ kind: 'team', action: 'read' }), async (req, res) => {
    const p = principalOf(req);
    const id = positiveInt(req.params.id, 'artifact id');
    const a = store.byId(id);
    if (!a) throw notFound(`artifact ${id}`);
    try {
      visibleBuild(ctx, p, a.buildId);
    } catch (err) {
      // Same answer as a missing artifact: the caller learns nothing about other teams' builds.
      if ((err as { code?: string }).code === 'not_found') throw notFound(`artifact ${id}`);
      throw err;
    }
    res.attachment(posix.basename(a.path));
    await sendFile(ctx, res, a);
  });

  return { router, agentRouter };
}

function toInfo(a: ArtifactRow): ArtifactInfo {
  return { id: a.id, buildId: a.buildId, stageRunId: a.stageRunId, path: a.path, size: a.size, sha256: a.sha256 };
}

function headerInt(req: Request, name: string): number {
  const v = req.get(name);
  if (v === undefined || !/^[0-9]{1,10}$/.test(v)) throw badRequest(`${name}: required, a non-negative integer (got ${JSON.stringify(v ?? null)})`);
  return Number(v);
}

/** Moves a verified upload into place; a path that clashes with a directory or file there is a conflict. */
async function placeFile(tmp: string, dest: string, path: string): Promise<void> {
  try {
    await mkdir(dirname(dest), { recursive: true, mode: 0o700 });
    await rename(tmp, dest);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR' || code === 'EISDIR' || code === 'EEXIST') throw conflict(`artifact ${path}: clashes with another artifact path of this stage run`);
    throw err;
  }
}

async function sendFile(ctx: MasterContext, res: Response, a: ArtifactRow): Promise<void> {
  const file = resolveStorage(ctx.config.dataDir, a.storagePath);
  const st = await stat(file).catch(() => null);
  if (!st) throw notFound(`artifact ${a.id} (file missing on the master)`);
  res.status(200);
  res.setHeader('Content-Type', 'application/octet-stream');
  res.setHeader('Content-Length', String(st.size));
  res.setHeader('X-Slipway-Sha256', a.sha256);
  await pipeline(createReadStream(file), res);
}
