/**
 * The Slipway agent: connects to the master (connection.ts), runs the stages it is assigned (runner.ts,
 * stage-run.ts) through StepExecutor plugins (executors/), ships their logs with replay and secret masking
 * (log-shipper.ts, record-log.ts), moves artifacts (artifacts.ts) and keeps builds apart (workspace.ts: one
 * build user per job when root, build-users.ts).
 *
 * startAgent resolves once the master accepted the agent's first hello and rejects when the master refuses it
 * for a reason retrying cannot fix (bad token, protocol version, environment). A master that is not up yet is
 * retried with backoff. stop() drains: it tells the master, finishes current work, waits (bounded) for the
 * master to acknowledge every record, then closes. With autoUpgrade (the bundle only) the agent follows the
 * master's agent bundle version (self-upgrade.ts): drain, verified download, exit 75 to be restarted.
 */
import { pino, type Logger } from 'pino';
import { builtinExecutors, executorSettings, type ExecutorRegistry } from './executors/registry';
import { resolveConfig, type AgentConfig, type AgentOptions } from './config';
import { Connection } from './connection';
import { probeCapabilities } from './capabilities/probes';
import { ServiceHost, ServiceSettingsError } from './services/host';
import { positionInAgentFile } from './agent-file';
import { DeployHooksSlot } from './services/types';
import { ServiceChannel } from './services/channel';
import { Runner } from './runner';
import { PluginManager } from './plugins/manager';
import { BuildUsers } from './build-users';
import { Workspaces } from './workspace';
import { AGENT_VERSION, IS_BUNDLE } from './version';
import { SelfUpgrade, UPGRADE_EXIT_CODE } from './self-upgrade';
import { fileURLToPath } from 'node:url';
import { CloseCode } from '../shared/protocol';

export type { AgentOptions } from './config';

export { AGENT_VERSION } from './version';
/** How long stop() waits for the master to acknowledge the last records. */
const SETTLE_TIMEOUT_MS = 15_000;

export interface RunningAgent {
  /** Drain then close: no new work, current stages finish, records are acknowledged (bounded wait). */
  stop(): Promise<void>;
  /** Resolves when the agent has stopped, by stop() or because the master refused it for good. */
  readonly stopped: Promise<void>;
  readonly config: Readonly<Omit<AgentConfig, 'token'>>;
}

export async function startAgent(options: AgentOptions, extra: { executors?: ExecutorRegistry; log?: Logger } = {}): Promise<RunningAgent> {
  const config = resolveConfig(options);
  const log = extra.log ?? pino({ name: `agent ${config.name}`, level: process.env.SLIPWAY_LOG_LEVEL ?? 'info' }, pino.destination(2));
  // Services are created (settings validated) before anything starts: a bad section fails the start.
  const host = { docker: config.file.docker, etcd: config.file.etcd, nginx: config.file.nginx };
  const deployHooks = new DeployHooksSlot();
  // The connection is made below; the channel reaches it through this late-bound transport.
  const channel: ServiceChannel = new ServiceChannel({
    get ready(): boolean {
      return connection.ready;
    },
    get bufferedAmount(): number {
      return connection.bufferedAmount;
    },
    sendText: (json) => connection.sendText(json),
  });
  let services: ServiceHost;
  try {
    services = new ServiceHost(
      config.file.services,
      { workDir: config.workDir, log, host, deployHooks, environment: config.environment, master: channel, agentName: config.name },
      log,
      undefined,
      config.serviceIntervalMs,
    );
  } catch (e) {
    // Name the file, line and field, like every other mistake in the agent file.
    if (e instanceof ServiceSettingsError && options.configFile) {
      throw new Error(`${options.configFile}${positionInAgentFile(options.configFile, e.path)}: ${e.path.map(String).join('.')}: ${e.issue}`);
    }
    throw e;
  }
  const executors = extra.executors ?? builtinExecutors();
  const settings = executorSettings(executors, config.file.executors, options.configFile ?? 'agent config');
  const needed = executors.list().flatMap((e) => executors.get(e.kind)?.def.capabilities ?? []);
  // The probes (a Docker API call, `nginx -v`...) run while the workspaces open and the socket connects; the
  // first hello waits for them (agent_start_ms).
  const probing = probeCapabilities(needed, config.file).then((capabilities) => {
    for (const e of executors.list().filter((x) => !x.scanner)) {
      const missing = (executors.get(e.kind)?.def.capabilities ?? []).filter((c) => !capabilities.find((x) => x.name === c)?.ok);
      // Still registered: the master will not assign its stages here, and the agent says why once.
      if (missing.length) log.warn({ kind: e.kind, missing }, `step kind '${e.kind}' needs ${missing.join(', ')}, not available on this host`);
    }
    log.info({ capabilities: capabilities.filter((c) => c.ok).map((c) => c.name) }, 'capabilities probed');
    return capabilities;
  });
  const workspaces = await Workspaces.open(config.workDir, BuildUsers.ifRoot(), {
    retentionDays: config.workspaceDays,
    onSweep: (removed, err) => {
      if (err) log.warn({ err: err.message }, 'removing old job workspaces failed');
      else if (removed.length) log.info({ removed }, 'old job workspaces removed');
    },
  });

  let runner!: Runner;
  // Third-party plugins: the master names them after accept; each change is reported with the executors.
  const plugins = new PluginManager({
    registry: executors,
    endpoint: { url: config.url, token: config.token, ca: config.ca },
    workDir: config.workDir,
    log,
    onChange: () => connection.sendText(JSON.stringify({ type: 'agent:plugins', plugins: plugins.states(), executors: executors.list() })),
  });
  let upgrade: SelfUpgrade | undefined;
  /** The version the agent drains to upgrade to (sent with agent:state). */
  let upgradingTo: string | undefined;
  const sendState = () => connection.sendText(JSON.stringify({ type: 'agent:state', draining: runner.draining, ...(upgradingTo ? { upgradingTo } : {}) }));
  let resolveStart!: () => void;
  let rejectStart!: (e: Error) => void;
  const started = new Promise<void>((res, rej) => {
    resolveStart = res;
    rejectStart = rej;
  });
  let resolveStopped!: () => void;
  const stopped = new Promise<void>((res) => (resolveStopped = res));

  const connection: Connection = new Connection(
    config,
    {
      hello: async () => {
        const capabilities = await probing;
        return { executors: executors.list(), running: runner.running(), capabilities, services: services.list(), plugins: plugins.states() };
      },
      onAccepted: (msg) => {
        runner.onAccepted(msg);
        channel.accepted(msg.maxFrameBytes);
        if (runner.draining) sendState();
        resolveStart();
        // A master upgrade restarts the master, so every agent reconnects: the moment to compare versions.
        if (!stopping) void upgrade?.check();
      },
      onMessage: (msg) => runner.handle(msg),
      onPlugins: (wanted) => void plugins.sync(wanted),
      onContainerLogsAck: (msg) => channel.ack(msg),
      onDisconnected: () => channel.lost(),
      leases: () => runner.leases(),
      busy: () => runner.activeCount,
      onFatal: (reason, code) => {
        log.error(reason);
        // Refused for its protocol version: a bundle agent can still catch up with the master's bundle.
        if (upgrade && code === CloseCode.ProtocolVersion) {
          void upgrade.check(false).then((restarting) => restarting || fatal(reason));
          return;
        }
        fatal(reason);
      },
    },
    log,
    AGENT_VERSION,
  );
  /** A refusal retrying cannot fix: stop everything (exit 1 when the agent owns its process). */
  const fatal = (reason: string) => {
    runner.cancelAll(reason, config.killGraceMs);
    void services.stop();
    rejectStart(new Error(reason));
    resolveStopped();
    if (config.ownProcess) {
      process.stderr.write(`slipway agent ${config.name}: ${reason}\n`);
      process.exit(1);
    }
  };
  runner = new Runner(
    {
      capacity: config.capacity,
      executors,
      workspaces,
      endpoint: { url: config.url, token: config.token, ca: config.ca },
      log,
      killGraceMs: config.killGraceMs,
      keepWorkspaces: config.keepWorkspaces,
      executorSettings: settings,
      host,
      environment: config.environment,
      agentName: config.name,
      deployHooks,
      masterSilentMs: () => Date.now() - connection.lastHeardAt,
    },
    connection,
    log,
    () => connection.heartbeat(),
  );

  if (options.autoUpgrade && !IS_BUNDLE) log.warn('--auto-upgrade is ignored: only the agent bundle (npm run build) can replace itself');
  if (options.autoUpgrade && IS_BUNDLE) {
    upgrade = new SelfUpgrade({
      url: config.url,
      ca: config.ca,
      version: AGENT_VERSION,
      bundlePath: fileURLToPath(import.meta.url),
      log,
      drain: (version) => {
        upgradingTo = version;
        runner.draining = true;
        sendState();
      },
      undrain: () => {
        upgradingTo = undefined;
        if (stopping) return;
        runner.draining = false;
        sendState();
      },
      idle: async () => {
        await runner.idle();
        await runner.settled(SETTLE_TIMEOUT_MS);
      },
      restart: async () => {
        await services.stop();
        await connection.close();
        workspaces.close();
        resolveStopped();
        if (config.ownProcess) process.exit(UPGRADE_EXIT_CODE);
      },
    });
    upgrade.start();
  }

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      runner.draining = true;
      upgrade?.stop();
      sendState();
      log.info('draining: finishing current work');
      await runner.idle();
      await runner.settled(SETTLE_TIMEOUT_MS);
      // Stopped before the connection closes, so the master hears their final 'stopped'.
      await services.stop();
      await connection.close();
      workspaces.close();
      resolveStopped();
    })();
    return stopping;
  };

  if (config.ownProcess) {
    const onSignal = (signal: NodeJS.Signals) => {
      log.info(`${signal}: stopping`);
      void stop().then(() => process.exit(0));
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  }

  await services.start((list) => connection.sendText(JSON.stringify({ type: 'agent:services', services: list })));
  connection.start();
  await started;
  const { token: _token, ...visible } = config;
  return { stop, stopped, config: visible };
}
