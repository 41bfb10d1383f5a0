/**
 * The master at a glance: config -> store -> platform services (auth, teams, environments, agent tokens,
 * jobs, secrets) -> MasterContext -> engine -> express app -> HTTP(S) server -> master.json.
 *
 * startMaster resolves once the server listens; it prints `slipway master listening on <url>` and writes
 * <dataDir>/master.json = {url, port, pid}. stop() is idempotent: engine, then server, then db, then
 * master.json (the CLI calls it on SIGINT/SIGTERM).
 */
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import type { Server } from 'node:http';
import { createAccessEvents } from './auth/access-events';
import { AgentTokens } from './auth/agent-tokens';
import { createAuthenticator } from './auth/authenticate';
import { createRateLimiter } from './auth/rate-limit';
import { ensureAdmin } from './auth/users';
import { createAccess } from './access';
import { adminPasswordFromEnv, ConfigError, loadConfig, type MasterOptions } from './config';
import type { MasterContext } from './context';
import { createEngine, type Engine } from './engine';
import { createApp } from './http/app';
import { listRoutes, type RouteInfo } from './route-access';
import { closeServer, listen } from './http/server';
import { loadJobFiles } from './jobs/loader';
import { JobsService } from './jobs/service';
import { PluginService } from './plugins/service';
import { RegistryStore } from './store/registries';
import { SecretStore } from './secrets/store';
import { openDb, startCheckpointer } from './store/db';
import { stopAllGit } from '../shared/node/git/run';
import type { Platform } from './api';
import { createPushPipeline } from './webhooks/pipeline';
import { webhookRoutes } from './webhooks/routes';

export type { MasterOptions } from './config';

export interface RunningMaster {
  /** http(s)://host:port */
  url: string;
  port: number;
  /** The HTTP routes with their declared access rules (master/route-access.ts; the security matrix reads it). */
  routes(): RouteInfo[];
  stop(): Promise<void>;
}

export async function startMaster(options: MasterOptions = {}): Promise<RunningMaster> {
  const config = loadConfig(options);
  const log = pino({
    name: 'slipway-master',
    level: process.env.SLIPWAY_LOG_LEVEL ?? 'info',
    // Belt and braces: credentials must never reach the log even if someone logs a whole body.
    redact: ['password', 'token', 'value', '*.password', '*.token', '*.value', 'req.headers.authorization', 'headers.authorization'],
  });
  const infoFile = join(config.dataDir, 'master.json');
  rmSync(infoFile, { force: true });

  const db = openDb(config.dataDir);
  const checkpointer = startCheckpointer(db, 1000, (message) => log.warn({ part: 'store' }, `WAL checkpoint: ${message}`));
  let engine: Engine | undefined;
  try {
    const admin = await ensureAdmin(db, options.adminPassword ?? (() => adminPasswordFromEnv())).catch((err: Error) => {
      throw err instanceof ConfigError ? err : new ConfigError(`SLIPWAY_ADMIN_PASSWORD: ${err.message}`);
    });
    const agentTokens = new AgentTokens(db);
    const plugins = new PluginService(db, config.dataDir);
    const jobs = new JobsService(db, log.child({ part: 'jobs' }), config, plugins);
    const secrets = new SecretStore(db, config.masterKey, { historyDays: config.secretHistoryDays });
    const registries = new RegistryStore(db, config.masterKey);
    const accessEvents = createAccessEvents(log.child({ part: 'access' }));
    const ctx: MasterContext = {
      config,
      db,
      log,
      access: createAccess(db),
      jobs,
      secrets,
      registries,
      plugins,
      authenticate: createAuthenticator(db, config.jwtSecret),
      authenticateAgent: (token) => agentTokens.authenticate(token),
      onAgentTokenRevoked: (listener) => agentTokens.onRevoked(listener),
      accessChanged: (change) => accessEvents.emit(change),
      onAccessChanged: (listener) => accessEvents.on(listener),
    };
    if (config.jobsDir) loadJobFiles(config.jobsDir, jobs, log.child({ part: 'jobs' }));

    engine = createEngine(ctx);
    const pf: Platform = { ctx, jobs, secrets, registries, agentTokens, loginLimiter: createRateLimiter(config.loginRateLimit.max, config.loginRateLimit.windowMs) };
    // Webhooks and the poller feed one pipeline; it creates builds through the engine's trigger port.
    const pushPipeline = createPushPipeline(ctx, engine.triggerPort);
    const app = createApp(pf, engine, webhookRoutes(pushPipeline));
    const { server, port, url } = await listen(config, app);
    // https.Server emits the same 'upgrade' events as http.Server; the engine only listens for those.
    engine.attach(server as Server);

    writeAtomic(infoFile, JSON.stringify({ url, port, pid: process.pid }));
    const publicUrl = config.publicUrl ?? url;
    console.log(`slipway master listening on ${url}`);
    if (admin) {
      console.log(
        admin.generatedPassword
          ? `created user admin with password ${admin.generatedPassword} (shown once; change it after logging in)`
          : `created user admin with the password from ${options.adminPassword ? 'the options' : process.env.SLIPWAY_ADMIN_PASSWORD_FILE ? 'SLIPWAY_ADMIN_PASSWORD_FILE' : 'SLIPWAY_ADMIN_PASSWORD'}`,
      );
      console.log(`log in with: slipway login --url ${publicUrl} --user admin`);
    }

    let stopping: Promise<void> | undefined;
    const running: RunningMaster = {
      url,
      port,
      routes: () => listRoutes(app),
      stop: () =>
        (stopping ??= (async () => {
          try {
            await engine!.stop();
          } catch (err) {
            log.error({ err }, 'engine stop failed');
          }
          // Polls and path checks may still be fetching: their rows stay and are taken up by the next start.
          stopAllGit();
          await closeServer(server);
          await checkpointer.stop();
          db.close();
          rmSync(infoFile, { force: true });
          log.info('master stopped');
          log.flush();
        })()),
    };
    return running;
  } catch (err) {
    await engine?.stop().catch(() => undefined);
    await checkpointer.stop();
    db.close();
    throw err;
  }
}

/** Readers (tests, scripts) never see a half-written file. */
function writeAtomic(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}
