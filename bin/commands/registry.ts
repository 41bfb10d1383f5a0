/**
 * `slipway registry add|list|rm` (image registries, admin for add and rm) and `slipway images REGISTRY`
 * (repositories and tags with digests, for members of a team the registry is granted to). A registry password
 * is read from stdin with --password-stdin, never from argv. `--prefixes TEAM=PREFIX,...` sets the repositories
 * each team may push to (shared/registry-prefixes.ts).
 */
import type { Command } from 'commander';
import { badRequest } from '../../shared/errors';
import { parsePrefixes } from '../../shared/registry-prefixes';
import { sessionClient } from '../lib/client';
import { formatTime, printJson, printTable } from '../lib/output';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

export function registerRegistryCommands(program: Command): void {
  const registry = program.command('registry').description('image registries: where image steps push and deploys pull');
  registry
    .command('add <name>')
    .description('add or replace a registry and grant it to teams (admin); its address and credentials are checked first')
    .requiredOption('--url <address>', 'host:port (http on loopback) or https://host')
    .requiredOption('--teams <teams>', 'comma-separated teams the registry is granted to')
    .option('--prefixes <grants>', 'repositories each team may push to, TEAM=PREFIX comma-separated (shop=shop/,shop=base/,web=*); default TEAM/ when several teams share the registry, * for one')
    .option('--username <user>', 'registry user')
    .option('--password-stdin', 'read the password from stdin')
    .option('--json', 'machine-readable output')
    .action(async (name: string, f: { url: string; teams: string; prefixes?: string; username?: string; passwordStdin?: boolean; json?: boolean }) => {
      if (f.passwordStdin && !f.username) throw badRequest('--password-stdin needs --username');
      const teams = f.teams.split(',').map((t) => t.trim()).filter(Boolean);
      const prefixes = f.prefixes === undefined ? undefined : parsePrefixes(f.prefixes, '--prefixes');
      const password = f.passwordStdin ? await readStdin() : undefined;
      const r = await sessionClient().putRegistry({ name, url: f.url, username: f.username, password, teams, ...(prefixes ? { prefixes } : {}) });
      if (f.json) return printJson(r);
      // Prefixes are shown once some grant is restricted (a shared registry); `*` everywhere says nothing new.
      const restricted = r.grants.some((g) => g.prefixes.join() !== '*');
      const granted = restricted ? r.grants.map((g) => `${g.team} (${g.prefixes.join(' ')})`) : r.teams;
      process.stdout.write(`registry ${r.name} (${r.url}) granted to ${granted.join(', ')}\n`);
    });
  registry
    .command('list')
    .description('registries granted to your teams (all for admins)')
    .option('--json', 'machine-readable output')
    .action(async (f: { json?: boolean }) => {
      const list = await sessionClient().listRegistries();
      if (f.json) return printJson(list);
      printTable(
        ['NAME', 'URL', 'USER', 'TEAMS (PUSH PREFIXES)', 'ADDED'],
        list.map((r) => [
          r.name,
          r.url,
          r.username ? `${r.username}${r.hasPassword ? ' (password set)' : ''}` : '-',
          r.grants.map((g) => `${g.team}=${g.prefixes.join('|')}`).join(','),
          formatTime(r.createdAt),
        ]),
      );
    });
  registry
    .command('rm <name>')
    .description('remove a registry (admin)')
    .action(async (name: string) => {
      await sessionClient().removeRegistry(name);
    });

  program
    .command('images <registry>')
    .description('repositories and tags (with digests) in a registry')
    .option('--prefix <path>', 'only repositories under this path, e.g. demo/')
    .option('--json', 'machine-readable output')
    .action(async (name: string, f: { prefix?: string; json?: boolean }) => {
      const repos = await sessionClient().listRepositories(name, f.prefix);
      if (f.json) return printJson(repos);
      printTable(
        ['REPOSITORY', 'TAG', 'DIGEST'],
        repos.flatMap((r) => (r.tags.length ? r.tags.map((t) => [r.name, t.tag, t.digest ?? '-']) : [[r.name, '-', '-']])),
      );
    });
}
