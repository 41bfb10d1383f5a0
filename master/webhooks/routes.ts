/**
 * The webhook endpoints, mounted at /api/v1/hooks BEFORE user authentication (each provider carries its
 * own credential). Bodies are read raw (express.raw) so HMAC signatures are computed over the exact bytes
 * sent; over WEBHOOK_BODY_LIMIT the answer is 413 before any parsing.
 *
 *   POST /gitlab   X-Gitlab-Event, X-Gitlab-Token, Idempotency-Key (else X-Gitlab-Event-UUID)
 *   POST /github   X-GitHub-Event, X-Hub-Signature-256, X-GitHub-Delivery
 *   POST /gitea    X-Gitea-Event, X-Gitea-Signature, X-Gitea-Delivery
 *   POST /generic  GenericPush JSON, Authorization: Bearer <secret>
 *
 * Before a job's secret verified a delivery, only its JSON and repository URLs are read (to find the jobs
 * whose secrets to try) and its event header (an event no parser handles is answered 'not handled'); the
 * push itself is parsed after (PushPipeline.receive). The delivery id is the header the provider keeps
 * stable across retries and redeliveries.
 *
 * Answers 202 WebhookResult (builds already queued: the pipeline works synchronously and touches no git;
 * path filters that need a git diff are listed as `pending` and decided afterwards), 401 when jobs watch the
 * repository but none of their secrets verifies, 400 for malformed payloads.
 *
 * The master mounts these routes once at start: that is when the pipeline resumes path checks a restart
 * left pending (PushPipeline.resumePending).
 */
import express, { Router, type Request, type Response } from 'express';
import { genericRepoUrls, parseGeneric } from './generic';
import { GITLAB_EVENTS, gitlabRepoUrls, parseGitlab } from './gitlab';
import { GITHUB_LIKE_EVENTS, githubLikeRepoUrls, parseGithubLike } from './github';
import { parseJsonBody, str, type Json, type ParsedDelivery } from './payload';
import type { Delivery, PushPipeline } from './pipeline';
import { verifyGiteaSignature, verifyGithubSignature, verifyToken } from './signature';

/** GitHub caps payloads at 25 MB, but a push worth building is far smaller; GitLab sends at most 20 commits. */
export const WEBHOOK_BODY_LIMIT = 5 * 1024 * 1024;
const MAX_DELIVERY_ID = 200;

interface ProviderRoute {
  provider: Delivery['provider'];
  /** Name in error messages. */
  label: string;
  /** The event header (null: the provider has none, every delivery is a push). */
  eventHeader: string | null;
  /** Event header values the parser handles (ignored when eventHeader is null). */
  events?: Set<string>;
  /** Delivery id headers, the one the provider keeps stable across retries first. */
  idHeaders: string[];
  repoUrls(body: Json): string[];
  parse(event: string | undefined, body: Json): ParsedDelivery;
  verify(raw: Buffer, req: Request): (secret: string) => boolean;
}

const PROVIDERS: ProviderRoute[] = [
  {
    provider: 'gitlab',
    label: 'GitLab',
    eventHeader: 'X-Gitlab-Event',
    events: GITLAB_EVENTS,
    // Idempotency-Key stays the same when GitLab retries a delivery; the event UUID is per hook execution.
    idHeaders: ['Idempotency-Key', 'X-Gitlab-Event-UUID'],
    repoUrls: gitlabRepoUrls,
    parse: parseGitlab,
    verify: (_raw, req) => (secret) => verifyToken(req.get('X-Gitlab-Token'), secret),
  },
  {
    provider: 'github',
    label: 'GitHub',
    eventHeader: 'X-GitHub-Event',
    events: GITHUB_LIKE_EVENTS,
    idHeaders: ['X-GitHub-Delivery'],
    repoUrls: githubLikeRepoUrls,
    parse: (event, body) => parseGithubLike('github', event, body),
    verify: (raw, req) => (secret) => verifyGithubSignature(req.get('X-Hub-Signature-256'), raw, secret),
  },
  {
    provider: 'gitea',
    label: 'Gitea',
    eventHeader: 'X-Gitea-Event',
    events: GITHUB_LIKE_EVENTS,
    idHeaders: ['X-Gitea-Delivery'],
    repoUrls: githubLikeRepoUrls,
    parse: (event, body) => parseGithubLike('gitea', event, body),
    verify: (raw, req) => (secret) => verifyGiteaSignature(req.get('X-Gitea-Signature'), raw, secret),
  },
  {
    provider: 'generic',
    label: 'generic',
    eventHeader: null,
    idHeaders: [],
    repoUrls: genericRepoUrls,
    parse: (_event, body) => parseGeneric(body),
    verify: (_raw, req) => (secret) => verifyToken(bearer(req), secret),
  },
];

export function webhookRoutes(pipeline: PushPipeline): Router {
  const router = Router();
  const raw = express.raw({ type: () => true, limit: WEBHOOK_BODY_LIMIT });
  pipeline.resumePending();

  for (const p of PROVIDERS) {
    router.post(`/${p.provider}`, raw, (req: Request, res: Response) => {
      const rawBody = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const event = p.eventHeader ? req.get(p.eventHeader) : undefined;
      const headerId = p.idHeaders.map((h) => req.get(h)).find((v) => !!v);
      if (p.eventHeader && (!event || !p.events!.has(event))) {
        // Nothing to build whatever the body says: not read at all, and not verified either.
        const reason = `${p.label} event '${event ?? `(no ${p.eventHeader} header)`}' is not handled`;
        res.status(202).json(pipeline.unverified({ provider: p.provider, repoUrls: [] }, reason));
        return;
      }
      const json = parseJsonBody(rawBody, p.label);
      const deliveryId = (headerId ?? (p.provider === 'generic' ? str(json.deliveryId) : undefined))?.slice(0, MAX_DELIVERY_ID);
      const result = pipeline.receive({
        provider: p.provider,
        deliveryId,
        repoUrls: p.repoUrls(json),
        verify: p.verify(rawBody, req),
        parse: () => p.parse(event, json),
      });
      res.status(202).json(result);
    });
  }
  return router;
}

function bearer(req: Request): string | undefined {
  const h = req.get('Authorization');
  return h?.startsWith('Bearer ') ? h.slice(7).trim() : undefined;
}
