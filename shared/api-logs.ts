/**
 * API shapes of the log center (container logs of deployed apps), shared by the master, the CLI and the web UI:
 *   GET  /api/v1/app-logs?app=&environment=&instance=&stream=&q=&from=&to=&limit=&cursor=&context=   AppLogPage
 *   GET  /api/v1/app-logs/tail?app=&environment=&instance=&stream=&q=&lines=   text/event-stream of AppLogTailEvent
 *   GET  /api/v1/app-logs/retention, PUT /api/v1/app-logs/retention (admin)   AppLogRetention
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
