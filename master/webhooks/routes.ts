/**
 * The webhook endpoints, mounted at /api/v1/hooks BEFORE user authentication (each provider carries its
 * own credential). Bodies are read raw (express.raw) so HMAC signatures are computed over the exact bytes
 * sent; over WEBHOOK_BODY_LIMIT the answer is 413 before any parsing.
 *
 *   POST /gitlab   X-Gitlab-Event, X-Gitlab-Token, X-Gitlab-Event-UUID
 *   POST /github   X-GitHub-Event, X-Hub-Signature-256, X-GitHub-Delivery
 *   POST /gitea    X-Gitea-Event, X-Gitea-Signature, X-Gitea-Delivery
 *   POST /generic  GenericPush JSON, Authorization: Bearer <secret>
 *
 * Answers 202 WebhookResult (builds already queued: the pipeline works synchronously and touches no git;
 * path filters that need a git diff are listed as `pending` and decided afterwards), 401 when jobs watch the
 * repository but none of their secrets verifies, 400 for malformed payloads.
 *
 * The master mounts these routes once at start: that is when the pipeline resumes path checks a restart
 * left pending (PushPipeline.resumePending).
 */
import express, { Router, type Request, type Response } from 'express';
import { parseGeneric } from './generic';
import { parseGitlab } from './gitlab';
import { parseGithubLike } from './github';
import { parseJsonBody, type ParsedDelivery } from './payload';
import type { PushEvent, PushPipeline } from './pipeline';
import { verifyGiteaSignature, verifyGithubSignature, verifyToken } from './signature';

/** GitHub caps payloads at 25 MB, but a push worth building is far smaller; GitLab sends at most 20 commits. */
export const WEBHOOK_BODY_LIMIT = 5 * 1024 * 1024;
const MAX_DELIVERY_ID = 200;

type Verify = (body: Buffer, req: Request) => (secret: string) => boolean;

export function webhookRoutes(pipeline: PushPipeline): Router {
  const router = Router();
  const raw = express.raw({ type: () => true, limit: WEBHOOK_BODY_LIMIT });
  pipeline.resumePending();

  function handle(provider: PushEvent['provider'], parse: (body: Buffer, req: Request) => ParsedDelivery, deliveryHeader: string | null, verify: Verify) {
    return (req: Request, res: Response) => {
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const parsed = parse(body, req);
      const headerId = deliveryHeader ? req.get(deliveryHeader) : undefined;
      const deliveryId = (headerId ?? (parsed.kind === 'event' ? parsed.event.deliveryId : undefined))?.slice(0, MAX_DELIVERY_ID);
      if (parsed.kind === 'ignore') {
        res.status(202).json(pipeline.ignoreDelivery({ provider, event: parsed.event, deliveryId, ref: parsed.ref, sha: parsed.sha }, parsed.reason));
        return;
      }
      const result = pipeline.accept({ ...parsed.event, deliveryId, verify: verify(body, req) });
      res.status(202).json(result);
    };
  }

  router.post(
    '/gitlab',
    raw,
    handle('gitlab', (body, req) => parseGitlab(req.get('X-Gitlab-Event'), parseJsonBody(body, 'GitLab')), 'X-Gitlab-Event-UUID',
      (_body, req) => (secret) => verifyToken(req.get('X-Gitlab-Token'), secret)),
  );
  router.post(
    '/github',
    raw,
    handle('github', (body, req) => parseGithubLike('github', req.get('X-GitHub-Event'), parseJsonBody(body, 'GitHub')), 'X-GitHub-Delivery',
      (body, req) => (secret) => verifyGithubSignature(req.get('X-Hub-Signature-256'), body, secret)),
  );
  router.post(
    '/gitea',
    raw,
    handle('gitea', (body, req) => parseGithubLike('gitea', req.get('X-Gitea-Event'), parseJsonBody(body, 'Gitea')), 'X-Gitea-Delivery',
      (body, req) => (secret) => verifyGiteaSignature(req.get('X-Gitea-Signature'), body, secret)),
  );
  router.post(
    '/generic',
    raw,
    handle('generic', (body) => parseGeneric(parseJsonBody(body, 'generic')), null, (_body, req) => (secret) => verifyToken(bearer(req), secret)),
  );
  return router;
}

function bearer(req: Request): string | undefined {
  const h = req.get('Authorization');
  return h?.startsWith('Bearer ') ? h.slice(7).trim() : undefined;
}
