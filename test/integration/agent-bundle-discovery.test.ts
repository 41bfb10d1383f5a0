/**
 * The agent bundle (scripts/build.mjs) runs the discovery services like the sources do: its etcd client is
 * built from an inlined protocol description, which once camelCased every field name, so prefix reads and
 * watches silently did nothing and the edge service never started. A bundled agent with the registration and
 * edge services against a real etcd and nginx must report both running and route a registered instance.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ensureEnvironment, startMaster, type TestMaster } from '../helpers/cluster';
import { freeTcpPort, startEtcd, startNginx, type TestEtcd, type TestNginx } from '../helpers/discovery';
import { REPO_ROOT } from '../helpers/process';
import { waitFor } from '../helpers/wait';

let dir: string;
let master: TestMaster;
let etcd: TestEtcd;
let nginx: TestNginx;
let agent: ChildProcess | undefined;
let app: Server;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'slipway-bundle-disc-'));
  execFileSync(process.execPath, [join(REPO_ROOT, 'scripts', 'build.mjs'), '--out', join(dir, 'dist'), '--agent-only'], { stdio: 'pipe' });
  etcd = await startEtcd(dir);
  nginx = await startNginx(dir);
  master = await startMaster();
}, 120_000);

afterAll(async () => {
  agent?.kill('SIGKILL');
  app?.close();
  await master?.stop();
  await nginx?.stop();
  await etcd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

it('runs registration and edge from the bundle: both services running, a registered instance routed', async () => {
  const listen = await freeTcpPort();
  const config = join(dir, 'agent.yml');
  writeFileSync(
    config,
    `etcd: { endpoints: [${etcd.url}] }\nservices:\n  registration: { ttlSeconds: 5 }\n  edge:\n    file: ${nginx.includeFile}\n    nginx: ${JSON.stringify(nginx.command)}\n    debounceMs: 20\n    routes: [{ app: bundled, environment: edge, listen: "127.0.0.1:${listen}" }]\n`,
  );
  await ensureEnvironment(master.api, 'edge');
  const token = (await master.api.createAgentToken('edge', 'bundled-edge')).token;
  agent = spawn(process.execPath, [join(dir, 'dist', 'agent', 'slipway-agent.mjs'), 'agent', 'start', '--url', master.url, '--name', 'bundled-edge', '--environment', 'edge', '--work-dir', join(dir, 'work'), '--config', config], {
    env: { ...process.env, SLIPWAY_AGENT_TOKEN: token },
    stdio: 'ignore',
  });
  const services = await waitFor('the bundled agent reports its services', async () => {
    const a = (await master.api.listAgents()).find((x) => x.name === 'bundled-edge');
    const s = a?.services ?? [];
    return s.length === 2 && s.every((x) => x.state !== 'starting') ? s : undefined;
  }, { timeoutMs: 30_000 });
  expect(services.map((s) => [s.name, s.state]).sort()).toEqual([['edge', 'running'], ['registration', 'running']]);

  const port = await freeTcpPort();
  app = createServer((_q, r) => r.end('from the bundle-routed instance'));
  await new Promise<void>((r) => app.listen(port, '127.0.0.1', r));
  const client = new Etcd3({ hosts: [etcd.url] });
  try {
    await client.put(`/bundled_edge/127.0.0.1-${port}`).value(`127.0.0.1:${port}`).exec();
    const body = await waitFor('routed through nginx', async () => {
      const t = await fetch(`http://127.0.0.1:${listen}/`).then((x) => x.text(), () => '');
      return t === 'from the bundle-routed instance' ? t : undefined;
    }, { timeoutMs: 15_000 });
    expect(body).toBe('from the bundle-routed instance');
  } finally {
    client.close();
  }
});
