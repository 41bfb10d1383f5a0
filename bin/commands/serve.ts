/**
 * `slipway master start` and `slipway agent start`: the only place that starts the master and the agent
 * processes. The master runs until SIGINT or SIGTERM, which calls stop(); a second signal exits at once.
 * The agent handles its own signals (drain, then exit). The master and agent modules are imported lazily so that client commands never load them.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { badRequest } from '../../shared/errors';
import { keepRunningWhenOutputCloses, parseIntOption } from '../lib/output';
import type { MasterOptions } from '../../master/index';

/** Keeps the process alive until a signal, then stops the service and exits. */
function stopOnSignal(what: string, stop: () => Promise<void>): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      process.stderr.write(`slipway ${what}: ${signal} again, exiting now\n`);
      process.exit(1);
    }
    stopping = true;
    process.stderr.write(`slipway ${what}: ${signal}, stopping\n`);
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`slipway ${what}: stop failed: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

/** The flags of `master start` are the master's options, minus the first-start admin password (env only). */
type MasterStartFlags = Omit<MasterOptions, 'adminPassword'>;

interface AgentStartFlags {
  url: string;
  token?: string;
  tokenFile?: string;
  name?: string;
  environment: string;
  labels?: string;
  capacity?: number;
  workDir?: string;
  caFile?: string;
  workspaceDays?: number;
  config?: string;
  service: string[];
  capability: string[];
}

/** The agent token from --token, --token-file or SLIPWAY_AGENT_TOKEN (in that order). */
export function resolveAgentToken(flags: { token?: string; tokenFile?: string }, env = process.env): string {
  if (flags.token) return flags.token;
  if (flags.tokenFile) {
    let text: string;
    try {
      text = readFileSync(flags.tokenFile, 'utf8');
    } catch (err) {
      throw badRequest(`cannot read --token-file ${flags.tokenFile}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    const token = text.trim();
    if (!token) throw badRequest(`--token-file ${flags.tokenFile} is empty`);
    return token;
  }
  if (env.SLIPWAY_AGENT_TOKEN) return env.SLIPWAY_AGENT_TOKEN.trim();
  throw badRequest('an agent token is required: --token, --token-file or SLIPWAY_AGENT_TOKEN');
}

export function registerMasterCommands(program: Command): void {
  const master = program.command('master').description('run the master');
  master
    .command('start')
    .description('start the master (HTTP API, agent gateway, scheduler) in the foreground')
    .option('--data-dir <dir>', 'data directory (default $SLIPWAY_DATA_DIR or ./data)')
    .option('--host <host>', 'address to listen on (default $SLIPWAY_HOST or 127.0.0.1)')
    .option('--port <port>', 'port to listen on, 0 = any free port (default $SLIPWAY_PORT or 8080)', parseIntOption('--port'))
    .option('--jobs-dir <dir>', 'directory whose *.yml job files are applied at start')
    .option('--tls-cert <file>', 'PEM certificate: serve HTTPS and WSS')
    .option('--tls-key <file>', 'PEM private key for --tls-cert')
    .option(
      '--allow-local-repos <dir>',
      'jobs may use local repositories (path or file:// repo.url) under this directory; repeatable (default $SLIPWAY_ALLOW_LOCAL_REPOS, else none)',
      (dir: string, prev?: string[]) => [...(prev ?? []), dir],
    )
    .option('--etcd <urls>', 'etcd client URLs (comma-separated) where agents register instances, for `slipway instances` (default $SLIPWAY_ETCD)')
    .action(async (flags: MasterStartFlags) => {
      if (!!flags.tlsCert !== !!flags.tlsKey) throw badRequest('--tls-cert and --tls-key go together');
      keepRunningWhenOutputCloses();
      const { startMaster } = await import('../../master/index');
      const running = await startMaster(flags);
      stopOnSignal('master', () => running.stop());
    });
}

export function registerAgentStartCommand(agent: Command): void {
  agent
    .command('start')
    .description('run an agent bound to one environment in the foreground')
    .requiredOption('--url <url>', 'http(s) URL of the master')
    .option('--token <token>', 'agent token (prefer --token-file or $SLIPWAY_AGENT_TOKEN: argv is visible to other users)')
    .option('--token-file <file>', 'file holding the agent token')
    .option('--name <name>', 'agent name, unique within its environment (default: the host name)')
    .requiredOption('--environment <env>', 'environment the token is bound to')
    .option('--labels <a,b>', 'comma-separated labels stages may require')
    .option('--capacity <n>', 'stages run at once (default 1)', parseIntOption('--capacity'))
    .option('--work-dir <dir>', 'where build workspaces live')
    .option('--ca-file <file>', 'PEM CA to trust for an https master')
    .option('--workspace-days <n>', 'remove job workspaces unused for more than n days (default $SLIPWAY_WORKSPACE_DAYS or 7)', parseIntOption('--workspace-days'))
    .option('--config <agent.yml>', 'agent config file: docker/etcd/nginx settings, declared capabilities, executor and service settings (README)')
    .option('--service <name>', 'run this agent service with default settings, e.g. disk-space (repeatable)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--capability <name>', 'declare a host capability without probing it, e.g. docker (repeatable)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .action(async (flags: AgentStartFlags) => {
      if (!/^https?:\/\//.test(flags.url)) throw badRequest(`--url must start with http:// or https://, got ${flags.url}`);
      const token = resolveAgentToken(flags);
      const labels = (flags.labels ?? '')
        .split(',')
        .map((l) => l.trim())
        .filter(Boolean);
      keepRunningWhenOutputCloses();
      const { startAgent } = await import('../../agent/index');
      // The agent owns its process (ownProcess defaults to true): it drains on SIGTERM/SIGINT and exits 1 on a
      // refusal it cannot recover from (bad token, protocol version), so there is no signal handler here.
      await startAgent({
        url: flags.url,
        token,
        name: flags.name ?? hostname(),
        environment: flags.environment,
        labels,
        capacity: flags.capacity ?? 1,
        workDir: flags.workDir,
        caFile: flags.caFile,
        workspaceDays: flags.workspaceDays,
        configFile: flags.config,
        services: flags.service,
        capabilities: flags.capability,
      });
    });
}
