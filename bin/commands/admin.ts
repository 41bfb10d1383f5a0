/**
 * Administration through the API: environments, agent tokens, agents, teams and members, users,
 * personal API tokens and team secrets. Tokens are printed once (only their hash is stored); secret values
 * are read from stdin so they never appear in argv or shell history.
 */
import type { Command } from 'commander';
import type { Role } from '../../shared/api';
import { badRequest } from '../../shared/errors';
import { agentInstallCommand } from '../../shared/agent-install';
import { parseId, sessionClient } from '../lib/client';
import { formatTime, printJson, printTable } from '../lib/output';

const ROLES: Role[] = ['maintainer', 'developer', 'viewer'];
const SCOPES = ['read', 'write', 'admin'] as const;

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('value (end with Ctrl-D): ');
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  // One trailing newline comes from `echo` or the terminal, not from the secret.
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

function printToken(json: boolean | undefined, t: { id: number; name: string; token: string }, what: string): void {
  if (json) return printJson(t);
  process.stderr.write(`${what} '${t.name}' created (id ${t.id}); it is shown only once:\n`);
  process.stdout.write(`${t.token}\n`);
}

export function registerAdminCommands(program: Command, agent: Command): void {
  const agentToken = agent.command('token').description('agent tokens');
  agentToken
    .command('create')
    .description('create an agent token bound to one environment (admin); prints the command that installs the agent')
    .requiredOption('--environment <env>', 'environment')
    .requiredOption('--name <name>', 'token name (also the agent name in the install command)')
    .option('--url <url>', 'the master as agent hosts reach it (default: the URL you are logged in to)')
    .option('--foreground', 'the install command runs the agent in the foreground instead of installing a systemd unit')
    .option('--json', 'machine-readable output (with installCommand)')
    .action(async (flags: { environment: string; name: string; url?: string; foreground?: boolean; json?: boolean }) => {
      const client = sessionClient();
      const t = await client.createAgentToken(flags.environment, flags.name);
      const installCommand = agentInstallCommand({ url: flags.url ?? client.url, environment: flags.environment, name: flags.name, token: t.token, foreground: flags.foreground });
      if (flags.json) return printJson({ ...t, installCommand });
      printToken(false, t, 'agent token');
      // stdout keeps the token alone (scripts redirect it to a file); the install command goes to the terminal.
      process.stderr.write(`install the agent: run this as root on the new host (it downloads the agent from the master, checks it and starts it):\n\n  ${installCommand}\n\n`);
    });
  agentToken
    .command('list')
    .description('list the agent tokens of an environment (admin)')
    .requiredOption('--environment <env>', 'environment')
    .option('--json', 'machine-readable output')
    .action(async (flags: { environment: string; json?: boolean }) => {
      const tokens = await sessionClient().listAgentTokens(flags.environment);
      if (flags.json) return printJson(tokens);
      printTable(['ID', 'NAME', 'CREATED', 'REVOKED'], tokens.map((t) => [t.id, t.name, formatTime(t.createdAt), t.revokedAt ? formatTime(t.revokedAt) : '-']));
    });
  agentToken
    .command('revoke <id>')
    .description('revoke an agent token (admin): its agents are disconnected at once')
    .action(async (id: string) => {
      await sessionClient().revokeAgentToken(parseId('token id', id));
      process.stdout.write(`agent token ${id} revoked\n`);
    });

  program
    .command('agents')
    .description('list agents: state (or the version an agent is upgrading to), version, capabilities (probed at start) and services (--json for details)')
    .option('--json', 'machine-readable output')
    .action(async (flags: { json?: boolean }) => {
      const agents = await sessionClient().listAgents();
      if (flags.json) return printJson(agents);
      printTable(
        ['ID', 'NAME', 'ENVIRONMENT', 'STATE', 'VERSION', 'RUNNING', 'LABELS', 'CAPABILITIES', 'SERVICES', 'PLUGINS', 'LAST SEEN'],
        agents.map((a) => [
          a.id,
          a.name,
          a.environment,
          a.upgradingTo ? `upgrading to ${a.upgradingTo}` : a.state,
          a.version ?? '-',
          `${a.running}/${a.capacity}`,
          a.labels.join(','),
          (a.capabilities ?? []).filter((c) => c.ok).map((c) => c.name).join(',') || '-',
          (a.services ?? []).map((s) => `${s.name}:${s.state}`).join(',') || '-',
          (a.plugins ?? []).filter((p) => p.name !== 'builtin').map((p) => `${p.name}@${p.version}${p.state === 'failed' ? '(failed)' : ''}`).join(',') || '-',
          formatTime(a.lastSeenAt),
        ]),
      );
    });

  const env = program.command('env').description('environments');
  const teamList = (v: string) => v.split(',').map((t) => t.trim()).filter(Boolean);
  env
    .command('create <name>')
    .description('create an environment (admin)')
    .option('--description <text>', 'description')
    .option('--protected', 'stages there wait for an approval by a member of --teams (or an admin)')
    .option('--teams <a,b>', 'teams whose members may approve stages of this protected environment', teamList)
    .option('--json', 'machine-readable output')
    .action(async (name: string, flags: { description?: string; protected?: boolean; teams?: string[]; json?: boolean }) => {
      const e = await sessionClient().createEnvironment(name, { description: flags.description, protected: flags.protected ?? false, teams: flags.teams ?? [] });
      if (flags.json) return printJson(e);
      process.stdout.write(`environment ${e.name} created${e.protected ? ` (protected; approvers: ${e.teams.join(', ') || 'admins only'})` : ''}\n`);
    });
  env
    .command('update <name>')
    .description('change an environment: protection, approver teams, description (admin)')
    .option('--description <text>', 'description')
    .option('--protected', 'protect it')
    .option('--unprotected', 'remove the protection')
    .option('--teams <a,b>', 'teams whose members may approve its stages (replaces the list; "" clears it)', teamList)
    .option('--allow <powers>', 'what compose files deployed here may do: bind-mounts,privileged,docker-socket (replaces the set; "" allows none)', teamList)
    .option('--json', 'machine-readable output')
    .action(async (name: string, flags: { description?: string; protected?: boolean; unprotected?: boolean; teams?: string[]; allow?: string[]; json?: boolean }) => {
      if (flags.protected && flags.unprotected) throw badRequest('give --protected or --unprotected, not both');
      const powers = { 'bind-mounts': 'allowBindMounts', privileged: 'allowPrivileged', 'docker-socket': 'allowDockerSocket' } as const;
      const unknown = (flags.allow ?? []).filter((p) => !(p in powers));
      if (unknown.length) throw badRequest(`--allow: unknown ${unknown.join(', ')} (known: ${Object.keys(powers).join(', ')})`);
      const e = await sessionClient().updateEnvironment(name, {
        ...(flags.description !== undefined ? { description: flags.description } : {}),
        ...(flags.protected ? { protected: true } : flags.unprotected ? { protected: false } : {}),
        ...(flags.teams !== undefined ? { teams: flags.teams } : {}),
        ...(flags.allow !== undefined
          ? { deployPolicy: Object.fromEntries(Object.entries(powers).map(([k, v]) => [v, flags.allow!.includes(k)])) as Record<(typeof powers)[keyof typeof powers], boolean> }
          : {}),
      });
      if (flags.json) return printJson(e);
      process.stdout.write(`environment ${e.name}: ${e.protected ? `protected; approvers: ${e.teams.join(', ') || 'admins only'}` : 'not protected'}\n`);
    });
  env
    .command('list')
    .description('list environments')
    .option('--json', 'machine-readable output')
    .action(async (flags: { json?: boolean }) => {
      const envs = await sessionClient().listEnvironments();
      if (flags.json) return printJson(envs);
      printTable(['NAME', 'PROTECTED', 'APPROVERS', 'DESCRIPTION'], envs.map((e) => [e.name, e.protected ? 'yes' : 'no', e.teams.join(',') || '-', e.description]));
    });

  const team = program.command('team').description('teams and members');
  team
    .command('create <name>')
    .description('create a team (admin)')
    .option('--json', 'machine-readable output')
    .action(async (name: string, flags: { json?: boolean }) => {
      const t = await sessionClient().createTeam(name);
      if (flags.json) return printJson(t);
      process.stdout.write(`team ${t.name} created\n`);
    });
  team
    .command('add <team> <user>')
    .description('add a user to a team or change their role')
    .option('--role <role>', `one of ${ROLES.join(', ')}`, 'developer')
    .action(async (t: string, user: string, flags: { role: string }) => {
      if (!ROLES.includes(flags.role as Role)) throw badRequest(`--role must be one of ${ROLES.join(', ')}, got '${flags.role}'`);
      await sessionClient().setMember(t, user, flags.role as Role);
      process.stdout.write(`${user} is ${flags.role} of team ${t}\n`);
    });
  team
    .command('list')
    .description('list your teams (all for admins)')
    .option('--json', 'machine-readable output')
    .action(async (flags: { json?: boolean }) => {
      const teams = await sessionClient().listTeams();
      if (flags.json) return printJson(teams);
      printTable(['NAME', 'YOUR ROLE'], teams.map((t) => [t.name, t.role]));
    });

  const user = program.command('user').description('users');
  for (const [verb, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    user
      .command(`${verb} <username>`)
      .description(disabled ? 'disable a user (admin): no login, and their sessions, tokens and log streams stop at once' : 'enable a disabled user again (admin)')
      .option('--json', 'machine-readable output')
      .action(async (username: string, flags: { json?: boolean }) => {
        const u = await sessionClient().setUserDisabled(username, disabled);
        if (flags.json) return printJson(u);
        process.stdout.write(`user ${u.username} ${disabled ? 'disabled' : 'enabled'}\n`);
      });
  }
  user
    .command('create <username>')
    .description('create a user (admin); the password is read from --password or stdin')
    .option('--password <password>', 'password (default: read from stdin)')
    .option('--admin', 'make the user an instance admin')
    .option('--json', 'machine-readable output')
    .action(async (username: string, flags: { password?: string; admin?: boolean; json?: boolean }) => {
      const password = flags.password ?? (await readStdin());
      if (!password) throw badRequest('the password is empty');
      const u = await sessionClient().createUser({ username, password, isAdmin: flags.admin ?? false });
      if (flags.json) return printJson(u);
      process.stdout.write(`user ${u.username} created${u.isAdmin ? ' (admin)' : ''}\n`);
    });

  program
    .command('token')
    .description('personal API tokens')
    .command('create <name>')
    .description('create a personal API token for automation (use it as SLIPWAY_TOKEN)')
    .option('--scopes <list>', `comma-separated: ${SCOPES.join(', ')}`, 'read,write')
    .option('--json', 'machine-readable output')
    .action(async (name: string, flags: { scopes: string; json?: boolean }) => {
      const scopes = flags.scopes.split(',').map((s) => s.trim()).filter(Boolean);
      const bad = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
      if (bad.length || !scopes.length) throw badRequest(`--scopes must be a list of ${SCOPES.join(', ')}, got '${flags.scopes}'`);
      printToken(flags.json, await sessionClient().createToken({ name, scopes: scopes as (typeof SCOPES)[number][] }), 'API token');
    });

  program
    .command('secret')
    .description('team secrets')
    .command('set <team> <name>')
    .description('set a team secret; the value is read from stdin')
    .action(async (t: string, name: string) => {
      const value = await readStdin();
      if (!value) throw badRequest('the secret value on stdin is empty');
      await sessionClient().setSecret(t, name, value);
      process.stdout.write(`secret ${name} of team ${t} set\n`);
    });
}
