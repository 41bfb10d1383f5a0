/**
 * `slipway agent start`: runs an agent in the foreground. Shared by the full CLI (bin/slipway.ts) and the
 * agent-only entry (bin/slipway-agent.ts, the bundle the master serves), so this file imports nothing of the
 * master. The agent module is imported lazily so that client commands never load it.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { badRequest } from '../../shared/errors';
import { keepRunningWhenOutputCloses, parseIntOption } from '../lib/output';

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
  autoUpgrade?: boolean;
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
    .option('--auto-upgrade', 'follow the master\'s agent version: drain, download and verify its bundle, exit 75 to be restarted (the agent bundle only; the installer sets it)')
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
        autoUpgrade: flags.autoUpgrade,
      });
    });
}
