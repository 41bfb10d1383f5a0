/**
 * Triggers and webhooks (tables trigger_events, webhook_deliveries, pending_path_checks, poll_heads,
 * unverified_deliveries): every statement on them lives here. The webhook pipeline (master/webhooks/*), the
 * poller (master/triggers/poll.ts) and the trigger history route keep the policy and call these inside the
 * transactions they open. Statements are prepared once per connection.
 */
import type { TriggerEventInfo } from '../../shared/api';
import type { Db } from './db';

export type TriggerOutcome = TriggerEventInfo['outcome'];

export interface TriggerEventRow {
  id: number;
  provider: string;
  event: string;
  delivery_id: string | null;
  ref: string | null;
  sha: string | null;
  outcome: TriggerOutcome;
  reason: string;
  build_id: number | null;
  created_at: number;
}

export interface PathCheckRow {
  event_id: number;
  job_id: number;
  repo: string;
  /** JSON of the push as the pipeline saw it. */
  push: string;
}

export interface UnverifiedRow {
  repo: string;
  count: number;
  first_at: number;
  last_at: number;
  last_provider: string;
  last_reason: string;
}

export interface TriggersStore {
  /** One row of a job's trigger history; its id. */
  insertEvent(e: { jobId: number; provider: string; event: string; deliveryId: string | null; repo: string | null; ref: string | null; sha: string | null; outcome: TriggerOutcome; reason: string; buildId: number | null }, now: number): number;
  /** Sets the decision of a history row (a pending path check decided). */
  decideEvent(id: number, outcome: TriggerOutcome, reason: string, buildId: number | null): void;
  /** A job's history, newest first, ids below `beforeId`. */
  eventsOf(jobId: number, beforeId: number, limit: number): TriggerEventRow[];

  /** Remembers a delivery key; false when it was remembered already (a duplicate). */
  rememberDelivery(key: string, now: number): boolean;
  /** Forgets delivery keys remembered before `before`. */
  expireDeliveries(before: number): void;

  insertPathCheck(eventId: number, jobId: number, repo: string, push: string, now: number): void;
  pathCheck(eventId: number): PathCheckRow | undefined;
  /** Every pending path check, oldest first. */
  pathChecks(): PathCheckRow[];
  /** False when the check was no longer pending (decided already). */
  removePathCheck(eventId: number): boolean;

  /** The heads a poll recorded for a job. */
  pollHeads(jobId: number): { ref: string; sha: string }[];
  setPollHead(jobId: number, ref: string, sha: string, now: number): void;
  dropPollHead(jobId: number, ref: string): void;
  dropPollHeads(jobId: number): void;

  /** Counts one unverified delivery of a repository key. */
  countUnverified(repo: string, provider: string, reason: string, now: number): void;
  /** Deletes counts last seen before `before`. */
  expireUnverified(before: number): void;
  unverifiedTotal(): number;
  /** Keeps the `keep` most recently seen repositories. */
  trimUnverified(keep: number): void;
  /** Most recently seen first. */
  unverified(limit: number): UnverifiedRow[];
}

const cache = new WeakMap<Db, TriggersStore>();

/** One store per connection. */
export function triggersStore(db: Db): TriggersStore {
  let s = cache.get(db);
  if (!s) cache.set(db, (s = create(db)));
  return s;
}

function create(db: Db): TriggersStore {
  const insertEvent = db.prepare(
    `INSERT INTO trigger_events (job_id, provider, event, delivery_id, repo, ref, sha, outcome, reason, build_id, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const decide = db.prepare('UPDATE trigger_events SET outcome = ?, reason = ?, build_id = ? WHERE id = ?');
  const events = db.prepare<[number, number, number], TriggerEventRow>(
    `SELECT id, provider, event, delivery_id, ref, sha, outcome, reason, build_id, created_at
     FROM trigger_events WHERE job_id = ? AND id < ? ORDER BY id DESC LIMIT ?`,
  );
  const remember = db.prepare('INSERT OR IGNORE INTO webhook_deliveries (key, created_at) VALUES (?, ?)');
  const expire = db.prepare('DELETE FROM webhook_deliveries WHERE created_at < ?');
  const insertCheck = db.prepare('INSERT INTO pending_path_checks (event_id, job_id, repo, push, created_at) VALUES (?, ?, ?, ?, ?)');
  const check = db.prepare<[number], PathCheckRow>('SELECT event_id, job_id, repo, push FROM pending_path_checks WHERE event_id = ?');
  const checks = db.prepare<[], PathCheckRow>('SELECT event_id, job_id, repo, push FROM pending_path_checks ORDER BY event_id');
  const removeCheck = db.prepare('DELETE FROM pending_path_checks WHERE event_id = ?');
  const heads = db.prepare<[number], { ref: string; sha: string }>('SELECT ref, sha FROM poll_heads WHERE job_id = ?');
  const setHead = db.prepare(
    `INSERT INTO poll_heads (job_id, ref, sha, updated_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (job_id, ref) DO UPDATE SET sha = excluded.sha, updated_at = excluded.updated_at`,
  );
  const dropHead = db.prepare('DELETE FROM poll_heads WHERE job_id = ? AND ref = ?');
  const dropHeads = db.prepare('DELETE FROM poll_heads WHERE job_id = ?');
  const upsertUnverified = db.prepare(
    `INSERT INTO unverified_deliveries (repo, count, first_at, last_at, last_provider, last_reason) VALUES (@repo, 1, @now, @now, @provider, @reason)
     ON CONFLICT (repo) DO UPDATE SET count = count + 1, last_at = @now, last_provider = @provider, last_reason = @reason`,
  );
  const expireUnverified = db.prepare('DELETE FROM unverified_deliveries WHERE last_at < ?');
  const unverifiedTotal = db.prepare('SELECT COUNT(*) FROM unverified_deliveries').pluck();
  const trimUnverified = db.prepare(
    `DELETE FROM unverified_deliveries WHERE repo IN (SELECT repo FROM unverified_deliveries ORDER BY last_at DESC, repo LIMIT -1 OFFSET ?)`,
  );
  const unverified = db.prepare<[number], UnverifiedRow>('SELECT * FROM unverified_deliveries ORDER BY last_at DESC, repo LIMIT ?');
  return {
    insertEvent: (e, now) =>
      Number(insertEvent.run(e.jobId, e.provider, e.event, e.deliveryId, e.repo, e.ref, e.sha, e.outcome, e.reason, e.buildId, now).lastInsertRowid),
    decideEvent: (id, outcome, reason, buildId) => void decide.run(outcome, reason, buildId, id),
    eventsOf: (jobId, beforeId, limit) => events.all(jobId, beforeId, limit),
    rememberDelivery: (key, now) => remember.run(key, now).changes > 0,
    expireDeliveries: (before) => void expire.run(before),
    insertPathCheck: (eventId, jobId, repo, push, now) => void insertCheck.run(eventId, jobId, repo, push, now),
    pathCheck: (eventId) => check.get(eventId),
    pathChecks: () => checks.all(),
    removePathCheck: (eventId) => removeCheck.run(eventId).changes > 0,
    pollHeads: (jobId) => heads.all(jobId),
    setPollHead: (jobId, ref, sha, now) => void setHead.run(jobId, ref, sha, now),
    dropPollHead: (jobId, ref) => void dropHead.run(jobId, ref),
    dropPollHeads: (jobId) => void dropHeads.run(jobId),
    countUnverified: (repo, provider, reason, now) => void upsertUnverified.run({ repo, now, provider, reason }),
    expireUnverified: (before) => void expireUnverified.run(before),
    unverifiedTotal: () => unverifiedTotal.get() as number,
    trimUnverified: (keep) => void trimUnverified.run(keep),
    unverified: (limit) => unverified.all(limit),
  };
}
