/**
 * Discovery on a real etcd and nginx (started here on loopback ports), the registrar and edge as agents run
 * them, and a client with a fresh connection per request:
 *
 * - discovery_p50_ms / discovery_p99_ms: a new instance registered -> nginx routes a request to it, 100 changes
 *   (each change registers a new instance and deregisters the previous one, 150 ms apart). Targets: p50 <= 25,
 *   p99 <= 60.
 * - deregister_p99_ms: deregistration -> no request reaches the instance any more (100 changes). Its floor is
 *   nginx's own hand-over: old workers keep accepting for 100 ms after a reload (reuseport or not).
 * - reloads_for_scale_to_20: nginx reloads caused by registering 19 more instances at once. Target <= 2.
 * - baseline_reload_ms: writing the file, nginx -t and a reload, measured alone (the fixed cost inside each figure).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, get as httpGet, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { NginxEdge } from '../../agent/discovery/nginx-edge';
import { EtcdRegistrar, type Registration } from '../../agent/discovery/registrar';
import { reportBench } from '../helpers/bench';
import { freeTcpPort, startEtcd, startNginx } from '../helpers/discovery';

const CHANGES = 100;
const dir = mkdtempSync(join(tmpdir(), 'slipway-discovery-bench-'));
const etcd = await startEtcd(dir);
const nginx = await startNginx(dir);
const client = new Etcd3({ hosts: [etcd.url] });
const servers: Server[] = [];

async function instance(name: string): Promise<number> {
  const port = await freeTcpPort();
  const s = createServer((_req, res) => res.end(name));
  s.keepAliveTimeout = 0;
  await new Promise<void>((r) => s.listen(port, '127.0.0.1', r));
  servers.push(s);
  return port;
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const round = (x: number) => Math.round(x * 10) / 10;

try {
  const listen = await freeTcpPort();
  const registrar = new EtcdRegistrar({ endpoints: [etcd.url], ttlSeconds: 10 });
  await registrar.start();
  const edge = new NginxEdge({ etcd: client, routes: [{ app: 'bench', environment: 'pre', listen: `127.0.0.1:${listen}` }], file: nginx.includeFile, nginx: nginx.command });
  await edge.start();
  // A fresh connection per request (no keep-alive agent), as a new client would see it. fetch() would keep
  // its connection to an old nginx worker alive across reloads and measure that worker's shutdown instead.
  const get = () =>
    new Promise<string>((resolve) => {
      const req = httpGet({ host: '127.0.0.1', port: listen, path: '/', agent: false }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d));
        res.on('end', () => resolve(body));
        res.on('error', () => resolve(''));
      });
      req.on('error', () => resolve(''));
    });
  const reg = (port: number): Registration => ({ app: 'bench', environment: 'pre', ip: '127.0.0.1', port });

  // Baseline: write + nginx -t + reload, alone.
  const reloads: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t = performance.now();
    writeFileSync(`${nginx.includeFile}.probe`, `# ${i}\n`);
    execFileSync(nginx.command[0], [...nginx.command.slice(1), '-t'], { stdio: 'ignore' });
    execFileSync(nginx.command[0], [...nginx.command.slice(1), '-s', 'reload'], { stdio: 'ignore' });
    reloads.push(performance.now() - t);
  }

  const appear: number[] = [];
  const vanish: number[] = [];
  let prev: number | undefined;
  for (let i = 0; i < CHANGES; i++) {
    const name = `i${i}`;
    const port = await instance(name);
    let t = performance.now();
    await registrar.register(reg(port));
    while ((await get()) !== name && !(await get()).startsWith(name)) await new Promise((r) => setTimeout(r, 1));
    appear.push(performance.now() - t);
    if (prev !== undefined) {
      // Both are routed now; deregister the previous one and wait until no request reaches it.
      const old = `i${i - 1}`;
      t = performance.now();
      await registrar.deregister(reg(prev));
      for (;;) {
        const seen = await Promise.all([get(), get(), get(), get()]);
        if (!seen.includes(old)) break;
      }
      vanish.push(performance.now() - t);
    }
    prev = port;
    // nginx's master sleeps 100 ms inside every reload (old workers keep accepting meanwhile) and handles the
    // next SIGHUP only after it: space the changes so each one measures one registration, not that queue.
    await new Promise((r) => setTimeout(r, 150));
  }

  // Scale 1 -> 20: 19 registrations in one burst.
  const before = edge.status.applied;
  const ports = await Promise.all(Array.from({ length: 19 }, (_, i) => instance(`s${i}`)));
  await Promise.all(ports.map((p) => registrar.register(reg(p))));
  const deadline = Date.now() + 10_000;
  while ((edge.status.upstreams['bench_pre']?.length ?? 0) < 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 300));
  const scaleReloads = edge.status.applied - before;

  await edge.stop();
  await registrar.stop({ revoke: true });
  reportBench({
    discovery_p50_ms: round(pct(appear, 50)),
    discovery_p99_ms: round(pct(appear, 99)),
    deregister_p50_ms: round(pct(vanish, 50)),
    deregister_p99_ms: round(pct(vanish, 99)),
    discovery_changes: CHANGES,
    reloads_for_scale_to_20: scaleReloads,
    baseline_reload_ms: round(pct(reloads, 50)),
  });
} finally {
  for (const s of servers) s.close();
  client.close();
  await nginx.stop();
  await etcd.stop();
  rmSync(dir, { recursive: true, force: true });
}
