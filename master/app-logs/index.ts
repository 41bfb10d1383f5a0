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
  const store = openLogCenter({ file });
  // Apps with stored logs (read at open, so apps no job deploys stay searchable after a restart) and later ones.
  const known = () => store.apps();
  let tails: TailHub | undefined;
  const ingest = createIngest(ctx, store, (apps) => tails?.stored(apps));
  const scope = createAppScope(ctx, () => [...known(), ...ingest.apps]);
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
