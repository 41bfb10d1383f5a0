/**
 * The push pipeline: one entry point, `accept(event)`, shared by every webhook provider (GitLab, GitHub,
 * Gitea, generic) and by the poller (MASTER-POLL, provider 'poll'). Providers only parse and authenticate
 * a delivery into a PushEvent; everything else happens here, in ONE synchronous SQLite transaction:
 *
 *   dedup (webhook_deliveries: the delivery id, or (repository, ref, sha) without one; kept a day)
 *   -> candidate jobs (enabled, repo.url equal after normalizeRepoUrl to any URL of the event; e.keyJobId)
 *   -> secret check per job (the team secret named job.repo.webhookSecret, via e.verify; constant time)
 *   -> filters (deleted branch, skip marker, triggers.push branches/tags/paths, triggers.requests branches)
 *   -> createBuild per matching job ('waiting' for fork requests), or a pending path check (below)
 *   -> trigger_events rows (one per candidate job, or one with job_id NULL for the delivery as a whole).
 *
 * Nothing touches git or the network before the answer. A branch push from a webhook that does not list
 * its changed files (generic without files, GitLab pushes over 20 commits, new branches, GitHub pushes over
 * 2048 commits), for a job with triggers.push.paths, is answered as `pending` and decided after the commit
 * by path-checks.ts (git diff on the master's cache; unreachable repository -> built anyway, reason kept).
 * Polls list their files themselves; tag pushes and requests ignore unknown files (they build).
 *
 * accept() throws SlipwayError 'unauthenticated' (HTTP 401) when jobs watch the repository but the
 * delivery carries none of their secrets; nothing is queued then (a 'rejected' trigger_events row is kept).
 */
import type { RequestInfo, WebhookResult } from '../../shared/api';
import type { MasterContext } from '../context';
import type { NewBuild } from '../engine/builds/create-build';

export interface PushEvent {
  provider: 'gitlab' | 'github' | 'gitea' | 'generic' | 'poll';
  /** 'push' | 'tag_push' | 'merge_request' | 'pull_request' */
  event: string;
  /** The provider's delivery id (X-Gitlab-Event-UUID, X-GitHub-Delivery, X-Gitea-Delivery, GenericPush.deliveryId). */
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
  /** Validates, matches and queues in one transaction; see the file header. Throws 'unauthenticated' (401). */
  accept(e: PushEvent): WebhookResult;
  /**
   * Schedules the path checks a previous run of the master left pending. Called once at start (webhookRoutes
   * does it when the master mounts the hooks); later calls do nothing.
   */
  resumePending(): void;
  /** Resolves once no path check is scheduled or running (tests; a clean shutdown may await it). */
  settled(): Promise<void>;
  /** Records a delivery that is not a push at all (unknown event, ping) as ignored, job NULL; answers 202 with the reason. */
  ignoreDelivery(info: { provider: PushEvent['provider']; event: string; deliveryId?: string; ref?: string; sha?: string }, reason: string): WebhookResult;
}

export { createPushPipeline, type PushPipelineOptions } from './accept';
export type { MasterContext };
