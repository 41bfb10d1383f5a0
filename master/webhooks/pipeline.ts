/**
 * The push pipeline: one entry point, `accept(event)`, shared by every webhook provider (GitLab, GitHub,
 * Gitea, generic) and by the poller (MASTER-POLL, provider 'poll'). Providers only parse and authenticate
 * a delivery into a PushEvent; everything else happens here, in ONE synchronous SQLite transaction:
 *
 *   candidate jobs (enabled, repo.url equal after normalizeRepoUrl to any URL of the event; e.jobId)
 *   -> secret check per job (the team secret named job.repo.webhookSecret, via e.verify; constant time);
 *      none verifies -> counted in unverified_deliveries per repository (admins only), nothing else kept
 *   -> the full parse of the delivery (receive: only now, for a webhook)
 *   -> dedup per verified job (webhook_deliveries, kept a day): one build per (job, ref, sha), and per
 *      (job, provider, delivery id) — another team's delivery never makes this job's a duplicate
 *   -> filters (deleted branch, skip marker, triggers.push branches/tags/paths, triggers.requests branches)
 *   -> createBuild per matching job ('waiting' for fork requests), or a pending path check (below)
 *   -> trigger_events rows, one per verified job: a job's history holds only what its own secret verified.
 *
 * Nothing touches git or the network before the answer. A branch push from a webhook that does not list
 * its changed files (generic without files, GitLab pushes over 20 commits, new branches, GitHub pushes over
 * 2048 commits), for a job with triggers.push.paths, is answered as `pending` and decided after the commit
 * by path-checks.ts (git diff on the master's cache; unreachable repository -> built anyway, reason kept).
 * Polls list their files themselves; tag pushes and requests ignore unknown files (they build).
 *
 * receive() and accept() throw SlipwayError 'unauthenticated' (HTTP 401) when jobs watch the repository
 * but the delivery carries none of their secrets; nothing is queued and no job's history changes then.
 */
import type { RequestInfo, WebhookResult } from '../../shared/api';
import type { ParsedDelivery } from './payload';
import type { MasterContext } from '../context';
import type { NewBuild } from '../engine/builds/create-build';

export interface PushEvent {
  provider: 'gitlab' | 'github' | 'gitea' | 'generic' | 'poll';
  /** 'push' | 'tag_push' | 'merge_request' | 'pull_request' */
  event: string;
  /** The provider's delivery id, stable across retries (Idempotency-Key or X-Gitlab-Event-UUID, X-GitHub-Delivery, X-Gitea-Delivery, GenericPush.deliveryId). */
  deliveryId?: string;
  /** Every URL the payload gives for the repository (http and ssh forms); matched after normalizeRepoUrl. */
  repoUrls: string[];
  /** Full ref: refs/heads/x, refs/tags/x, or for requests the ref the agent fetches (refs/pull/7/head, refs/merge-requests/7/head). */
  ref: string;
  /** Commit to build (40 or 64 hex). All zeros with a branch ref = the branch was deleted: nothing builds. */
  sha: string;
  /** Previous head; all zeros = new branch. */
  before?: string;
  headMessage?: string;
  author?: string;
  /** Web URL of the head commit. */
  url?: string;
  /** Files changed by the push; undefined = unknown (path filters then count as matching). */
  changedFiles?: string[];
  /** Set for merge/pull request events; the build is a request build ('waiting' when request.fork). */
  request?: RequestInfo;
  /** Poll only: the one job this event is for (other jobs of the same repository are not considered). */
  jobId?: number;
  /** Checks the delivery's credential against one job's webhook secret value (constant time). Poll: always true. */
  verify(secret: string): boolean;
}

/** A webhook delivery before its secret is checked: only what finding the jobs and verifying needs. */
export interface Delivery {
  provider: Exclude<PushEvent['provider'], 'poll'>;
  deliveryId?: string;
  /** The repository URLs the body names (read without parsing the rest). */
  repoUrls: string[];
  verify(secret: string): boolean;
  /** The full parse; called only once a job's secret verified the delivery. Throws invalid_request (400). */
  parse(): ParsedDelivery;
}

/** A build created by the pipeline. */
export interface CreatedBuild {
  buildId: number;
  number: number;
}

/**
 * What the engine lends the pipeline (Engine.triggerPort, built in master/engine/index.ts).
 * `transaction` runs `fn` inside one SQLite transaction; builds made with `create` are announced to
 * streams and dispatched only after the commit (a rolled-back delivery never reaches an agent).
 */
export interface EnginePort {
  transaction<T>(fn: (create: (nb: NewBuild) => CreatedBuild) => T): T;
}

export interface PushPipeline {
  /** A webhook delivery: finds the jobs, checks their secrets, then parses and accepts. Throws 'unauthenticated' (401). */
  receive(d: Delivery): WebhookResult;
  /** Validates, matches and queues an already parsed event in one transaction; see the file header. Throws 'unauthenticated' (401). */
  accept(e: PushEvent): WebhookResult;
  /**
   * Schedules the path checks a previous run of the master left pending. Called once at start (webhookRoutes
   * does it when the master mounts the hooks); later calls do nothing.
   */
  resumePending(): void;
  /** Resolves once no path check is scheduled or running (tests; a clean shutdown may await it). */
  settled(): Promise<void>;
  /** Counts a delivery no job verified (an unhandled event) for its repository; answers 202 with the reason. */
  unverified(info: { provider: PushEvent['provider']; repoUrls: string[] }, reason: string): WebhookResult;
}

export { createPushPipeline, type PushPipelineOptions } from './accept';
export type { MasterContext };
