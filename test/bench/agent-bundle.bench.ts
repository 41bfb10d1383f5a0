/**
 * Agent distribution figures for bench-results.json (issue 13):
 *   agent_bundle_kb   size of dist/agent/slipway-agent.mjs (target < 2048)
 *   agent_start_ms    `node slipway-agent.mjs agent start` spawned -> its "connected" line, median of 5 starts of
 *                     one installed bundle (target < 300); the first of them has no V8 code cache yet:
 *   agent_start_first_ms   that first start (a new bundle: after an install or an upgrade)
 *   agent_start_node_ms    baseline of the same run: `node -e 0` spawned -> exited, median of 5 (the floor)
 *   agent_upgrade_s   the master's version changes (new bundle + master restart) -> every one of 20 idle
 *                     bundle agents with --auto-upgrade reconnected on the new version (target < 10)
 * The agents run from their own copy of the bundle under a supervisor loop here that restarts them on exit
 * 75, like the installer's --foreground loop. The master runs as deployed, from `npm run build`'s dist/
 * (built here first; through tsx its restart alone took 2.5-5.5 s on this machine). All 20 agents share
 * this host's CPUs, so their 20 simultaneous restarts are CPU-bound here (one agent per host in real use):
 * stderr shows where the time went. npm run bench -- agent-bundle
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { reportBench } from '../helpers/bench';
import { ensureEnvironment, startMaster } from '../helpers/cluster';
import { REPO_ROOT } from '../helpers/process';
import { waitFor } from '../helpers/wait';

const AGENTS = 20;
const tmp = mkdtempSync(join(tmpdir(), 'slipway-bench-bundle-'));
const out = join(tmp, 'dist');
const build = (version: string) => {
  execFileSync(process.execPath, [join(REPO_ROOT, 'scripts', 'build.mjs'), '--out', out, '--agent-only'], { env: { ...process.env, SLIPWAY_BUILD_VERSION: version }, stdio: 'pipe' });
  return JSON.parse(readFileSync(join(out, 'agent', 'slipway-agent.json'), 'utf8')) as { version: string; bytes: number };
};

// The master as deployed (npm run build -> dist/); the agent bundles it serves come from `out`.
execFileSync(process.execPath, [join(REPO_ROOT, 'scripts', 'build.mjs')], { stdio: 'pipe' });
const first = build('0.0.0-bench-a');
const master = await startMaster({ built: true, env: { SLIPWAY_AGENT_BUNDLE_DIR: join(out, 'agent') } });
const env = 'bench-bundle';
await ensureEnvironment(master.api, env);
const token = (await master.api.createAgentToken(env, 'bench')).token;
const children = new Set<ChildProcess>();
let stopping = false;
/** performance.now() of every exit 75 (an agent that replaced its bundle). */
const upgradeExits: number[] = [];
/** Every "connected" line of the supervised agents: when its process was spawned and when it connected. */
const connects: { spawnedAt: number; connectedAt: number }[] = [];

function agentArgs(name: string, bundle: string, upgrade: boolean): string[] {
  return [bundle, 'agent', 'start', '--url', master.url, '--name', name, '--environment', env, '--work-dir', join(tmp, 'work', name), ...(upgrade ? ['--auto-upgrade'] : [])];
}

try {
  // Start time: median of 5 cold starts of the bundle, up to the agent's own "connected" line.
  const starts: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const child = spawn(process.execPath, agentArgs(`start-${i}`, join(out, 'agent', 'slipway-agent.mjs'), false), { env: { ...process.env, SLIPWAY_AGENT_TOKEN: token, SLIPWAY_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => d.toString().includes('connected to') && resolve());
      child.on('exit', (code) => reject(new Error(`agent exited ${code} before connecting`)));
    });
    starts.push(performance.now() - t0);
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
  const firstStart = starts[0];
  starts.sort((a, b) => a - b);
  // Baseline in the same run: a bare node process, spawned -> exited.
  const nodeStarts: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    await new Promise((r) => spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' }).once('exit', r));
    nodeStarts.push(performance.now() - t0);
  }
  nodeStarts.sort((a, b) => a - b);

  // 20 idle agents, each from its own copy of the bundle, restarted on exit 75 like under systemd.
  const supervise = (name: string) => {
    const dir = join(tmp, 'hosts', name);
    mkdirSync(dir, { recursive: true });
    const bundle = join(dir, 'slipway-agent.mjs');
    copyFileSync(join(out, 'agent', 'slipway-agent.mjs'), bundle);
    const run = () => {
      const child = spawn(process.execPath, agentArgs(name, bundle, true), { env: { ...process.env, SLIPWAY_AGENT_TOKEN: token, SLIPWAY_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'ignore'] });
      children.add(child);
      const spawnedAt = performance.now();
      child.stdout!.on('data', (d: Buffer) => {
        if (d.toString().includes('connected to')) connects.push({ spawnedAt, connectedAt: performance.now() });
      });
      child.on('exit', (code) => {
        children.delete(child);
        if (code === 75) upgradeExits.push(performance.now());
        if (code === 75 && !stopping) run();
      });
    };
    run();
  };
  for (let i = 0; i < AGENTS; i++) supervise(`idle-${i}`);
  const onVersion = async (version: string) =>
    (await master.api.listAgents()).filter((a) => a.environment === env && a.name.startsWith('idle-') && a.state === 'connected' && a.version === version).length === AGENTS;
  await waitFor(`${AGENTS} agents connected`, () => onVersion(first.version), { timeoutMs: 120_000, intervalMs: 200 });

  const second = build('0.0.0-bench-b');
  const t0 = performance.now();
  await master.restart();
  const restartedS = (performance.now() - t0) / 1000;
  await waitFor(`${AGENTS} agents on ${second.version}`, () => onVersion(second.version), { timeoutMs: 120_000, intervalMs: 100 });
  const upgradeS = (performance.now() - t0) / 1000;

  reportBench({
    agent_bundle_kb: Math.round(first.bytes / 1024),
    agent_start_ms: Math.round(starts[2]),
    agent_start_first_ms: Math.round(firstStart),
    agent_start_node_ms: Math.round(nodeStarts[2]),
    agent_upgrade_s: Number(upgradeS.toFixed(2)),
  });
  // Where the time goes (stderr, not in bench-results.json): master restart, agents' exits 75, reconnects.
  const after = connects.filter((c) => c.spawnedAt > t0).map((c) => c.connectedAt - c.spawnedAt).sort((a, b) => a - b);
  const reconnects = connects.filter((c) => c.spawnedAt < t0 && c.connectedAt > t0).map((c) => c.connectedAt - t0).sort((a, b) => a - b);
  const ms = (v: number[]) => `${Math.round(v[0])} / ${Math.round(v[v.length >> 1])} / ${Math.round(v.at(-1)!)} ms`;
  process.stderr.write(`agent start ${Math.round(starts[2])} ms = ${(starts[2] / nodeStarts[2]).toFixed(1)} x a bare node start (${Math.round(nodeStarts[2])} ms); first start of the bundle (no code cache) ${Math.round(firstStart)} ms\n`);
  process.stderr.write(`old agents reconnected to the new master (min/median/max from the restart): ${ms(reconnects)}; upgraded agents spawn -> connected: ${ms(after)}\n`);
  process.stderr.write(
    `master restarted after ${restartedS.toFixed(2)} s; exits 75 from ${((upgradeExits[0] - t0) / 1000).toFixed(2)} to ${((upgradeExits.at(-1)! - t0) / 1000).toFixed(2)} s; all ${AGENTS} reconnected on the new version after ${upgradeS.toFixed(2)} s\n`,
  );
} finally {
  stopping = true;
  for (const c of children) c.kill('SIGTERM');
  await Promise.all([...children].map((c) => new Promise((r) => c.once('exit', r))));
  await master.stop();
  rmSync(tmp, { recursive: true, force: true });
}
process.exit(0);
