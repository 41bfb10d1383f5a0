/**
 * Deployment history, pending approvals and rollback: `deployments [--app A] [--environment E]`, `approvals`,
 * `rollback APP --environment E`.
 */
import type { Command } from 'commander';
import { sessionClient } from '../lib/client';
import { followBuild } from '../lib/follow';
import { formatTime, parseIntOption, printJson, printTable } from '../lib/output';

export function registerDeploymentCommands(program: Command): void {
  program
    .command('deployments')
    .description('deployment history of the apps of your teams, newest first')
    .option('--app <app>', 'only this app')
    .option('--environment <env>', 'only this environment')
    .option('--limit <n>', 'how many', '20')
    .option('--json', 'machine-readable output (with the compose file applied)')
    .action(async (flags: { app?: string; environment?: string; limit: string; json?: boolean }) => {
      const list = await sessionClient().listDeployments({ app: flags.app, environment: flags.environment, limit: Number(flags.limit) || 20 });
      if (flags.json) return printJson(list);
      printTable(
        ['ID', 'APP', 'ENV', 'IMAGE', 'BUILD', 'BY', 'APPROVED', 'RESULT', 'INSTANCES', 'WHEN'],
        list.map((d) => [
          d.id,
          d.app,
          d.environment,
          d.image,
          `${d.job}#${d.buildNumber}`,
          d.triggeredBy,
          d.approvedBy ?? '-',
          d.failure ? 'failed, rolled back' : 'deployed',
          d.instances.join(' ') || '-',
          formatTime(d.createdAt),
        ]),
      );
      // Why the newest failures failed (the whole text is in --json and the build's log).
      for (const d of list.filter((x) => x.failure).slice(0, 3)) process.stdout.write(`\n#${d.id} ${d.app} in ${d.environment}: ${d.failure!.split('\n').slice(0, 6).join('\n  ')}\n`);
    });

  program
    .command('approvals')
    .description('open approval gates of your teams\' builds and those you may decide (approve or reject them with `approve ID`)')
    .option('--json', 'machine-readable output')
    .action(async (flags: { json?: boolean }) => {
      const list = await sessionClient().listApprovals();
      if (flags.json) return printJson(list);
      printTable(
        ['BUILD', 'JOB', 'STAGE', 'ENV', 'YOU MAY DECIDE', 'WAITING SINCE', 'EXPIRES', 'WHO MAY'],
        list.map((a) => [a.buildId, `${a.job}#${a.number}`, a.stage, a.environment, a.mayDecide ? 'yes' : 'no', formatTime(a.createdAt), formatTime(a.expiresAt), a.required]),
      );
    });

  program
    .command('rollback <app>')
    .description('deploy the previous image of APP to an environment again (a new build re-running only the deploy stage that made it)')
    .requiredOption('--environment <env>', 'environment')
    .option('-f, --follow', 'follow the build until it ends; exit 1 unless it succeeded')
    .option('--json', 'machine-readable output')
    .action(async (app: string, flags: { environment: string; follow?: boolean; json?: boolean }) => {
      const client = sessionClient();
      const build = await client.rollback({ app, environment: flags.environment });
      if (flags.json) printJson(build);
      else process.stdout.write(`build ${build.id} (${build.job}#${build.number}) ${build.status}: rolling ${app} in ${flags.environment} back to ${String(build.trigger.image)}\n`);
      if (flags.follow) {
        const status = await followBuild(client, build.id, process.stdout);
        process.stderr.write(`==> build ${build.id} ${status}\n`);
        process.exitCode = status === 'success' ? 0 : 1;
      }
    });

  program
    .command('scale <app>')
    .description('scale APP in an environment to N instances without touching the ones kept (a new build re-running its deploy stage)')
    .requiredOption('--environment <env>', 'environment')
    .requiredOption('--replicas <n>', 'instances wanted', parseIntOption('--replicas'))
    .option('-f, --follow', 'follow the build until it ends; exit 1 unless it succeeded')
    .option('--json', 'machine-readable output')
    .action(async (app: string, flags: { environment: string; replicas: number; follow?: boolean; json?: boolean }) => {
      const client = sessionClient();
      const build = await client.scale({ app, environment: flags.environment, replicas: flags.replicas });
      if (flags.json) printJson(build);
      else process.stdout.write(`build ${build.id} (${build.job}#${build.number}) ${build.status}: scaling ${app} in ${flags.environment} to ${flags.replicas}\n`);
      if (flags.follow) {
        const status = await followBuild(client, build.id, process.stdout);
        process.stderr.write(`==> build ${build.id} ${status}\n`);
        process.exitCode = status === 'success' ? 0 : 1;
      }
    });

  program
    .command('down <app>')
    .description('remove APP from an environment: its instances are deregistered, stopped and removed (a scale to 0)')
    .requiredOption('--environment <env>', 'environment')
    .option('-f, --follow', 'follow the build until it ends; exit 1 unless it succeeded')
    .action(async (app: string, flags: { environment: string; follow?: boolean }) => {
      const client = sessionClient();
      const build = await client.scale({ app, environment: flags.environment, replicas: 0 });
      process.stdout.write(`build ${build.id} (${build.job}#${build.number}) ${build.status}: removing ${app} from ${flags.environment}\n`);
      if (flags.follow) {
        const status = await followBuild(client, build.id, process.stdout);
        process.stderr.write(`==> build ${build.id} ${status}\n`);
        process.exitCode = status === 'success' ? 0 : 1;
      }
    });
}
