/**
 * Administration through the CLI against a real master: environments, agent tokens (printed once, usable
 * by an agent), teams and users, personal API tokens used through SLIPWAY_TOKEN, secrets from stdin.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli';
import { startAgent, startMaster, type TestMaster } from '../helpers/cluster';

let master: TestMaster;
let dir: string;
let env: Record<string, string>;
const suffix = Math.random().toString(36).slice(2, 8);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'slipway-cli-admin-'));
  master = await startMaster();
  // Env-only session: no config file at all, as in CI.
  env = { SLIPWAY_CONFIG: join(dir, 'none.json'), SLIPWAY_URL: master.url, SLIPWAY_TOKEN: master.api.token! };
});

afterAll(async () => {
  await master?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('slipway admin commands', () => {
  it('creates an environment and an agent token an agent can connect with', async () => {
    const envName = `stage-${suffix}`;
    const created = await runCli(['env', 'create', envName, '--description', 'from the cli'], { env });
    expect(created.code).toBe(0);
    const again = await runCli(['env', 'create', envName], { env });
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^error: .*/);

    const tok = await runCli(['agent', 'token', 'create', '--environment', envName, '--name', `t-${suffix}`], { env });
    expect(tok.code).toBe(0);
    // stdout is the token alone (scripts redirect it to a file); the notice goes to stderr.
    const token = tok.stdout.trim();
    expect(token.split('\n')).toHaveLength(1);
    expect(tok.stderr).toContain('shown only once');

    const agent = await startAgent(master, { environment: envName, token, name: `cli-agent-${suffix}` });
    const list = await runCli(['agents', '--json'], { env });
    expect(JSON.parse(list.stdout)).toContainEqual(expect.objectContaining({ name: agent.name, environment: envName }));
    await agent.stop();
  });

  it('creates a team and a user (password from stdin) who can then log in', async () => {
    const team = `t-${suffix}`;
    expect((await runCli(['team', 'create', team], { env })).code).toBe(0);
    const user = `u-${suffix}`;
    const made = await runCli(['user', 'create', user, '--json'], { env, input: 'a-long-password-1\n' });
    expect(made.code).toBe(0);
    expect(JSON.parse(made.stdout)).toMatchObject({ username: user, isAdmin: false });
    expect((await runCli(['team', 'add', team, user, '--role', 'viewer'], { env })).code).toBe(0);
    const bad = await runCli(['team', 'add', team, user, '--role', 'owner'], { env });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--role must be one of maintainer, developer, viewer');

    const session = { SLIPWAY_CONFIG: join(dir, `${user}.json`), SLIPWAY_URL: '', SLIPWAY_TOKEN: '' };
    const login = await runCli(['login', '--url', master.url, '--user', user, '--password', 'a-long-password-1'], { env: session });
    expect(login.code).toBe(0);
    const teams = await runCli(['team', 'list', '--json'], { env: session });
    expect(JSON.parse(teams.stdout)).toEqual([expect.objectContaining({ name: team, role: 'viewer' })]);
  });

  it('disables a user (their stored session stops working at once) and enables them again', async () => {
    const user = `d-${suffix}`;
    expect((await runCli(['user', 'create', user], { env, input: 'a-long-password-2\n' })).code).toBe(0);
    const session = { SLIPWAY_CONFIG: join(dir, `${user}.json`), SLIPWAY_URL: '', SLIPWAY_TOKEN: '' };
    expect((await runCli(['login', '--url', master.url, '--user', user, '--password', 'a-long-password-2'], { env: session })).code).toBe(0);
    const off = await runCli(['user', 'disable', user], { env });
    expect([off.code, off.stdout]).toEqual([0, `user ${user} disabled\n`]);
    const refused = await runCli(['jobs'], { env: session });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: invalid, expired or revoked credential/);
    expect((await runCli(['user', 'enable', user, '--json'], { env })).stdout).toContain(`"username": "${user}"`);
    expect((await runCli(['jobs'], { env: session })).code).toBe(0);
  });

  it('creates a personal API token that works as SLIPWAY_TOKEN and honours its scopes', async () => {
    const made = await runCli(['token', 'create', `ci-${suffix}`, '--scopes', 'read'], { env });
    expect(made.code).toBe(0);
    const readOnly = { ...env, SLIPWAY_TOKEN: made.stdout.trim() };
    expect((await runCli(['agents'], { env: readOnly })).code).toBe(0);
    const write = await runCli(['team', 'create', `nope-${suffix}`], { env: readOnly });
    expect(write.code).toBe(1);
    const scopes = await runCli(['token', 'create', 'x', '--scopes', 'read,root'], { env });
    expect(scopes.stderr).toContain("--scopes must be a list of read, write, admin, got 'read,root'");
  });

  it('sets a team secret from stdin without ever printing its value', async () => {
    const team = `s-${suffix}`;
    await master.api.createTeam(team);
    const value = `very-secret-${suffix}`;
    const set = await runCli(['secret', 'set', team, 'DEPLOY_KEY'], { env, input: `${value}\n` });
    expect(set.code).toBe(0);
    expect(set.stdout + set.stderr).not.toContain(value);
    expect(await master.api.listSecrets(team)).toEqual([expect.objectContaining({ name: 'DEPLOY_KEY' })]);
    const empty = await runCli(['secret', 'set', team, 'EMPTY'], { env, input: '' });
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain('the secret value on stdin is empty');
  });
});
