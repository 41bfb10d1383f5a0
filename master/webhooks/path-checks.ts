/**
 * Path filters decided after the webhook answer. A delivery that does not list its changed files (generic
 * pushes without changedFiles, GitLab pushes over 20 commits, new branches, GitHub pushes over 2048
 * commits) cannot decide `triggers.push.paths` without git, and git must not run before the answer
 * (GitLab and GitHub give up after 10 s). So accept() records such a job as pending, in its transaction:
 *
 *   trigger_events row with outcome 'pending'  +  pending_path_checks row (the delivery fields the build needs)
 *
 * and, after the commit, this module computes the changed files with the master's git cache (diff of
 * `before`, else of the job's previous built commit on the branch) and, in ONE transaction, deletes the
 * pending row and either creates the build (commit_info.changedFiles = the diffed files; the trigger row
 * turns 'queued' with the build id) or marks the trigger row 'ignored' with matchJob's reason.
 *
 *  - Unknown files (new branch, no base, force push: diff answers null) build, as without a filter.
 *  - A repository that cannot be reached builds anyway, as Jenkins does when it cannot decide; the trigger
 *    row's reason says why the filter was not applied (git errors have credentials masked).
 *  - Checks of one repository run one at a time, in arrival order (one fetch at a time per cache).
 *  - resume() re-schedules every pending row at master start; a row already decided is skipped, so a check
 *    scheduled twice builds at most once.
 *  - A master that stops mid-check leaves the row pending (the db is closed before the decision): the next
 *    start resumes it.
 */
import { normalizeRepoUrl } from '../../shared/git';
import type { JobRecord, MasterContext } from '../context';
import { matchJob, newBuildFor } from './match';
import type { EnginePort, PushEvent } from './pipeline';
import { inTransaction } from '../store/db';
import { triggersStore, type PathCheckRow } from '../store/triggers';
import { gitStopped } from '../../shared/node/git/run';

/** What the checks ask git: files changed by the push, null when unknowable; throws when git fails. */
export type ChangedFilesFn = (job: JobRecord, push: { ref: string; sha: string; before?: string }) => Promise<string[] | null>;

/** The delivery fields kept with a pending check (pending_path_checks.push): enough to create the build. */
export type StoredPush = Pick<PushEvent, 'provider' | 'event' | 'deliveryId' | 'repoUrls' | 'ref' | 'sha' | 'before' | 'headMessage' | 'author' | 'url'>;

export interface PathChecks {
  /** Inside accept()'s transaction: remembers that trigger event `eventId` waits for `job`'s path decision. */
  add(eventId: number, job: JobRecord, e: PushEvent, now: number): void;
  /** After the commit: schedules those checks (ids whose rows were rolled back or already decided are skipped). */
  schedule(eventIds: number[]): void;
  /** Schedules every pending check in the store: the master calls it once at start. */
  resume(): void;
  /** Resolves once no check is scheduled or running (tests, shutdown). */
  settled(): Promise<void>;
}

type Row = PathCheckRow;

/** Git's stderr can be long; the trigger history keeps the gist. */
const MAX_REASON = 400;

export function createPathChecks(ctx: MasterContext, engine: EnginePort, changedFiles: ChangedFilesFn): PathChecks {
  const { db } = ctx;
  const log = ctx.log.child({ part: 'path-checks' });
  const store = triggersStore(db);

  const scheduled = new Set<number>();
  const tails = new Map<string, Promise<void>>();
  let running = 0;
  let waiters: (() => void)[] = [];

  /** Chains `id` behind the checks of the same repository; different repositories proceed in parallel. */
  function enqueue(row: Row): void {
    if (scheduled.has(row.event_id)) return;
    scheduled.add(row.event_id);
    running++;
    const next = (tails.get(row.repo) ?? Promise.resolve())
      .then(() => check(row.event_id))
      .catch((err: Error) => failed(row.event_id, err))
      .finally(() => {
        scheduled.delete(row.event_id);
        if (tails.get(row.repo) === next) tails.delete(row.repo);
        if (--running === 0) {
          const w = waiters;
          waiters = [];
          for (const resolve of w) resolve();
        }
      });
    tails.set(row.repo, next);
  }

  async function check(eventId: number): Promise<void> {
    if (!db.open) return;
    const row = store.pathCheck(eventId);
    if (!row) return;
    const push = JSON.parse(row.push) as StoredPush;
    const job = ctx.jobs.byId(row.job_id);
    let files: string[] | undefined;
    let note: string;
    if (!job || !job.enabled || !job.config.repo) {
      note = '';
    } else {
      try {
        const got = await changedFiles(job, { ref: push.ref, sha: push.sha, before: push.before });
        files = got ?? undefined;
        note = got
          ? `queued: ${got.length} changed file(s) diffed by the master match triggers.push.paths`
          : 'queued: changed files unknown (new branch, or no earlier commit to diff against), path filter not applied';
      } catch (err) {
        const msg = (err as Error).message;
        log.warn({ job: job.name, eventId }, `job '${job.name}': changed files of ${push.ref} not computed, building anyway: ${msg}`);
        note = clip(`queued: changed files could not be computed (${msg}), built without the path filter`);
      }
    }
    // The master is stopping (its git was killed, or refused) or stopped while git ran: leave the row for the
    // next start, which decides it with a real diff (not "built without the path filter").
    if (!db.open || gitStopped()) return;
    engine.transaction((create) => {
      if (!store.removePathCheck(eventId)) return;
      // Re-read: the job may have been edited or disabled while git ran; the decision uses what holds now.
      const current = ctx.jobs.byId(row.job_id);
      if (!current || !current.enabled || !current.config.repo) {
        store.decideEvent(eventId, 'ignored', 'the job was disabled or lost its repository before its path filter was decided', null);
        return;
      }
      const e: PushEvent = { ...push, changedFiles: files, verify: () => true };
      const why = matchJob(current.config, e);
      if (why) {
        store.decideEvent(eventId, 'ignored', why, null);
        return;
      }
      const b = create(newBuildFor(current, e));
      store.decideEvent(eventId, 'queued', note, b.buildId);
    });
  }

  /** A check that threw past git (store or build creation): decided as ignored so it does not loop at every start. */
  function failed(eventId: number, err: Error): void {
    log.error({ eventId, err: err.message }, `path check of trigger event ${eventId} failed: ${err.message}`);
    if (!db.open || gitStopped()) return;
    try {
      inTransaction(db, () => {
        if (store.removePathCheck(eventId)) store.decideEvent(eventId, 'ignored', clip(`path check failed: ${err.message}`), null);
      });
    } catch (again) {
      log.error({ eventId }, `path check of trigger event ${eventId} left pending: ${(again as Error).message}`);
    }
  }

  return {
    add(eventId, job, e, now) {
      const push: StoredPush = {
        provider: e.provider,
        event: e.event,
        deliveryId: e.deliveryId,
        repoUrls: e.repoUrls,
        ref: e.ref,
        sha: e.sha,
        before: e.before,
        headMessage: e.headMessage,
        author: e.author,
        url: e.url,
      };
      store.insertPathCheck(eventId, job.id, normalizeRepoUrl(job.config.repo!.url), JSON.stringify(push), now);
    },
    schedule(eventIds) {
      if (!eventIds.length) return;
      // Deferred: a caller's enclosing transaction (if any) has committed by the next turn.
      setImmediate(() => {
        if (!db.open) return;
        for (const id of eventIds) {
          const row = store.pathCheck(id);
          if (row) enqueue(row);
        }
      });
    },
    resume() {
      if (!db.open) return;
      const rows = store.pathChecks();
      if (rows.length) log.info(`resuming ${rows.length} pending path check(s)`);
      for (const row of rows) enqueue(row);
    },
    settled() {
      // schedule() defers one turn: let it enqueue before looking at the count.
      return new Promise<void>((resolve) =>
        setImmediate(() => {
          if (running === 0) resolve();
          else waiters.push(resolve);
        }),
      );
    },
  };
}

function clip(s: string): string {
  return s.length > MAX_REASON ? `${s.slice(0, MAX_REASON - 1)}…` : s;
}
