/**
 * The engine half of the master: queue and scheduler, agent gateway, records (logs + step events),
 * log store and search, client stream, builds and artifacts API, cron triggers, retention.
 *
 * Contract with the platform half (master/index.ts):
 *  - createEngine(ctx) is called once the store and context exist.
 *  - `agentRouter` is mounted at /api/v1/agent BEFORE user authentication (it checks agent tokens itself).
 *  - `router` is mounted at /api/v1 AFTER user authentication: req.principal is always set there.
 *  - attach(server) is called once the HTTP(S) server exists, to handle WebSocket upgrades on /ws/agent and
 *    /api/v1/stream (the platform never handles upgrades).
 *  - stop() closes sockets and timers and flushes pending log writes; the platform closes the db after it.
 */
import type { Router } from 'express';
import type { Server } from 'node:http';
import type { MasterContext } from '../context';

export interface Engine {
  agentRouter: Router;
  router: Router;
  attach(server: Server): void;
  stop(): Promise<void>;
}

export function createEngine(ctx: MasterContext): Engine {
  throw new Error(`engine not built yet (${ctx.config.dataDir})`);
}
