/**
 * `slipway master start` (and, re-exported from agent-start.ts, `slipway agent start`): the only place that
 * starts the master and the agent processes. The master runs until SIGINT or SIGTERM, which calls stop(); a second signal exits at once.
 * The agent handles its own signals (drain, then exit). The master and agent modules are imported lazily so that client commands never load them.
 */
import type { Command } from 'commander';
import { badRequest } from '../../shared/errors';
import { keepRunningWhenOutputCloses, parseIntOption } from '../lib/output';
import type { MasterOptions } from '../../master/index';

// `agent start` lives in its own file, so that the agent bundle (bin/slipway-agent.ts) never pulls in the master.
export { registerAgentStartCommand, resolveAgentToken } from './agent-start';

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
