/**
 * Polling, for repositories that cannot send webhooks: per job with `triggers.poll` (a node-cron
 * expression, in the job's triggers.timezone), `git ls-remote` the job's repository with its credentials
 * and compare the heads of the watched refs with poll_heads. Watched refs: branches matching
 * triggers.push.branches (default: repo.branch only), and tags when triggers.push.tags allows them.
 *
 *  - The first poll of a job records the heads as a baseline and builds nothing (as Jenkins' SCM polling
 *    does): enabling polling must not rebuild every branch. A trigger_events row says so, and a sentinel
 *    poll_heads row (ref BASELINE_REF) remembers it even when no watched ref exists yet.
 *  - A changed head, or a watched ref that appears later, goes through the push pipeline
 *    (`accept({provider: 'poll', jobId, ...})`: filters, skip, history) in the SAME transaction that updates
 *    poll_heads, so a new head triggers at most one build, even across a crash between the two.
 *  - With path filters, the changed files are computed with the master's git cache (before = the old head).
 *  - Polls of one job never overlap (a slow remote skips ticks); a failing remote is logged once per
 *    distinct error, without credentials. Re-planned on ctx.jobs.onChange; a changed repo URL starts a
 *    new baseline.
 *  - A poll cut short by the master's shutdown (its git killed by stopAllGit) changes nothing and builds
 *    nothing: the next start polls the same change again.
 */
import cron, { type ScheduledTask } from 'node-cron';
import { parseRef } from '../../shared/git';
import { matchesAny } from '../../shared/node/glob';
import type { WebhookResult } from '../../shared/api';
import type { JobRecord, MasterContext } from '../context';
import type { MasterGit } from '../git';
import type { PushPipeline } from '../webhooks/pipeline';
import { inTransaction } from '../store/db';
import { triggersStore } from '../store/triggers';
import { gitStopped } from '../../shared/node/git/run';

export interface PollResult {
  /** 'baseline': first poll, heads recorded; 'polled': heads compared. */
  kind: 'baseline' | 'polled';
  /** Refs whose head changed or appeared, with the pipeline's answer. */
  changes: { ref: string; sha: string; before: string | null; result: WebhookResult }[];
}

export interface Poller {
  /** Polls one job now (tests, diagnostics); null when the job does not poll or a poll is running. */
  pollNow(jobId: number): Promise<PollResult | null>;
  /** Expression planned per job id (names are unique per team only). */
  planned(): Map<number, string>;
  stop(): void;
}

/** The refs of `heads` a job watches (see the file header). */
/** poll_heads row marking that a job's baseline was taken (never a real ref: refs start with refs/). */
export const BASELINE_REF = '(baseline)';

export function watchedRefs(job: JobRecord, heads: Map<string, string>): Map<string, string> {
  const repo = job.config.repo!;
  const push = job.config.triggers.push;
  const branches = push?.branches ?? [repo.branch];
  const tags = push?.tags ?? false;
  const out = new Map<string, string>();
  for (const [ref, sha] of heads) {
    const { branch, tag } = parseRef(ref);
    if (branch !== undefined && matchesAny(branch, branches)) out.set(ref, sha);
    else if (tag !== undefined && (tags === true || (Array.isArray(tags) && matchesAny(tag, tags)))) out.set(ref, sha);
  }
  return out;
}

export function startPoller(ctx: MasterContext, git: MasterGit, pipeline: PushPipeline): Poller {
  const { db } = ctx;
  const log = ctx.log.child({ part: 'poll' });
  const tasks = new Map<number, { expr: string; url: string; task: ScheduledTask }>();
  const running = new Set<number>();
  const lastError = new Map<number, string>();
  let stopped = false;
  const store = triggersStore(db);

  async function poll(jobId: number): Promise<PollResult | null> {
    const job = ctx.jobs.byId(jobId);
    if (stopped || !job || !job.enabled || !job.config.triggers.poll || !job.config.repo || running.has(jobId)) return null;
    const name = job.name;
    running.add(jobId);
    try {
      const remote = watchedRefs(job, await git.heads(job));
      lastError.delete(jobId);
      // Re-read: the job may have changed or the master stopped while ls-remote ran.
      const now = ctx.jobs.byId(jobId);
      if (halted() || !now || now.config.repo?.url !== job.config.repo.url || !now.enabled) return null;
      const known = new Map(store.pollHeads(job.id).map((r) => [r.ref, r.sha]));
      const at = Date.now();
      if (!known.delete(BASELINE_REF)) {
        inTransaction(db, () => {
          store.dropPollHeads(job.id);
          store.setPollHead(job.id, BASELINE_REF, '', at);
          for (const [ref, sha] of remote) store.setPollHead(job.id, ref, sha, at);
          store.insertEvent(
            { jobId: job.id, provider: 'poll', event: 'poll', deliveryId: null, repo: job.config.repo!.url, ref: null, sha: null, outcome: 'ignored', reason: `first poll: ${remote.size} head(s) recorded as the baseline, nothing built`, buildId: null },
            at,
          );
        });
        return { kind: 'baseline', changes: [] };
      }
      const result: PollResult = { kind: 'polled', changes: [] };
      for (const ref of known.keys()) if (!remote.has(ref)) store.dropPollHead(job.id, ref);
      for (const [ref, sha] of remote) {
        const before = known.get(ref) ?? null;
        if (before === sha) continue;
        const changedFiles = await changedFilesFor(job, ref, sha, before);
        // The master is stopping: its git was killed, so "files unknown" would build without the path filter.
        // The head stays as it was and the next start polls this change again.
        if (halted()) return null;
        const res = inTransaction(db, () => {
          store.setPollHead(job.id, ref, sha, Date.now());
          return pipeline.accept({
            provider: 'poll',
            event: ref.startsWith('refs/tags/') ? 'tag_push' : 'push',
            repoUrls: [job.config.repo!.url],
            ref,
            sha,
            before: before ?? undefined,
            changedFiles,
            jobId: job.id,
            verify: () => true,
          });
        });
        result.changes.push({ ref, sha, before, result: res });
      }
      return result;
    } catch (err) {
      // A git killed by the master's shutdown says nothing about the remote.
      if (halted()) return null;
      const msg = (err as Error).message;
      // A remote that stays down would log every tick; log each distinct failure once.
      if (lastError.get(jobId) !== msg) log.error({ job: name, team: job.team }, `job '${job.team}/${name}': poll failed: ${msg}`);
      lastError.set(jobId, msg);
      return null;
    } finally {
      running.delete(jobId);
    }
  }

  /**
   * The master is stopping: the poller was stopped, or stopAllGit() killed (and now refuses) the master's git,
   * which then fails for reasons that are not the remote's. A poll that sees this changes nothing.
   */
  function halted(): boolean {
    return stopped || gitStopped() || !db.open;
  }

  /** Only jobs with path filters pay for a diff; a failed diff leaves the files unknown (filters match). */
  async function changedFilesFor(job: JobRecord, ref: string, sha: string, before: string | null): Promise<string[] | undefined> {
    if (!job.config.triggers.push?.paths || !ref.startsWith('refs/heads/')) return undefined;
    try {
      return (await git.changedFiles(job, { ref, sha, before: before ?? undefined })) ?? undefined;
    } catch (err) {
      if (halted()) return undefined;
      log.warn({ job: job.name }, `job '${job.name}': changed files of ${ref} unknown: ${(err as Error).message}`);
      return undefined;
    }
  }

  function unplan(jobId: number): void {
    void tasks.get(jobId)?.task.stop();
    tasks.delete(jobId);
  }

  function plan(job: JobRecord): void {
    const before = tasks.get(job.id);
    unplan(job.id);
    const expr = job.config.triggers.poll;
    if (!job.enabled || !expr || !job.config.repo) return;
    if (before && before.url !== job.config.repo.url) store.dropPollHeads(job.id);
    if (!cron.validate(expr)) {
      log.error({ job: job.name, expr }, `job '${job.name}': invalid poll expression '${expr}', not scheduled`);
      return;
    }
    try {
      const task = cron.schedule(expr, () => void poll(job.id), { timezone: job.config.triggers.timezone, name: `poll:${job.id}` });
      tasks.set(job.id, { expr, url: job.config.repo.url, task });
    } catch (err) {
      log.error({ job: job.name, expr }, `job '${job.name}': poll not scheduled: ${(err as Error).message}`);
    }
  }

  for (const job of ctx.jobs.all()) plan(job);
  ctx.jobs.onChange((job, id) => (job ? plan(job) : unplan(id)));

  return {
    pollNow: poll,
    planned: () => new Map([...tasks].map(([k, v]) => [k, v.expr])),
    stop() {
      stopped = true;
      for (const id of [...tasks.keys()]) unplan(id);
    },
  };
}
