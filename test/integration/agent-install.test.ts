/**
 * Installing agents from the master (issue 13), for real: the agent bundle is built (scripts/build.mjs) into
 * a temp dir the master serves (SLIPWAY_AGENT_BUNDLE_DIR); `slipway agent token create` prints the install
 * command; it runs here with bash as a user would (in the foreground: no systemd in tests) into fresh
 * directories; the agent connects and runs a build. Then the master's bundle changes and the master
 * restarts while a build runs: the agent drains (shown as upgrading), the build's step finishes, the agent
 * fetches, verifies, restarts and reconnects with the new version. A tampered download is refused, the
 * systemd unit's content is checked, an old Node is refused, and the master accepts one protocol version back.
 */
import { spawn, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BundleChecksumError, fetchBundleInfo, installBundle } from '../../agent/self-upgrade';
import { AgentBundle } from '../../master/agent-bundle/bundle';
import { CloseCode, decodeLogChunk, encodeLogChunk, PROTOCOL_VERSION, type MasterMessage } from '../../shared/protocol';
import { runCli } from '../helpers/cli';
import { ensureEnvironment, startMaster, type TestMaster } from '../helpers/cluster';
import { REPO_ROOT } from '../helpers/process';
import { waitFor } from '../helpers/wait';
import { hello, openRaw } from './engine-raw-agent';

const suffix = Math.random().toString(36).slice(2, 8);
const env = `inst-${suffix}`;
const team = `inst-${suffix}`;
let tmp: string;
let bundleOut: string;
let master: TestMaster;
let cliEnv: Record<string, string>;
/** Process groups of the shells started (each with the installer and the agent it runs): killed at the end. */
const groups = new Set<number>();

interface BundleInfo {
  version: string;
  sha256: string;
  bytes: number;
}

function buildBundle(version: string): BundleInfo {
  execFileSync(process.execPath, [join(REPO_ROOT, 'scripts', 'build.mjs'), '--out', bundleOut, '--agent-only'], {
    env: { ...process.env, SLIPWAY_BUILD_VERSION: version },
    stdio: 'pipe',
  });
  return JSON.parse(readFileSync(join(bundleOut, 'agent', 'slipway-agent.json'), 'utf8')) as BundleInfo;
}

/** Runs a shell command line with bash (as the printed install command is run), capturing its output. */
function runShell(command: string, extraEnv: Record<string, string> = {}) {
  // Its own process group, so that cleanup reaches the whole pipeline and the agent it started.
  const child = spawn('bash', ['-c', command], { env: { ...process.env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  groups.add(child.pid!);
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  return { child, output: () => out, exited };
}

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const mode = (file: string) => statSync(file).mode & 0o777;

async function agentNamed(name: string) {
  return (await master.api.listAgents()).find((a) => a.name === name && a.environment === env);
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'slipway-install-'));
  bundleOut = join(tmp, 'dist');
  buildBundle(`0.1.0-test-a.${suffix}`);
  master = await startMaster({ env: { SLIPWAY_AGENT_BUNDLE_DIR: join(bundleOut, 'agent') } });
  await ensureEnvironment(master.api, env);
  await master.api.createTeam(team);
  cliEnv = { SLIPWAY_CONFIG: join(tmp, 'none.json'), SLIPWAY_URL: master.url, SLIPWAY_TOKEN: master.api.token! };
}, 120_000);

afterAll(async () => {
  for (const pgid of groups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // the whole group is gone already
    }
  }
  await master?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('agent install from the master', () => {
  it('the printed command installs a verified bundle and a root-only token, the agent runs a build, then follows a master upgrade without killing the running step', async () => {
    const first = JSON.parse(readFileSync(join(bundleOut, 'agent', 'slipway-agent.json'), 'utf8')) as BundleInfo;
    const name = `host-${suffix}`;
    const created = await runCli(['agent', 'token', 'create', '--environment', env, '--name', name, '--foreground'], { env: cliEnv });
    expect(created.code, created.stderr).toBe(0);
    const token = created.stdout.trim();
    expect(token).toMatch(/^sla_/);
    const command = created.stderr.split('\n').map((l) => l.trim()).find((l) => l.startsWith('curl '));
    expect(command).toBe(`curl -fsSL ${master.url}/agent/install.sh | SLIPWAY_AGENT_TOKEN=${token} bash -s -- --url ${master.url} --environment ${env} --name ${name} --foreground`);

    const host = join(tmp, 'host1');
    const dirs = `--prefix ${host}/opt --config-dir ${host}/etc --work-dir ${host}/work`;
    const installer = runShell(`${command} ${dirs}`);
    const connected = await waitFor(`agent ${name} connected\n${installer.output()}`, async () => {
      const a = await agentNamed(name);
      return a?.state === 'connected' ? a : undefined;
    });
    expect(connected.version).toBe(first.version);
    expect(sha256(join(host, 'opt', 'slipway-agent.mjs'))).toBe(first.sha256);
    expect(readFileSync(join(host, 'etc', 'slipway-agent.token'), 'utf8').trim()).toBe(token);
    expect(mode(join(host, 'etc', 'slipway-agent.token'))).toBe(0o600);
    expect(mode(join(host, 'etc'))).toBe(0o700);

    await master.api.applyJob(`name: inst-${suffix}
team: ${team}
stages:
  - name: build
    environment: ${env}
    steps:
      - sh: echo started; sleep 8; echo finished-after-the-upgrade-was-announced
`);
    const build = await master.api.trigger(`inst-${suffix}`);
    await waitFor('the step running', async () => (await master.api.buildLog(build.id)).includes('started'), { timeoutMs: 30_000 });

    // The master is upgraded: its bundle changes and it restarts. The agent drains before it upgrades.
    const second = buildBundle(`0.1.0-test-b.${suffix}`);
    await master.restart();
    const draining = await waitFor(`agent ${name} upgrading\n${installer.output()}`, async () => {
      const a = await agentNamed(name);
      return a?.upgradingTo ? a : undefined;
    }, { intervalMs: 20 });
    expect(draining.upgradingTo).toBe(second.version);
    expect(draining.version).toBe(first.version);
    // It drains while the step still runs: the upgrade waits for it.
    expect((await master.api.getBuild(build.id)).status).toBe('running');
    // The CLI shows the state and version columns (by the time it runs, the upgrade may be over already).
    const agents = await runCli(['agents'], { env: { ...cliEnv, SLIPWAY_TOKEN: master.api.token! } });
    expect(agents.stdout).toMatch(/STATE +VERSION/);
    const row = agents.stdout.split('\n').find((l) => l.includes(name)) ?? '';
    expect([`upgrading to ${second.version}  ${first.version}`, `connected  ${second.version}`, `offline  ${first.version}`].some((x) => row.includes(x)), row).toBe(true);

    const done = await waitFor('the build finished', async () => {
      const b = await master.api.getBuild(build.id);
      return ['queued', 'running'].includes(b.status) ? undefined : b;
    });
    expect(done.status).toBe('success');
    expect(await master.api.buildLog(build.id)).toContain('finished-after-the-upgrade-was-announced');

    const upgraded = await waitFor(`agent ${name} back on ${second.version}\n${installer.output()}`, async () => {
      const a = await agentNamed(name);
      return a?.state === 'connected' && a.version === second.version ? a : undefined;
    });
    expect(upgraded.upgradingTo).toBeNull();
    expect(sha256(join(host, 'opt', 'slipway-agent.mjs'))).toBe(second.sha256);
    expect(installer.output()).toContain(`upgraded ${first.version} -> ${second.version}`);

    // SIGTERM to the installer (the `bash -s` of the pipeline, as systemd or a container runtime would send
    // it) reaches the agent, which drains and exits 0; the installer exits with it.
    const inner = Number(execFileSync('pgrep', ['-P', String(installer.child.pid), 'bash']).toString().trim().split('\n')[0]);
    process.kill(inner, 'SIGTERM');
    expect(await installer.exited).toBe(0);
    expect((await agentNamed(name))?.state).toBe('offline');
  }, 150_000);

  it('refuses a tampered bundle with a clear message and changes nothing (installer and agent upgrade)', async () => {
    // A proxy in front of the master that flips one byte of the bundle, as a tampering middlebox would.
    const proxy = http.createServer(async (req, res) => {
      const upstream = await fetch(`${master.url}${req.url}`);
      const body = Buffer.from(await upstream.arrayBuffer());
      if (req.url === '/agent/slipway-agent.mjs') body[body.length - 2] ^= 0x01;
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'text/plain' }).end(body);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    try {
      const host = join(tmp, 'host-tampered');
      const run = runShell(`curl -fsSL ${url}/agent/install.sh | bash -s -- --url ${url} --environment ${env} --foreground --prefix ${host}/opt --config-dir ${host}/etc --work-dir ${host}/work`, {
        SLIPWAY_AGENT_TOKEN: 'sla_not-used-because-the-download-is-refused',
      });
      expect(await run.exited).toBe(1);
      expect(run.output()).toMatch(/error: checksum mismatch: .*slipway-agent\.mjs has sha256 [0-9a-f]{64}, the master announced [0-9a-f]{64}/);
      expect(existsSync(join(host, 'opt', 'slipway-agent.mjs'))).toBe(false);
      expect(existsSync(join(host, 'etc'))).toBe(false);

      // The agent's own upgrade path: the same refusal, and its bundle file stays as it was.
      const target = join(tmp, 'agent-self.mjs');
      writeFileSync(target, 'the running bundle');
      const info = await fetchBundleInfo(url);
      await expect(installBundle(url, undefined, info!, target)).rejects.toThrow(BundleChecksumError);
      await expect(installBundle(url, undefined, info!, target)).rejects.toThrow(/checksum mismatch: .* not installed/);
      expect(readFileSync(target, 'utf8')).toBe('the running bundle');
    } finally {
      proxy.close();
    }
  });

  it('writes a systemd unit that drains on stop and restarts after a self-upgrade, upgrades in place, uninstalls; refuses a Node that is too old', async () => {
    const host = join(tmp, 'host-unit');
    const run = runShell(`curl -fsSL ${master.url}/agent/install.sh | bash -s -- --environment ${env} --name unit-${suffix} --labels docker,linux --capacity 2 --no-start --prefix ${host}/opt --config-dir ${host}/etc --work-dir ${host}/work --unit-dir ${host}/systemd`, {
      SLIPWAY_AGENT_TOKEN: 'sla_unit-test-token',
    });
    expect(await run.exited, run.output()).toBe(0);
    const unit = readFileSync(join(host, 'systemd', 'slipway-agent.service'), 'utf8');
    const node = execFileSync('bash', ['-c', 'command -v node']).toString().trim();
    expect(unit).toContain(
      `ExecStart="${node}" "${host}/opt/slipway-agent.mjs" "agent" "start" "--auto-upgrade" "--url" "${master.url}" "--token-file" "${host}/etc/slipway-agent.token" "--name" "unit-${suffix}" "--environment" "${env}" "--work-dir" "${host}/work" "--labels" "docker,linux" "--capacity" "2"\n`,
    );
    for (const line of ['KillMode=mixed', 'KillSignal=SIGTERM', 'TimeoutStopSec=30min', 'Restart=always', 'RestartForceExitStatus=75', 'WantedBy=multi-user.target']) {
      expect(unit).toContain(`${line}\n`);
    }
    expect(mode(join(host, 'etc', 'slipway-agent.token'))).toBe(0o600);

    // Without SLIPWAY_AGENT_TOKEN a second run upgrades in place and keeps the token file.
    const again = runShell(`curl -fsSL ${master.url}/agent/install.sh | bash -s -- --environment ${env} --no-start --prefix ${host}/opt --config-dir ${host}/etc --work-dir ${host}/work --unit-dir ${host}/systemd`);
    expect(await again.exited, again.output()).toBe(0);
    expect(again.output()).toContain('keeping the token');
    expect(again.output()).toMatch(/agent bundle .* replaced by /);
    expect(readFileSync(join(host, 'etc', 'slipway-agent.token'), 'utf8').trim()).toBe('sla_unit-test-token');

    // --uninstall removes unit, token file, bundle and work dir, and names what to revoke on the master.
    const gone = runShell(`curl -fsSL ${master.url}/agent/install.sh | bash -s -- --uninstall --prefix ${host}/opt --config-dir ${host}/etc --work-dir ${host}/work --unit-dir ${host}/systemd`);
    expect(await gone.exited, gone.output()).toBe(0);
    for (const f of ['systemd/slipway-agent.service', 'etc/slipway-agent.token', 'opt', 'work']) expect(existsSync(join(host, f)), f).toBe(false);
    expect(gone.output()).toContain('the agent token was NOT revoked: revoke it on the master (slipway agent token list --environment ENV, slipway agent token revoke ID)');

    // A host with Node 18: the installer says what it needs, before it changes anything.
    const old = join(tmp, 'node18');
    mkdirSync(old, { recursive: true });
    writeFileSync(join(old, 'pretend18.mjs'), "Object.defineProperty(process, 'versions', { value: { ...process.versions, node: '18.19.0' } });\n");
    writeFileSync(join(old, 'node'), `#!/bin/sh\n[ "$1" = -v ] && { echo v18.19.0; exit 0; }\nexec "${process.execPath}" --import ${join(old, 'pretend18.mjs')} "$@"\n`);
    chmodSync(join(old, 'node'), 0o755);
    const oldHost = join(tmp, 'host-old-node');
    const refused = runShell(`curl -fsSL ${master.url}/agent/install.sh | bash -s -- --environment ${env} --foreground --node ${old}/node --prefix ${oldHost}/opt --config-dir ${oldHost}/etc --work-dir ${oldHost}/work`, {
      SLIPWAY_AGENT_TOKEN: 'sla_x',
    });
    expect(await refused.exited).toBe(1);
    expect(refused.output()).toContain(`error: Node.js v18.19.0 at ${old}/node is too old: the Slipway agent`);
    expect(refused.output()).toContain('needs Node.js >=20.19');
    expect(existsSync(join(oldHost, 'opt'))).toBe(false);
  });

  it('accepts agents one protocol version back and refuses older ones', async () => {
    const token = (await master.api.createAgentToken(env, `raw-${suffix}`)).token;
    const prev = await openRaw(master.url);
    prev.sendJson(hello(token, `prev-${suffix}`, env, { protocolVersion: PROTOCOL_VERSION - 1, version: 'old' }));
    await prev.next('master:accepted', (m): m is Extract<MasterMessage, { type: 'master:accepted' }> => m.type === 'master:accepted');
    expect((await agentNamed(`prev-${suffix}`))?.protocolVersion).toBe(PROTOCOL_VERSION - 1);
    prev.ws.close();
    // Its log frames carry its own version byte; the layout is the same, so they are taken too.
    const frame = encodeLogChunk({ stageRunId: 1, epoch: 0, seq: 1, offset: 0, data: Buffer.from('x') });
    frame[1] = PROTOCOL_VERSION - 1;
    expect(typeof decodeLogChunk(frame)).toBe('object');
    frame[1] = PROTOCOL_VERSION - 2;
    expect(decodeLogChunk(frame)).toMatch(/log frame version .* not accepted/);

    const older = await openRaw(master.url);
    older.sendJson(hello(token, `older-${suffix}`, env, { protocolVersion: PROTOCOL_VERSION - 2 }));
    expect((await older.closed).code).toBe(CloseCode.ProtocolVersion);
    const refusal = older.received.find((m) => m.type === 'master:refused');
    expect(refusal && 'reason' in refusal && refusal.reason).toContain(`master speaks ${PROTOCOL_VERSION} and accepts agents from ${PROTOCOL_VERSION - 1}`);
  });

  it('never serves a bundle that does not match its json or speaks a protocol the master refuses', () => {
    const dir = join(tmp, 'mismatch');
    mkdirSync(dir);
    copyFileSync(join(bundleOut, 'agent', 'slipway-agent.json'), join(dir, 'slipway-agent.json'));
    copyFileSync(join(bundleOut, 'agent', 'slipway-agent.mjs'), join(dir, 'slipway-agent.mjs'));
    expect(new AgentBundle(dir).current().ok).toBe(true);
    writeFileSync(join(dir, 'slipway-agent.mjs'), '// tampered on the master');
    const state = new AgentBundle(dir).current();
    expect(state.ok).toBe(false);
    expect(!state.ok && state.problem).toMatch(/does not match slipway-agent\.json/);
    // A bundle of a protocol this master refuses would strand every agent that upgrades to it.
    copyFileSync(join(bundleOut, 'agent', 'slipway-agent.mjs'), join(dir, 'slipway-agent.mjs'));
    const info = JSON.parse(readFileSync(join(dir, 'slipway-agent.json'), 'utf8'));
    writeFileSync(join(dir, 'slipway-agent.json'), JSON.stringify({ ...info, protocolVersion: PROTOCOL_VERSION + 1 }));
    const foreign = new AgentBundle(dir).current();
    expect(!foreign.ok && foreign.problem).toContain(`the bundle speaks protocol ${PROTOCOL_VERSION + 1}, this master ${PROTOCOL_VERSION}`);
    expect(new AgentBundle(join(tmp, 'nowhere')).current()).toEqual({ ok: false, problem: expect.stringContaining('run `npm run build`') });
  });

  it('keeps a V8 code cache next to the bundle for the next start, and compiles afresh when the cache does not fit', () => {
    const dir = join(tmp, 'code-cache');
    mkdirSync(dir);
    const bundle = join(dir, 'slipway-agent.mjs');
    copyFileSync(join(bundleOut, 'agent', 'slipway-agent.mjs'), bundle);
    const version = () => execFileSync(process.execPath, [bundle, '--version'], { encoding: 'utf8' }).trim();
    const first = JSON.parse(readFileSync(join(bundleOut, 'agent', 'slipway-agent.json'), 'utf8')) as BundleInfo;
    expect(version()).toBe(first.version);
    const cacheFile = `${bundle}.v8cache`;
    const cache = readFileSync(cacheFile);
    const keyLine = cache.subarray(0, cache.indexOf(10) + 1);
    expect(keyLine.toString()).toMatch(new RegExp(`^[0-9a-f]{64} ${process.version} ${process.arch}\n$`));
    expect(cache.length).toBeGreaterThan(100_000);
    // Used as it is: the next start leaves it alone.
    expect(version()).toBe(first.version);
    expect(readFileSync(cacheFile).equals(cache)).toBe(true);
    // A cache with the right key but bytes V8 refuses: the agent still starts, and writes a good one.
    // (V8's cache bytes differ from one compile to the next: compare the key and the size.)
    const rewritten = () => {
      const now = readFileSync(cacheFile);
      return now.subarray(0, keyLine.length).equals(keyLine) && now.length > 100_000;
    };
    writeFileSync(cacheFile, Buffer.concat([keyLine, Buffer.alloc(4096, 7)]));
    expect(version()).toBe(first.version);
    expect(rewritten()).toBe(true);
    // A cache of other code (another bundle version) is never used, whatever V8 would say.
    writeFileSync(cacheFile, Buffer.concat([Buffer.from(`${'0'.repeat(64)} ${process.version} ${process.arch}\n`), cache.subarray(keyLine.length)]));
    expect(version()).toBe(first.version);
    expect(rewritten()).toBe(true);
  });
});
