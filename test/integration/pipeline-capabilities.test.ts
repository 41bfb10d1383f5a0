/**
 * Capabilities and agent services with real processes: a stage needing `docker` waits, with its reason in the
 * API and CLI, while only a docker-less agent is connected, and runs as soon as a capable one connects (the
 * capability is declared with --capability, so no Docker engine is needed); an agent service starts with its
 * agent, reports its status to the master and stops with the agent; a bad agent config file fails the start
 * naming file, line and field.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli';
import { startAgent, startMaster, type TestMaster } from '../helpers/cluster';
import { waitFor } from '../helpers/wait';

const suffix = Math.random().toString(36).slice(2, 8);
const team = `cap-${suffix}`;
const env = `pre-${suffix}`;
let master: TestMaster;
const dir = mkdtempSync(join(tmpdir(), 'slipway-cap-'));

async function adminToken(): Promise<string> {
  const res = await fetch(`${master.url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: master.adminPassword }),
  });
  return ((await res.json()) as { token: string }).token;
}

beforeAll(async () => {
  master = await startMaster();
  await master.api.createTeam(team);
});

afterAll(async () => {
  await master?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('capabilities', () => {
  it('a stage needing docker waits while only a docker-less agent is connected and runs when a capable one connects', async () => {
    // A socket that cannot exist: this agent has no docker whatever the host runs.
    const file = join(dir, 'no-docker.yml');
    writeFileSync(file, 'docker:\n  socket: /nonexistent/docker.sock\nservices:\n  disk-space: { minFreeMb: 0 }\n');
    const plain = await startAgent(master, { environment: env, name: `plain-${suffix}`, args: ['--config', file] });
    const job = `needs-docker-${suffix}`;
    await master.api.applyJob(`name: ${job}
team: ${team}
stages:
  - name: deploy
    environment: ${env}
    capabilities: [docker]
    steps:
      - sh: echo deploying with docker
`);
    const { id } = await master.api.trigger(job);
    const reason = `waiting: no agent of environment ${env} with capability docker`;
    const waiting = await waitFor('the waiting reason', async () => {
      const b = await master.api.getBuild(id);
      return b.stages[0].waiting === reason ? b : undefined;
    });
    expect(waiting.status).toBe('queued');
    const cli = await runCli(['build', String(id)], { env: { SLIPWAY_URL: master.url, SLIPWAY_TOKEN: await adminToken() } });
    expect(cli.stdout).toContain(reason);

    // The docker-less agent says why it has no docker; its service runs and reports.
    const agents = await master.api.listAgents();
    const info = agents.find((a) => a.name === plain.name)!;
    expect(info.capabilities.find((c) => c.name === 'docker')).toMatchObject({ ok: false, detail: expect.stringMatching(/not reachable at \/nonexistent\/docker\.sock/) });
    expect(info.kinds).toEqual(expect.arrayContaining(['shell', 'checkout']));
    expect(info.services).toEqual([expect.objectContaining({ name: 'disk-space', state: 'running', detail: expect.stringMatching(/MiB free/) })]);

    const capable = await startAgent(master, { environment: env, name: `docker-${suffix}`, args: ['--capability', 'docker'] });
    const done = await waitFor(`build ${id} finished`, async () => {
      const b = await master.api.getBuild(id);
      return b.status !== 'queued' && b.status !== 'running' ? b : undefined;
    });
    expect(done.status).toBe('success');
    expect(done.stages[0].agent).toBe(capable.name);
    expect(done.stages[0].waiting).toBeNull();

    // The service stops with its agent, and the master hears it.
    await plain.stop();
    const after = (await master.api.listAgents()).find((a) => a.name === plain.name)!;
    expect(after.services).toEqual([expect.objectContaining({ name: 'disk-space', state: 'stopped' })]);
  });

  it('refuses a bad agent config file at start, naming file, line and field', async () => {
    const file = join(dir, 'bad.yml');
    writeFileSync(file, 'docker:\n  sockett: /var/run/docker.sock\n');
    const token = (await master.api.createAgentToken(env, `bad-${suffix}`)).token;
    const r = await runCli(['agent', 'start', '--url', master.url, '--name', `bad-${suffix}`, '--environment', env, '--config', file, '--work-dir', dir], {
      env: { SLIPWAY_AGENT_TOKEN: token },
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`${file}:2:3: docker.sockett: unknown field (allowed: socket, minApiVersion, registryCredentials)`);
  });
});
