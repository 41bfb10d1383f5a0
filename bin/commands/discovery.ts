/**
 * `slipway instances` (the registered instances of the apps your teams deploy, read by the master from etcd,
 * with a TCP probe from the master) and `slipway edges` (agents running the edge service: state, reloads,
 * last error).
 */
import type { Command } from 'commander';
import { sessionClient } from '../lib/client';
import { formatTime, printJson, printTable } from '../lib/output';

export function registerDiscoveryCommands(program: Command): void {
  program
    .command('instances')
    .description('registered instances of the apps your teams deploy (from etcd), reachable from the master or not')
    .option('--app <app>', 'one app')
    .option('--environment <env>', 'one environment')
    .option('--json', 'machine-readable output')
    .action(async (f: { app?: string; environment?: string; json?: boolean }) => {
      const list = await sessionClient().listInstances({ app: f.app, environment: f.environment });
      if (f.json) return printJson(list);
      printTable(
        ['APP', 'ENVIRONMENT', 'JOB', 'INSTANCE', 'REACHABLE'],
        list.flatMap((a) => (a.instances.length ? a.instances.map((i) => [a.app, a.environment, a.job, i.address, i.reachable ? 'yes' : `no: ${i.detail}`]) : [[a.app, a.environment, a.job, '-', '-']])),
      );
    });
  program
    .command('edges')
    .description('agents running the edge service: state, reloads, last error')
    .option('--json', 'machine-readable output')
    .action(async (f: { json?: boolean }) => {
      const list = await sessionClient().listEdges();
      if (f.json) return printJson(list);
      printTable(
        ['AGENT', 'ENVIRONMENT', 'STATE', 'RELOADS', 'REFUSED', 'INSTANCES', 'DETAIL', 'CHECKED'],
        list.map((e) => [e.agent, e.environment, e.state, String(e.facts.reloads ?? '-'), String(e.facts.refused ?? '-'), String(e.facts.instances ?? '-'), e.detail, formatTime(e.at)]),
      );
    });
}
