/**
 * Report formats in scheduling, with a real master and a real agent process: a stage whose report is written
 * in a plugin's format (`junit: { path: out.tap, format: tap }`, plugins/tap-junit) goes only to an agent that
 * runs that plugin at the version the master names. Two agents that cannot convert it are connected first,
 * speaking the real protocol over a raw socket: one of the previous protocol (11, no converters at all) and
 * one of this protocol whose tap-junit failed to load. The stage waits with the plugin named in its reason
 * and neither of them is assigned it; a real agent that loads the plugin runs it and the converted test
 * results are stored. A disabled format is refused at apply and at trigger, naming the plugin, and a stage
 * already queued says it waits for a disabled plugin.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentInfo, BuildDetail } from '../../shared/api';
import { MIN_AGENT_PROTOCOL_VERSION, PROTOCOL_VERSION, type MasterMessage } from '../../shared/protocol';
import { runCli } from '../helpers/cli';
import { ensureEnvironment, startAgent, startMaster, type TestMaster } from '../helpers/cluster';
import { waitFor } from '../helpers/wait';
import { hello, openRaw, type RawAgent } from './engine-raw-agent';

const REPO = join(import.meta.dirname, '..', '..');
const suffix = Math.random().toString(36).slice(2, 8);
const team = `rf-${suffix}`;
const env = `rf-${suffix}`;
let master: TestMaster;
let root: string;
let cliEnv: Record<string, string>;
const raws: RawAgent[] = [];
const timers: NodeJS.Timeout[] = [];

const tapJob = (name: string) => `name: ${name}
team: ${team}
stages:
  - name: test
    environment: ${env}
    steps:
      - sh: cp -r ${join(REPO, 'test', 'fixtures', 'quality', 'tap-project')}/. .
      - test: { run: "node --test --test-reporter=tap test/ > out.tap || true", junit: { path: out.tap, format: tap } }
`;

async function finished(id: number): Promise<BuildDetail> {
  return waitFor(`build ${id} finished`, async () => {
    const b = await master.api.getBuild(id);
    return b.status !== 'queued' && b.status !== 'running' ? b : undefined;
  }, { timeoutMs: 90_000 });
}

/** A raw agent of `env` saying hello with `extra`, kept alive by heartbeats. */
async function rawAgent(name: string, extra: Record<string, unknown>): Promise<RawAgent> {
  const token = (await master.api.createAgentToken(env, name)).token;
  const a = await openRaw(master.url);
  raws.push(a);
  a.sendJson(hello(token, name, env, extra));
  await a.next('master:accepted', (m): m is Extract<MasterMessage, { type: 'master:accepted' }> => m.type === 'master:accepted');
  timers.push(setInterval(() => a.sendJson({ type: 'agent:heartbeat', leases: [], busy: 0 }), 300));
  return a;
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'slipway-report-sched-'));
  master = await startMaster();
  await master.api.createTeam(team);
  await ensureEnvironment(master.api, env);
  cliEnv = { SLIPWAY_URL: master.url, SLIPWAY_TOKEN: master.api.token!, SLIPWAY_CONFIG: join(root, 'cli.json') };
}, 60_000);

afterAll(async () => {
  for (const t of timers) clearInterval(t);
  for (const a of raws) a.ws.close();
  await master?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe('report formats in scheduling', () => {
  it('a stage with a TAP report waits for an agent running tap-junit, naming the plugin, and runs there', async () => {
    const installed = await runCli(['plugin', 'install', join(REPO, 'plugins', 'tap-junit')], { env: cliEnv });
    expect(installed.stdout, installed.stderr).toBe('plugin tap-junit@1.0.0 installed: report formats tap\n');
    expect(MIN_AGENT_PROTOCOL_VERSION).toBeLessThan(PROTOCOL_VERSION);
    // An agent of the previous protocol: it has the shell kind, but no converter of any report format.
    const old = await rawAgent(`old-${suffix}`, { protocolVersion: MIN_AGENT_PROTOCOL_VERSION });
    // An agent of this protocol whose tap-junit failed to load.
    const broken = await rawAgent(`broken-${suffix}`, {
      plugins: [{ name: 'tap-junit', version: '1.0.0', state: 'failed', error: 'importing agent.mjs failed' }],
    });

    const name = `tap-${suffix}`;
    await master.api.applyJob(tapJob(name));
    const id = (await master.api.trigger(name)).id;
    const reason = `waiting: no agent of environment ${env} with report format tap (plugin tap-junit@1.0.0)`;
    await waitFor('the waiting reason', async () => (await master.api.getBuild(id)).stages[0].waiting === reason, { timeoutMs: 30_000 });
    const cli = await runCli(['build', String(id)], { env: cliEnv });
    expect(cli.stdout + cli.stderr).toContain(reason);
    // Give the scheduler a few passes: neither agent that cannot convert TAP is assigned the stage.
    await new Promise((r) => setTimeout(r, 1500));
    expect((await master.api.getBuild(id)).status).toBe('queued');
    for (const a of [old, broken]) expect(a.received.filter((m) => m.type === 'master:assign')).toEqual([]);

    // A real agent that loads tap-junit@1.0.0 takes it; the TAP is converted and the test results stored.
    const agent = await startAgent(master, { environment: env, name: `real-${suffix}` });
    const b = await finished(id);
    expect(b.stages[0].agent).toBe(agent.name);
    const log = await master.api.buildLog(id);
    expect(log).toContain('tap report out.tap: converted to junit (report format tap@1.0.0)');
    const tests = await master.api.buildTests(id);
    expect(tests.map((t) => `${t.name}: ${t.status}`).sort()).toEqual(['adds: passed', 'divides later: skipped', 'multiplies: failed', 'top-level ok: passed']);
    const agents = await master.api.listAgents();
    const real = agents.find((a: AgentInfo) => a.name === agent.name)!;
    expect(real.plugins).toContainEqual(expect.objectContaining({ name: 'tap-junit', version: '1.0.0', state: 'loaded' }));

    // With the real agent gone, the next build waits again; once the plugin is disabled its reason says so.
    await agent.stop();
    const next = (await master.api.trigger(name)).id;
    await waitFor('the waiting reason', async () => (await master.api.getBuild(next)).stages[0].waiting === reason, { timeoutMs: 30_000 });

    // Disabled: apply and trigger are refused, naming the plugin.
    const off = await runCli(['plugin', 'disable', 'tap-junit'], { env: cliEnv });
    expect(off.stdout, off.stderr).toBe('plugin tap-junit@1.0.0 disabled\n');
    const disabled = "report format 'tap' is provided by plugin 'tap-junit', which is disabled (slipway plugin enable tap-junit)";
    const waitingDisabled = `waiting: no agent of environment ${env} with report format tap (${disabled})`;
    await waitFor('the disabled waiting reason', async () => (await master.api.getBuild(next)).stages[0].waiting === waitingDisabled, { timeoutMs: 30_000 });
    for (const a of [old, broken]) expect(a.received.filter((m) => m.type === 'master:assign')).toEqual([]);
    await expect(master.api.trigger(name)).rejects.toThrow(`job '${name}' cannot start: stage 'test': ${disabled}`);
    await expect(master.api.applyJob(tapJob(`other-${suffix}`))).rejects.toThrow(`job.yml:8:113: stages[0].steps[1].test.junit.format: ${disabled}`);
  }, 180_000);
});
