/**
 * createPushPipeline: the implementation of PushPipeline.accept (contract in pipeline.ts). Matching and
 * filtering per job live in match.ts, path decisions that need git in path-checks.ts; this file owns the
 * transaction, dedup, secrets and trigger history.
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

/** Deliveries are remembered this long for deduplication. */
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
  const insertEvent = db.prepare(
    `INSERT INTO trigger_events (job_id, provider, event, delivery_id, repo, ref, sha, outcome, reason, build_id, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const expire = db.prepare('DELETE FROM webhook_deliveries WHERE created_at < ?');
  const remember = db.prepare('INSERT OR IGNORE INTO webhook_deliveries (key, created_at) VALUES (?, ?)');

  function record(e: Pick<PushEvent, 'provider' | 'event' | 'deliveryId' | 'ref' | 'sha'>, repo: string | null, jobId: number | null,
    outcome: TriggerEventInfo['outcome'], reason: string, buildId: number | null, now: number): number {
    return Number(insertEvent.run(jobId, e.provider, e.event, e.deliveryId ?? null, repo, e.ref || null, e.sha || null, outcome, reason, buildId, now).lastInsertRowid);
  }

  /** Jobs watching one of the event's repositories (or the poll's one job). */
  function candidates(e: PushEvent, keys: Set<string>): JobRecord[] {
    const all = e.jobId !== undefined ? [ctx.jobs.byId(e.jobId)].filter((j): j is JobRecord => !!j && j.enabled) : ctx.jobs.all();
    return all.filter((j) => j.config.repo && keys.has(normalizeRepoUrl(j.config.repo.url)));
  }

  /** True when the delivery carries this job's webhook secret. A team without the secret set accepts nothing. */
  function carriesSecret(e: PushEvent, job: JobRecord): boolean {
    if (e.provider === 'poll') return e.verify('');
    const name = job.config.repo!.webhookSecret;
    const value = ctx.secrets.resolve(job.teamId, [name])[name];
    return value !== undefined && value !== '' && e.verify(value);
  }

  function dedupKey(e: PushEvent, repoKey: string): string {
    const raw = e.deliveryId
      ? `${e.provider}\0id\0${e.deliveryId}`
      : `${e.provider === 'poll' ? `poll\0${e.jobId}` : 'push'}\0${repoKey}\0${e.event}\0${e.ref}\0${e.sha}`;
    return createHash('sha256').update(raw).digest('hex');
  }

  return {
    accept(e) {
      const keys = new Set(e.repoUrls.filter((u) => typeof u === 'string' && u).map(normalizeRepoUrl));
      const repoKey = [...keys][0] ?? '';
      const result: WebhookResult = { queued: [], ignored: [], pending: [] };
      const now = Date.now();
      const pendingIds: number[] = [];

      const outcome = engine.transaction((create) => {
        const jobs = candidates(e, keys);
        if (!jobs.length) {
          const reason = `no job watches repository ${repoKey || '(none given)'}`;
          record(e, repoKey, null, 'ignored', reason, null, now);
          result.ignored.push({ job: null, reason });
          return 'ok' as const;
        }
        const trusted = jobs.filter((j) => carriesSecret(e, j));
        if (!trusted.length) {
          record(e, repoKey, null, 'rejected', 'the delivery carries no webhook secret of a job watching this repository', null, now);
          return 'rejected' as const;
        }

        expire.run(now - DELIVERY_TTL_MS);
        if (remember.run(dedupKey(e, repoKey), now).changes === 0) {
          result.duplicate = true;
          for (const j of trusted) record(e, repoKey, j.id, 'duplicate', 'delivery already received', null, now);
          return 'ok' as const;
        }

        // Jobs of other teams whose secret this delivery lacks: history only, never named in the answer.
        for (const j of jobs) {
          if (!trusted.includes(j)) record(e, repoKey, j.id, 'rejected', `the delivery does not carry the webhook secret ${j.config.repo!.webhookSecret}`, null, now);
        }
        const deleted = ZERO_SHA_RE.test(e.sha);
        for (const job of trusted) {
          const why = deleted ? 'branch or tag deleted' : (localRepoRefusal(job.config.repo!.url, ctx.config, job.name) ?? matchJob(job.config, e));
          if (why) {
            record(e, repoKey, job.id, 'ignored', why, null, now);
            result.ignored.push({ job: job.name, reason: why });
            continue;
          }
          if (needsPathDecision(job.config, e)) {
            // No git before the answer: the path filter is decided by path-checks.ts once this commits.
            const reason = `the delivery does not list its changed files: triggers.push.paths (${job.config.triggers.push!.paths!.join(', ')}) decided by a git diff after the answer`;
            const eventId = record(e, repoKey, job.id, 'pending', reason, null, now);
            pathChecks.add(eventId, job, e, now);
            pendingIds.push(eventId);
            result.pending.push({ job: job.name, reason });
            continue;
          }
          const nb = newBuildFor(job, e);
          const b = create(nb);
          const reason = nb.status === 'waiting' ? 'waiting for approval (fork)' : 'queued';
          record(e, repoKey, job.id, 'queued', reason, b.buildId, now);
          result.queued.push({ job: job.name, buildId: b.buildId, number: b.number });
        }
        return 'ok' as const;
      });
      if (outcome === 'rejected') throw unauthenticated('wrong or missing webhook secret');
      pathChecks.schedule(pendingIds);
      return result;
    },

    resumePending() {
      if (resumed) return;
      resumed = true;
      pathChecks.resume();
    },

    settled: () => pathChecks.settled(),


    ignoreDelivery(info, reason) {
      record({ ...info, ref: info.ref ?? '', sha: info.sha ?? '' }, null, null, 'ignored', reason, null, Date.now());
      return { queued: [], ignored: [{ job: null, reason }], pending: [] };
    },
  };
}
