/**
 * Deliveries no job's secret verified, counted per repository (the normalised URL the body named, or
 * '(none)') for instance admins: how many, since when, the last provider and reason. Nothing of such a
 * delivery reaches a job's trigger history (it may be another team's push, or anyone's noise).
 * Bounded: at most MAX_REPOS rows (the least recently seen go first) and none older than KEEP_MS, pruned on
 * write; a repository key is cut to MAX_KEY characters. Read by GET /api/v1/triggers/unverified.
 */
import type { Db } from '../store/db';
import { triggersStore } from '../store/triggers';

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
  const store = triggersStore(db);
  return {
    count(repo, provider, reason, now) {
      store.countUnverified((repo || '(none)').slice(0, MAX_KEY), provider, reason.slice(0, 500), now);
      store.expireUnverified(now - KEEP_MS);
      if (store.unverifiedTotal() > MAX_REPOS) store.trimUnverified(MAX_REPOS);
    },
    list(limit) {
      return store.unverified(limit).map((r) => ({ repo: r.repo, count: r.count, firstAt: r.first_at, lastAt: r.last_at, lastProvider: r.last_provider, lastReason: r.last_reason }));
    },
  };
}
