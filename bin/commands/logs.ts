/**
 * `slipway logs BUILD [-f]`: the stored log, or the live log until the build ends.
 * `slipway search WORDS... [--job JOB]`: full-text search over the stored logs of your teams' builds.
 */
import type { Command } from 'commander';
import { parseId, sessionClient } from '../lib/client';
import { followBuild } from '../lib/follow';
import { parseIntOption, printJson } from '../lib/output';

export function registerLogsCommand(program: Command): void {
  program
    .command('logs <build>')
    .description("print a build's log; with -f follow it live and exit 0 only if the build succeeded")
    .option('-f, --follow', 'follow until the build ends')
    .action(async (build: string, flags: { follow?: boolean }) => {
      const id = parseId('build id', build);
      const client = sessionClient();
      if (flags.follow) {
        const status = await followBuild(client, id, process.stdout);
        process.stderr.write(`==> build ${id} ${status}\n`);
        process.exitCode = status === 'success' ? 0 : 1;
        return;
      }
      process.stdout.write(await client.buildLog(id));
    });

  program
    .command('search <words...>')
    .description("search the stored logs of your teams' builds (every word must match), newest first")
    .option('--job <job>', 'only builds of this job (its name, or TEAM/NAME when several of your teams have a job of that name)')
    .option('--limit <n>', 'at most this many matching chunks (1-200)', parseIntOption('--limit'), 50)
    .option('--json', 'machine-readable output')
    .action(async (words: string[], flags: { job?: string; limit: number; json?: boolean }) => {
      const hits = await sessionClient().searchLogs(words.join(' '), { job: flags.job, limit: flags.limit });
      if (flags.json) return printJson(hits);
      for (const h of hits) {
        process.stdout.write(`build ${h.buildId} (${h.team}/${h.job}#${h.number}) stage ${h.stage}\n`);
        for (const line of h.lines) process.stdout.write(`  ${line}\n`);
      }
      if (!hits.length) process.stderr.write('no match\n');
    });
}
