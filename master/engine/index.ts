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
 *
 * Inside: engine-core (this folder except logs/, stream/, artifacts/) and engine-logs meet in LogStore and
 * StreamHub. At start, running stage runs get a fresh lease (a master restart must not cost agents their
 * work: they reconnect and resume) and agents are 'offline' until they say hello again.
 */
import { Router } from 'express';
import type { Server } from 'node:http';
import type { MasterContext } from '../context';
import { artifactRoutes } from './artifacts/routes';
import { agentRoutes } from './agents/routes';
import { createReportIngest } from './reports/ingest';
import { qualityRoutes } from './reports/routes';
import { startNotifier } from '../notify/notifier';
import { teamNotifierRoutes } from '../notify/routes';
import { reportParsers } from '../reports';
import { createReportParsePool } from '../reports/parse-pool';
import type { EnginePort } from '../webhooks/pipeline';
import { createTriggerPort } from './builds/create-build';
import { buildRoutes } from './builds/routes';
import { approvalRoutes } from './builds/approval-routes';
import { deploymentRoutes } from './deployments/routes';
import { createCore } from './core';
import { createAgentGateway } from './gateway/agent-gateway';
import { startSweeper } from './leases/sweeper';
import { createLogStore } from './logs/log-store';
import { logRoutes } from './logs/routes';
import { createRecordBatcher } from './records/record-batcher';
import { startRetention } from './retention';
import { createDispatcher } from './scheduler/dispatcher';
import { createStreamHub } from './stream/hub';
import { startCron } from './triggers/cron';
import { triggerRoutes } from './triggers/routes';
import { startStatusReporter } from '../status/reporter';
import { RECONNECT_MAX_MS } from '../../shared/protocol';
import { createMasterGit } from '../git';
import { startPoller } from '../triggers/poll';
import { createPushPipeline } from '../webhooks/pipeline';
import { agentsStore } from '../store/agents';
import { pluginAgentRoutes, pluginRoutes } from '../plugins/routes';
import { buildsStore } from '../store/builds';
import { createAppLogs } from '../app-logs';

export interface Engine {
  agentRouter: Router;
  router: Router;
  attach(server: Server): void;
  stop(): Promise<void>;
  /** Build creation for the push pipeline (webhooks and polling; master/webhooks/pipeline.ts). */
  triggerPort: EnginePort;
}

export function createEngine(ctx: MasterContext): Engine {
  const now = Date.now();
  buildsStore(ctx.db).extendAllLeases(now + ctx.config.leaseTtlMs);
  agentsStore(ctx.db).allOffline();

  const logs = createLogStore(ctx);
  const hub = createStreamHub(ctx, logs);
  let dispatch = () => 0;
  const core = createCore(ctx, logs, hub, () => void dispatch());
  dispatch = createDispatcher(core).dispatch;
  const records = createRecordBatcher(core);
  // Container logs of deployed apps: their own store file, fed by agents through the gateway.
  const appLogs = createAppLogs(ctx);
  const gateway = createAgentGateway(core, records, appLogs.port);
  const sweeper = startSweeper(core);
  const cron = startCron(core);
  const retention = startRetention(core);
  // target_url of commit statuses: the configured public URL, else the address the server listens on.
  let listenUrl = `${ctx.config.tls ? 'https' : 'http'}://${ctx.config.host}:${ctx.config.port}`;
  const statusReporter = startStatusReporter(core, { baseUrl: () => ctx.config.publicUrl ?? listenUrl });
  const notifier = startNotifier(core, { baseUrl: () => ctx.config.publicUrl ?? listenUrl });
  // The poller feeds its own instance of the push pipeline (stateless beyond the store) through the trigger port.
  const triggerPort = createTriggerPort(core);
  const poller = startPoller(ctx, createMasterGit(ctx), createPushPipeline(ctx, triggerPort));
  logs.start();

  const parsers = reportParsers();
  const reportIngest = createReportIngest(
    core.reports,
    parsers,
    createReportParsePool(parsers, { onFallback: (why) => ctx.log.warn(`report parser worker unavailable (${why}): parsing reports on the main thread`) }),
  );
  const artifacts = artifactRoutes(ctx, reportIngest);
  const router = Router();
  router.use(buildRoutes(core));
  router.use(approvalRoutes(core));
  router.use(deploymentRoutes(core));
  router.use(agentRoutes(core, gateway));
  router.use(logRoutes(ctx, logs));
  router.use(artifacts.router);
  router.use(qualityRoutes(core));
  router.use(teamNotifierRoutes(ctx));
  router.use(triggerRoutes(ctx));
  router.use(pluginRoutes(core));
  const agentRouter = Router();
  agentRouter.use(artifacts.agentRouter, pluginAgentRoutes(ctx));
  router.use(appLogs.router);
  // Queued work from before a restart waits for agents; a pass now is harmless and picks it up once they connect.
  core.requestDispatch();

  let stopped = false;
  return {
    agentRouter,
    router,
    triggerPort,
    attach(server) {
      // Agents reconnect with a backoff of up to RECONNECT_MAX_MS: the leases of stages that ran when the
      // master went down last until each agent has had its chance, counted from now that the master listens
      // (a slow start must not eat the window; regression: the short-form "master down > lease" case).
      buildsStore(ctx.db).extendLeasesBefore(Date.now() + ctx.config.leaseTtlMs + RECONNECT_MAX_MS);
      const addr = server.address();
      if (addr && typeof addr === 'object') {
        const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
        listenUrl = `${ctx.config.tls ? 'https' : 'http'}://${host}:${addr.port}`;
      }
      server.on('upgrade', (req, socket, head) => {
        const path = (req.url ?? '').split('?')[0];
        if (path === '/ws/agent') gateway.handleUpgrade(req, socket, head);
        else if (path === '/api/v1/stream') hub.handleUpgrade(req, socket, head);
        else socket.destroy();
      });
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      core.stopped = true;
      cron.stop();
      statusReporter.stop();
      notifier.stop();
      poller.stop();
      sweeper.stop();
      retention.stop();
      records.flush();
      gateway.close();
      hub.close();
      appLogs.stop();
      logs.stop();
      await reportIngest.close();
    },
  };
}
