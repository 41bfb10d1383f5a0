/**
 * API shapes of the log center (container logs of deployed apps), shared by the master, the CLI and the web UI:
 *   GET  /api/v1/app-logs?app=&environment=&instance=&stream=&q=&from=&to=&limit=&cursor=&context=   AppLogPage
 *   GET  /api/v1/app-logs/tail?app=&environment=&instance=&stream=&q=&lines=   text/event-stream of AppLogTailEvent
 *   GET  /api/v1/app-logs/retention, PUT /api/v1/app-logs/retention (admin)   AppLogRetention
 *   GET  /api/v1/app-logs/stats (admin)   AppLogStats: what is stored and where indexing stands, host-wide
 * Results only for apps of the caller's teams (an app belongs to the team whose jobs deploy it); apps no job
 * deploys (opted in by label) only for admins. An app outside them is answered like one that does not exist.
 * Browser-safe: imports only zod.
 */
import { z } from 'zod';

export const AppLogLineSchema = z.object({
  /** Increases in storing order; live tail resumes after one. */
  id: z.string(),
  app: z.string(),
  environment: z.string(),
  instance: z.string(),
  stream: z.string(),
  /** ms since epoch (Docker's time of the entry's first line). */
  ts: z.number(),
  /** One entry; a stack trace kept together holds '\n'. */
  text: z.string(),
});
export type AppLogLine = z.infer<typeof AppLogLineSchema>;

export const AppLogHitSchema = AppLogLineSchema.extend({
  /** Context lines of the same instance, oldest first (with context=N). */
  before: z.array(AppLogLineSchema).optional(),
  after: z.array(AppLogLineSchema).optional(),
});
export type AppLogHit = z.infer<typeof AppLogHitSchema>;

export const AppLogPageSchema = z.object({
  /** Newest first. */
  hits: z.array(AppLogHitSchema),
  /** Pass back as `cursor` for the next (older) page; absent on the last page. */
  nextCursor: z.string().optional(),
  scannedPartitions: z.number(),
});
export type AppLogPage = z.infer<typeof AppLogPageSchema>;

/** One `data:` line of the tail's event stream. */
export const AppLogTailEventSchema = z.discriminatedUnion('type', [
  /** New entries, oldest first. */
  z.object({ type: z.literal('lines'), lines: z.array(AppLogLineSchema) }),
  /** The tail ended: access lost (not_found, unauthenticated) or the master is stopping (unavailable). */
  z.object({ type: z.literal('end'), code: z.string(), message: z.string() }),
]);
export type AppLogTailEvent = z.infer<typeof AppLogTailEventSchema>;

export interface AppLogQuery {
  /** Absent: every app the caller may see. */
  app?: string;
  environment?: string;
  instance?: string;
  stream?: 'stdout' | 'stderr';
  /** Keywords and "quoted phrases", all must match. */
  q?: string;
  /** ms since epoch, inclusive / exclusive. */
  from?: number;
  to?: number;
  limit?: number;
  cursor?: string;
  context?: number;
}

const limits = z.strictObject({
  maxAgeDays: z.number().positive().optional(),
  maxBytes: z.number().int().positive().optional(),
});
export const AppLogRetentionSchema = z.strictObject({
  /** Applied to environments without their own entry. */
  default: limits.optional(),
  perEnvironment: z.record(z.string().min(1).max(64), limits).default({}),
});
export type AppLogRetention = z.infer<typeof AppLogRetentionSchema>;

const envStats = z.object({
  entries: z.number(),
  /** As retention counts it: text characters + 32 per entry. */
  bytes: z.number(),
  partitions: z.number(),
  /** ms since epoch: the start of the environment's oldest / newest live partition. */
  oldestPartitionStart: z.number(),
  newestPartitionStart: z.number(),
});

/** GET /api/v1/app-logs/stats (admin only: it covers every team's apps). */
export const AppLogStatsSchema = z.object({
  entries: z.number(),
  bytes: z.number(),
  partitions: z.number(),
  /** The store's files on disk (database, WAL, index file, spill file). */
  fileBytes: z.number(),
  environments: z.record(z.string(), envStats),
  retention: AppLogRetentionSchema,
  indexing: z.object({
    /** The last stored entry's seq (global storing order). */
    storedSeq: z.number(),
    /** Every entry up to this seq is in the file's index. */
    indexedSeq: z.number(),
    /** storedSeq - indexedSeq: entries searchable only through the pending index. */
    lagRows: z.number(),
    pendingIn: z.enum(['memory', 'spill']),
    pendingMemoryRows: z.number(),
    pendingSpillRows: z.number(),
    pendingRebuilds: z.number(),
    tempBytes: z.number(),
    /** Failures of the indexing worker in a row (0 after a pass that committed). */
    workerFailuresInRow: z.number(),
    workerRestarts: z.number(),
    workerRunning: z.boolean(),
    workerError: z.string().optional(),
  }),
});
export type AppLogStats = z.infer<typeof AppLogStatsSchema>;
