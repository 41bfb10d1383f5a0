/**
 * `slipway job ...`: acting on one job by reference (its name, or TEAM/NAME when several of your teams have a
 * job of that name). `job move` gives a job to another team with its id, builds and trigger history
 * (POST /api/v1/jobs/:job/move); applying a file with another `team:` never moves a job, it creates one.
 * `job delete` disables a job (DELETE /api/v1/jobs/:job): it no longer runs, its history stays.
 */
import type { Command } from 'commander';
import { sessionClient } from '../lib/client';
import { printJson } from '../lib/output';

export function registerJobCommands(program: Command): void {
  const job = program.command('job').description('act on one job (JOB: its name, or TEAM/NAME)');
  job
    .command('move <job>')
    .description("move a job to another team, keeping its builds and history (maintainer of the job's team, developer or more in the target team)")
    .requiredOption('--team <team>', 'the team to move the job to')
    .option('--json', 'machine-readable output')
    .action(async (ref: string, flags: { team: string; json?: boolean }) => {
      const moved = await sessionClient().moveJob(ref, flags.team);
      if (flags.json) return printJson(moved);
      process.stdout.write(`job ${moved.name} moved to team ${moved.team} (${moved.team}/${moved.name})\n`);
    });
  job
    .command('delete <job>')
    .description("disable a job: it no longer runs; its builds and history stay (maintainer of the job's team)")
    .action(async (ref: string) => {
      await sessionClient().deleteJob(ref);
      process.stdout.write(`job ${ref} disabled (its history is kept)\n`);
    });
}
