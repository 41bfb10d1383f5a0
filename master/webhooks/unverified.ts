/**
 * Deliveries no job's secret verified, counted per repository (the normalised URL the body named, or
 * '(none)') for instance admins: how many, since when, the last provider and reason. Nothing of such a
 * delivery reaches a job's trigger history (it may be another team's push, or anyone's noise).
 * Bounded: at most MAX_REPOS rows (the least recently seen go first) and none older than KEEP_MS, pruned on
 * write; a repository key is cut to MAX_KEY characters. Read by GET /api/v1/triggers/unverified.
 */
import type { Db } from '../store/db';

export const MAX_REPOS = 1000;
export const KEEP_MS = 30 * 24 * 60 * 60 * 1000;
const MAX_KEY = 200;

export interface UnverifiedCount {
  repo: string;
  count: number;
  firstAt: number;
  lastAt: number;
  lastProvider: string;
  lastReason: string;
}

export interface UnverifiedDeliveries {
  /** Counts one delivery for `repo`; prunes beyond the bounds. */
  count(repo: string, provider: string, reason: string, now: number): void;
  /** Newest first. */
  list(limit: number): UnverifiedCount[];
}

export function unverifiedDeliveries(db: Db): UnverifiedDeliveries {
  const upsert = db.prepare(
    `INSERT INTO unverified_deliveries (repo, count, first_at, last_at, last_provider, last_reason) VALUES (@repo, 1, @now, @now, @provider, @reason)
     ON CONFLICT (repo) DO UPDATE SET count = count + 1, last_at = @now, last_provider = @provider, last_reason = @reason`,
  );
  const expire = db.prepare('DELETE FROM unverified_deliveries WHERE last_at < ?');
  const total = db.prepare('SELECT COUNT(*) FROM unverified_deliveries').pluck();
  const trim = db.prepare(
    `DELETE FROM unverified_deliveries WHERE repo IN (SELECT repo FROM unverified_deliveries ORDER BY last_at DESC, repo LIMIT -1 OFFSET ?)`,
  );
  const list = db.prepare<[number], { repo: string; count: number; first_at: number; last_at: number; last_provider: string; last_reason: string }>(
    'SELECT * FROM unverified_deliveries ORDER BY last_at DESC, repo LIMIT ?',
  );
  return {
    count(repo, provider, reason, now) {
      upsert.run({ repo: (repo || '(none)').slice(0, MAX_KEY), now, provider, reason: reason.slice(0, 500) });
      expire.run(now - KEEP_MS);
      if ((total.get() as number) > MAX_REPOS) trim.run(MAX_REPOS);
    },
    list(limit) {
      return list.all(limit).map((r) => ({ repo: r.repo, count: r.count, firstAt: r.first_at, lastAt: r.last_at, lastProvider: r.last_provider, lastReason: r.last_reason }));
    },
  };
}
