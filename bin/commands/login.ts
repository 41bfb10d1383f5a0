/** `slipway login`: exchanges a username and password for a JWT and stores it with the master URL. */
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { ApiClient } from '../../shared/client/api-client';
import { badRequest } from '../../shared/errors';
import { configPath, readConfig, writeConfig } from '../lib/config-file';

/** Reads a password from the terminal without echoing it, or one line from piped stdin. */
async function readPassword(prompt: string): Promise<string> {
  if (!process.stdin.isTTY) {
    const rl = createInterface({ input: process.stdin });
    for await (const line of rl) {
      rl.close();
      return line;
    }
    throw badRequest('no password: pass --password or pipe it on stdin');
  }
  process.stderr.write(prompt);
  const stdin = process.stdin;
  stdin.setRawMode(true);
  stdin.resume();
  return new Promise((resolve, reject) => {
    let value = '';
    const onData = (buf: Buffer) => {
      for (const ch of buf.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          done();
          process.stderr.write('\n');
          return resolve(value);
        }
        if (ch === '\u0003') {
          done();
          return reject(badRequest('login interrupted'));
        }
        if (ch === '\u007f') value = value.slice(0, -1);
        else value += ch;
      }
    };
    const done = () => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
    };
    stdin.on('data', onData);
  });
}

export function registerLoginCommand(program: Command): void {
  program
    .command('login')
    .description('log in to a master and store the session in ~/.config/slipway/config.json ($SLIPWAY_CONFIG)')
    .option('--url <url>', 'master URL (default: the stored one or $SLIPWAY_URL)')
    .requiredOption('--user <name>', 'username')
    .option('--password <password>', 'password (default: prompt, or one line from stdin)')
    .action(async (flags: { url?: string; user: string; password?: string }) => {
      const path = configPath();
      const url = flags.url || process.env.SLIPWAY_URL || readConfig(path).url;
      if (!url) throw badRequest('--url is required for the first login');
      if (!/^https?:\/\//.test(url)) throw badRequest(`--url must start with http:// or https://, got ${url}`);
      const password = flags.password ?? (await readPassword(`password for ${flags.user}: `));
      const res = await new ApiClient({ url }).login(flags.user, password);
      writeConfig(path, { url: url.replace(/\/+$/, ''), token: res.token, user: res.user.username });
      process.stdout.write(`logged in to ${url} as ${res.user.username}${res.user.isAdmin ? ' (admin)' : ''}\n`);
    });
}
