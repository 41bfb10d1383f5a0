/**
 * Retention of the log center: whole partitions (environment x time bucket) are dropped, never single rows.
 *
 * Policy (planRetention, pure): per environment (perEnvironment[env], else `default`, else keep all),
 * - maxAgeDays: a partition whose bucket ended more than maxAgeDays before `now` goes;
 * - maxBytes: keeping the newest partitions first, the older ones beyond maxBytes go (the newest partition
 *   of an environment is always kept, however big: it is the one being written).
 *
 * Dropping one partition is a sequence of short steps, each its own transaction: (1) mark it 'dropping' and
 * take it out of the live set, so searches stop seeing it at once; (2) delete its FTS index's rows and (3) its
 * entries, a slice per step; (4) drop the emptied tables and its row. A crash between steps leaves a
 * 'dropping' row that finishDrops completes at the next open. Appends never wait for more than one step;
 * applyRetentionGradually also yields to the event loop between steps.
 */
import { badRequest } from '../../shared/errors';
import type { PartitionRegistry } from './partitions';
import type { Db } from './schema';
import type { RetentionPolicy, RetentionResult } from './types';

const DAY_MS = 86_400_000;

export interface PartitionInfo {
  id: number;
  environment: string;
  start: number;
  bytes: number;
  entries: number;
}

function checkLimits(l: { maxAgeDays?: number; maxBytes?: number } | undefined, field: string): void {
  if (l === undefined) return;
  if (typeof l !== 'object' || l === null) throw badRequest(`${field}: must be an object`);
  if (l.maxAgeDays !== undefined && !(typeof l.maxAgeDays === 'number' && l.maxAgeDays > 0)) throw badRequest(`${field}.maxAgeDays: must be a number > 0`);
  if (l.maxBytes !== undefined && !(Number.isSafeInteger(l.maxBytes) && l.maxBytes > 0)) throw badRequest(`${field}.maxBytes: must be an integer > 0`);
}

/** The partitions the policy drops, oldest first. Throws invalid_request naming a bad policy field. */
export function planRetention(partitions: PartitionInfo[], partitionMs: number, policy: RetentionPolicy, now: number): PartitionInfo[] {
  if (!policy || typeof policy !== 'object' || typeof policy.perEnvironment !== 'object' || policy.perEnvironment === null) {
    throw badRequest('retention.perEnvironment: must be an object of environment -> { maxAgeDays?, maxBytes? }');
  }
  for (const [env, l] of Object.entries(policy.perEnvironment)) checkLimits(l, `retention.perEnvironment.${env}`);
  checkLimits(policy.default, 'retention.default');
  const byEnv = new Map<string, PartitionInfo[]>();
  for (const p of partitions) {
    const list = byEnv.get(p.environment) ?? [];
    list.push(p);
    byEnv.set(p.environment, list);
  }
  const drop: PartitionInfo[] = [];
  for (const [env, list] of byEnv) {
    const limits = Object.hasOwn(policy.perEnvironment, env) ? policy.perEnvironment[env] : policy.default;
    if (!limits) continue;
    list.sort((a, b) => b.start - a.start || b.id - a.id);
    let kept = 0;
    list.forEach((p, i) => {
      const tooOld = limits.maxAgeDays !== undefined && p.start + partitionMs <= now - limits.maxAgeDays * DAY_MS;
      const tooBig = limits.maxBytes !== undefined && i > 0 && kept + p.bytes > limits.maxBytes;
      if (tooOld || tooBig) drop.push(p);
      else kept += p.bytes;
    });
  }
  return drop.sort((a, b) => a.start - b.start || a.id - b.id);
}

/** Rows deleted per step: a few milliseconds of work, so an append never waits long behind a drop. */
const ROWS_PER_STEP = 1000;

/**
 * The steps that delete one partition, in order; each runs as its own transaction and returns true when it
 * has more to do (then it is run again). A DROP TABLE of an hour of a busy environment frees its pages in one
 * go (measured here: up to 350 ms for 200,000 entries while other work shared the CPUs), so the rows go
 * first in slices: the FTS index's segment rows (its shadow table, dead once the partition is out of the live
 * set; SQLite's defensive mode is lifted for just that statement), then the entries; the DROPs that follow
 * free what is left, a few pages.
 */
function dropSteps(db: Db, registry: PartitionRegistry, id: number): (() => boolean)[] {
  // A layout-3 partition's index is in the index file: the worker drops it (fts-worker.ts), never this connection.
  const ownIndex = registry.get(id)?.layout !== 3;
  return [
    () => {
      db.prepare("UPDATE partitions SET state = 'dropping' WHERE id = ?").run(id);
      registry.forget(id);
      return false;
    },
    () => {
      if (!ownIndex) return false;
      db.unsafeMode(true);
      try {
        const info = db.prepare(`DELETE FROM main.f_${id}_data WHERE rowid IN (SELECT rowid FROM main.f_${id}_data LIMIT ${ROWS_PER_STEP})`).run();
        return info.changes > 0;
      } finally {
        db.unsafeMode(false);
      }
    },
    () => db.prepare(`DELETE FROM main.d_${id} WHERE rowid IN (SELECT rowid FROM main.d_${id} LIMIT ${ROWS_PER_STEP})`).run().changes > 0,
    () => {
      db.exec(`DROP TABLE IF EXISTS main.f_${id}; DROP TABLE IF EXISTS main.d_${id}`);
      db.prepare('DELETE FROM partitions WHERE id = ?').run(id);
      return false;
    },
  ];
}

function plan(registry: PartitionRegistry, policy: RetentionPolicy, now: number): PartitionInfo[] {
  return planRetention(registry.list(), registry.partitionMs, policy, now);
}

export function applyRetention(db: Db, registry: PartitionRegistry, policy: RetentionPolicy, now: number): RetentionResult {
  const doomed = plan(registry, policy, now);
  for (const p of doomed) for (const step of dropSteps(db, registry, p.id)) while (db.transaction(step)());
  return { droppedPartitions: doomed.length, droppedEntries: doomed.reduce((s, p) => s + p.entries, 0) };
}

export async function applyRetentionGradually(db: Db, registry: PartitionRegistry, policy: RetentionPolicy, now: number): Promise<RetentionResult> {
  const doomed = plan(registry, policy, now);
  for (const p of doomed) {
    for (const step of dropSteps(db, registry, p.id)) {
      let more: boolean;
      do {
        more = db.transaction(step)();
        await new Promise((resolve) => setImmediate(resolve));
      } while (more);
    }
  }
  return { droppedPartitions: doomed.length, droppedEntries: doomed.reduce((s, p) => s + p.entries, 0) };
}

/** Completes drops a crash interrupted (partitions left in state 'dropping'). */
export function finishDrops(db: Db): void {
  const ids = db.prepare("SELECT id FROM partitions WHERE state = 'dropping'").pluck().all() as number[];
  for (const id of ids) {
    db.transaction(() => {
      db.exec(`DROP TABLE IF EXISTS main.f_${id}; DROP TABLE IF EXISTS main.d_${id}`);
      db.prepare('DELETE FROM partitions WHERE id = ?').run(id);
    })();
  }
}
