/**
 * The master's log center wiring (issue 12): the store (master/logcenter, its own file
 * <dataDir>/container-logs.db), the agent gateway's ContainerLogsPort (ingest.ts), team scoping (scope.ts),
 * search and live tail routes (routes.ts, tail.ts) and retention (retention.ts).
 */
import { join } from 'node:path';
import type { Router } from 'express';
import type { MasterContext } from '../context';
import { openLogCenter, type LogCenterStore } from '../logcenter';
import { createIngest } from './ingest';
import type { ContainerLogsPort } from './ingest-port';
import { startAppLogRetention, type RetentionSettings } from './retention';
import { appLogRoutes } from './routes';
import { createAppScope } from './scope';
import { TailHub } from './tail';

export interface AppLogs {
  port: ContainerLogsPort;
  router: Router;
  store: LogCenterStore;
  retention: RetentionSettings;
  stop(): void;
}

export function createAppLogs(ctx: MasterContext): AppLogs {
  const file = join(ctx.config.dataDir, 'container-logs.db');
  // FTS indexing on a worker thread into container-logs.db-fts (the store's README section: 1.45x the ingest
  // rate of inline indexing in the same run); partitions of an older file stay indexed inline.
  const store = openLogCenter({
    file,
    ftsIndexing: 'worker',
    onWorkerError: (message) => ctx.log.error({ part: 'logcenter' }, `log center ${message} (searches stay complete: unindexed rows are in the pending index, bounded in memory, beyond it in container-logs.db-pending)`),
  });
  let tails: TailHub | undefined;
  const ingest = createIngest(ctx, store, (apps) => tails?.stored(apps));
  // Admins also see apps no job deploys (opted in by label): every app with stored entries.
  const scope = createAppScope(ctx, () => store.apps());
  tails = new TailHub(ctx, store, scope);
  const retention = startAppLogRetention(ctx, store);
  return {
    port: ingest,
    router: appLogRoutes(store, scope, tails, retention),
    store,
    retention,
    stop() {
      retention.stop();
      tails?.close();
      store.close();
    },
  };
}
