/**
 * Retention of the log center: a policy per environment (age in days and/or size), kept in
 * <dataDir>/container-logs-retention.json (set through PUT /app-logs/retention or `slipway app-logs-retention`),
 * applied at start and every intervalMs with the store's gradual deletion (short transactions that yield to the
 * event loop, so ingestion and searches go on while old partitions go). Default: 14 days everywhere.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppLogRetentionSchema, type AppLogRetention } from '../../shared/api-logs';
import type { MasterContext } from '../context';
import type { LogCenterStore } from '../logcenter';

export const DEFAULT_RETENTION: AppLogRetention = { default: { maxAgeDays: 14 }, perEnvironment: {} };

export interface RetentionSettings {
  get(): AppLogRetention;
  set(p: AppLogRetention): AppLogRetention;
  /** One pass now (also run by the timer). */
  run(now?: number): Promise<{ droppedPartitions: number; droppedEntries: number }>;
  stop(): void;
}

export function startAppLogRetention(ctx: MasterContext, store: LogCenterStore, intervalMs = 10 * 60_000): RetentionSettings {
  const file = join(ctx.config.dataDir, 'container-logs-retention.json');
  let policy = DEFAULT_RETENTION;
  try {
    const parsed = AppLogRetentionSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    if (parsed.success) policy = parsed.data;
    else ctx.log.error(`${file}: ${parsed.error.issues[0].path.join('.')}: ${parsed.error.issues[0].message}; using the default retention`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') ctx.log.error(`${file}: ${(e as Error).message}; using the default retention`);
  }
  let running: Promise<{ droppedPartitions: number; droppedEntries: number }> | undefined;
  let stopped = false;
  const run = (now?: number) => {
    running ??= store
      .applyRetentionGradually(policy, now)
      .then((r) => {
        if (r.droppedPartitions) ctx.log.info(r, 'log center retention dropped old partitions');
        return r;
      })
      .finally(() => (running = undefined));
    return running;
  };
  const safeRun = () => {
    if (stopped) return;
    run().catch((err: Error) => ctx.log.error({ err: err.message }, 'log center retention pass failed'));
  };
  const first = setTimeout(safeRun, 1000);
  const timer = setInterval(safeRun, intervalMs);
  first.unref();
  timer.unref();
  return {
    get: () => policy,
    set(p) {
      const tmp = `${file}.tmp`;
      writeFileSync(tmp, JSON.stringify(p, null, 2), { mode: 0o600 });
      renameSync(tmp, file);
      policy = p;
      return policy;
    },
    run,
    stop() {
      stopped = true;
      clearTimeout(first);
      clearInterval(timer);
    },
  };
}
