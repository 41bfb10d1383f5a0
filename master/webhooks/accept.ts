/**
 * createPushPipeline: the implementation of PushPipeline.receive and accept (contract in pipeline.ts). Matching and
 * filtering per job live in match.ts, path decisions that need git in path-checks.ts; this file owns the
 * transaction, dedup, secrets and trigger history (unverified deliveries: unverified.ts).
 */
import { createHash } from 'node:crypto';
import type { TriggerEventInfo, WebhookResult } from '../../shared/api';
import { unauthenticated } from '../../shared/errors';
import { normalizeRepoUrl, ZERO_SHA_RE } from '../../shared/git';
import type { JobRecord, MasterContext } from '../context';
import { createMasterGit } from '../git';
import { localRepoRefusal } from '../git/local-repos';
import { matchJob, needsPathDecision, newBuildFor } from './match';
import { createPathChecks, type ChangedFilesFn } from './path-checks';
import type { EnginePort, PushEvent, PushPipeline } from './pipeline';
import { unverifiedDeliveries } from './unverified';
import { triggersStore } from '../store/triggers';

/**
 * Dedup window: a job builds one (ref, sha) once, and one delivery id once, within it. A day covers
 * providers' automatic retries and manual redeliveries.
 */
export const DELIVERY_TTL_MS = 24 * 60 * 60 * 1000;

export interface PushPipelineOptions {
  /** How path checks compute changed files; default: the master's git cache (createMasterGit(ctx).changedFiles). */
  changedFiles?: ChangedFilesFn;
}

export function createPushPipeline(ctx: MasterContext, engine: EnginePort, options: PushPipelineOptions = {}): PushPipeline {
  const db = ctx.db;
  // Git work of path checks; RepoCache serialises git per repository across the whole process.
  const git = options.changedFiles ? undefined : createMasterGit(ctx);
  const pathChecks = createPathChecks(ctx, engine, options.changedFiles ?? ((job, push) => git!.changedFiles(job, push)));
  let resumed = false;
  const store = triggersStore(db);

  /** One row of a job's trigger history (only ever for a job whose secret verified the delivery, or its poll). */
  function record(e: Pick<PushEvent, 'provider' | 'event' | 'deliveryId' | 'ref' | 'sha'>, repo: string | null, jobId: number,
    outcome: TriggerEventInfo['outcome'], reason: string, buildId: number | null, now: number): number {
    return store.insertEvent({ jobId, provider: e.provider, event: e.event, deliveryId: e.deliveryId ?? null, repo, ref: e.ref || null, sha: e.sha || null, outcome, reason, buildId }, now);
  }

  const unverified = unverifiedDeliveries(db);

  /** Jobs watching one of the event's repositories (or the poll's one job). */
  function candidates(jobId: number | undefined, keys: Set<string>): JobRecord[] {
    const all = jobId !== undefined ? [ctx.jobs.byId(jobId)].filter((j): j is JobRecord => !!j && j.enabled) : ctx.jobs.all();
    return all.filter((j) => j.config.repo && keys.has(normalizeRepoUrl(j.config.repo.url)));
  }

  /** True when the delivery carries this job's webhook secret. A team without the secret set accepts nothing. */
  function carriesSecret(e: Pick<PushEvent, 'provider' | 'verify'>, job: JobRecord): boolean {
    if (e.provider === 'poll') return e.verify('');
    const name = job.config.repo!.webhookSecret;
    const value = ctx.secrets.resolve(job.teamId, [name])[name];
    return value !== undefined && value !== '' && e.verify(value);
  }

  const repoKeys = (urls: string[]) => new Set(urls.filter((u) => typeof u === 'string' && u).map(normalizeRepoUrl));

  /**
   * The jobs whose own secret verifies the delivery. None: the delivery is counted for its repository
   * (admins) and nothing else is kept; 'unauthenticated' when jobs watch the repository, else null (no job).
   */
  function verifiedJobs(e: Pick<PushEvent, 'provider' | 'verify' | 'jobId' | 'repoUrls'>): { jobs: JobRecord[]; repoKey: string } | null {
    const keys = repoKeys(e.repoUrls);
    const repoKey = [...keys][0] ?? '';
    const jobs = candidates(e.jobId, keys);
    const trusted = jobs.filter((j) => carriesSecret(e, j));
    if (trusted.length) return { jobs: trusted, repoKey };
    const now = Date.now();
    if (!jobs.length) {
      unverified.count(repoKey, e.provider, 'no job watches this repository', now);
      return null;
    }
    unverified.count(repoKey, e.provider, 'the delivery carries no webhook secret of a job watching this repository', now);
    throw unauthenticated('wrong or missing webhook secret');
  }

  const noJob = (repoKey: string): WebhookResult => ({ queued: [], ignored: [{ job: null, team: null, reason: `no job watches repository ${repoKey || '(none given)'}` }], pending: [] });

  const dedupKey = (raw: string) => createHash('sha256').update(raw).digest('hex');
  /** True when this job saw the key within the window; remembers it either way. */
  const seen = (key: string, now: number) => !store.rememberDelivery(dedupKey(key), now);

  /** Queues what the verified jobs build, in one transaction (see pipeline.ts). */
  function acceptFor(e: PushEvent, trusted: JobRecord[], repoKey: string): WebhookResult {
    const result: WebhookResult = { queued: [], ignored: [], pending: [] };
    const now = Date.now();
    const pendingIds: number[] = [];
    engine.transaction((create) => {
      store.expireDeliveries(now - DELIVERY_TTL_MS);
      const deleted = ZERO_SHA_RE.test(e.sha);
      for (const job of trusted) {
        // The delivery id first: a retry or redelivery of this delivery, whatever became of it.
        if (e.deliveryId && seen(`job\0${job.id}\0id\0${e.provider}\0${e.deliveryId}`, now)) {
          result.duplicate = true;
          record(e, repoKey, job.id, 'duplicate', 'delivery already received', null, now);
          continue;
        }
        const why = deleted ? 'branch or tag deleted' : (localRepoRefusal(job.config.repo!.url, ctx.config, job.name) ?? matchJob(job.config, e));
        if (why) {
          record(e, repoKey, job.id, 'ignored', why, null, now);
          result.ignored.push({ job: job.name, team: job.team, reason: why });
          continue;
        }
        // Then one build per (job, ref, sha): the same push sent again under a new id, or by a poll, builds
        // once. Only deliveries that would build count: an ignored one does not hold the key.
        if (seen(`job\0${job.id}\0ref\0${e.ref}\0${e.sha}`, now)) {
          result.duplicate = true;
          record(e, repoKey, job.id, 'duplicate', `${e.ref} at ${e.sha.slice(0, 12)} already received`, null, now);
          continue;
        }
        if (needsPathDecision(job.config, e)) {
          // No git before the answer: the path filter is decided by path-checks.ts once this commits.
          const reason = `the delivery does not list its changed files: triggers.push.paths (${job.config.triggers.push!.paths!.join(', ')}) decided by a git diff after the answer`;
          const eventId = record(e, repoKey, job.id, 'pending', reason, null, now);
          pathChecks.add(eventId, job, e, now);
          pendingIds.push(eventId);
          result.pending.push({ job: job.name, team: job.team, reason });
          continue;
        }
        const nb = newBuildFor(job, e);
        const b = create(nb);
        const reason = nb.status === 'waiting' ? 'waiting for approval (fork)' : 'queued';
        record(e, repoKey, job.id, 'queued', reason, b.buildId, now);
        result.queued.push({ job: job.name, team: job.team, buildId: b.buildId, number: b.number });
      }
    });
    pathChecks.schedule(pendingIds);
    return result;
  }

  return {
    receive(d) {
      const verified = verifiedJobs({ provider: d.provider, verify: d.verify, repoUrls: d.repoUrls });
      if (!verified) return noJob([...repoKeys(d.repoUrls)][0] ?? '');
      // Parsed only now: a delivery nobody verified never gets further than its repository URLs.
      const parsed = d.parse();
      if (parsed.kind === 'ignore') {
        const now = Date.now();
        const info = { provider: d.provider, event: parsed.event, deliveryId: d.deliveryId, ref: parsed.ref ?? '', sha: parsed.sha ?? '' };
        engine.transaction(() => {
          for (const job of verified.jobs) record(info, verified.repoKey, job.id, 'ignored', parsed.reason, null, now);
        });
        return { queued: [], ignored: [{ job: null, team: null, reason: parsed.reason }], pending: [] };
      }
      const e: PushEvent = { ...parsed.event, deliveryId: d.deliveryId, verify: d.verify };
      // The jobs must watch a repository of the parsed event too (the URLs read before are a superset).
      const keys = repoKeys(e.repoUrls);
      const jobs = verified.jobs.filter((j) => keys.has(normalizeRepoUrl(j.config.repo!.url)));
      if (!jobs.length) return noJob(verified.repoKey);
      return acceptFor(e, jobs, [...keys][0] ?? verified.repoKey);
    },

    accept(e) {
      const verified = verifiedJobs(e);
      if (!verified) return noJob([...repoKeys(e.repoUrls)][0] ?? '');
      return acceptFor(e, verified.jobs, verified.repoKey);
    },

    resumePending() {
      if (resumed) return;
      resumed = true;
      pathChecks.resume();
    },

    settled: () => pathChecks.settled(),

    unverified(info, reason) {
      unverified.count([...repoKeys(info.repoUrls)][0] ?? '', info.provider, reason, Date.now());
      return { queued: [], ignored: [{ job: null, team: null, reason }], pending: [] };
    },
  };
}
