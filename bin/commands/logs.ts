/** `slipway logs BUILD [-f]`: the stored log, or the live log until the build ends. */
import type { Command } from 'commander';
import { parseId, sessionClient } from '../lib/client';
import { followBuild } from '../lib/follow';

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
}
