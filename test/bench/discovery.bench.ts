/**
 * Discovery on a real etcd and nginx (started here on loopback ports), the registrar and edge as agents run
 * them, and a client with a fresh connection per request:
 *
 * - discovery_p50_ms / discovery_p99_ms: a new instance registered -> nginx routes a request to it, 100 changes
 *   (each change registers a new instance, then deregisters the previous one; every registration and
 *   deregistration starts 150 ms after the reload before it, since nginx's master handles a SIGHUP only after
 *   the 100 ms pause of the reload before). Targets: p50 <= 25, p99 <= 60.
 * - deregister_p99_ms: deregistration -> no request reaches the instance any more (100 changes). nginx's own
 *   hand-over keeps old workers accepting for 100 ms after a reload; the edge ends it once the new workers run.
 * - reloads_for_scale_to_20: nginx reloads caused by registering 19 more instances at once. Target <= 2.
 * - discovery_nginx_handover_*: the same changes, in the same run, with the edge leaving the hand-over to
 *   nginx (fastHandOver: false), the baseline for the edge's early end of it.
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
  const registrar = new EtcdRegistrar({ endpoints: [etcd.url], ttlSeconds: 10 });
  await registrar.start();
  const reg = (app: string, port: number): Registration => ({ app, environment: 'pre', ip: '127.0.0.1', port });

  // Baseline: write + nginx -t + reload, alone.
  const reloads: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t = performance.now();
    writeFileSync(`${nginx.includeFile}.probe`, `# ${i}\n`);
    execFileSync(nginx.command[0], [...nginx.command.slice(1), '-t'], { stdio: 'ignore' });
    execFileSync(nginx.command[0], [...nginx.command.slice(1), '-s', 'reload'], { stdio: 'ignore' });
    reloads.push(performance.now() - t);
  }

  /**
   * 100 changes through an edge on its own app and port: each registers a new instance, waits until a fresh
   * connection reaches it, then deregisters the previous one and waits until none does.
   */
  async function changes(app: string, fastHandOver: boolean) {
    const listen = await freeTcpPort();
    const edge = new NginxEdge({ etcd: client, routes: [{ app, environment: 'pre', listen: `127.0.0.1:${listen}` }], file: nginx.includeFile, nginx: nginx.command, fastHandOver });
    await edge.start();
    // nginx's master sleeps 100 ms inside every reload with signals blocked and handles the next SIGHUP only
    // after it: every change below starts 150 ms after the reload before it (here the edge's first apply), so
    // each figure measures one registration or deregistration, not that queue.
    const settle = () => new Promise((r) => setTimeout(r, 150));
    await settle();
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
    const appear: number[] = [];
    const vanish: number[] = [];
    let prev: number | undefined;
    for (let i = 0; i < CHANGES; i++) {
      const name = `${app}${i}`;
      const port = await instance(name);
      let t = performance.now();
      await registrar.register(reg(app, port));
      while ((await get()) !== name && (await get()) !== name) await new Promise((r) => setTimeout(r, 1));
      appear.push(performance.now() - t);
      if (prev !== undefined) {
        // Both are routed now; deregister the previous one (as a scale-down would, apart from other changes)
        // and wait until no request reaches it.
        await settle();
        const old = `${app}${i - 1}`;
        t = performance.now();
        await registrar.deregister(reg(app, prev));
        for (;;) {
          const seen = await Promise.all([get(), get(), get(), get()]);
          if (!seen.includes(old)) break;
        }
        vanish.push(performance.now() - t);
      }
      prev = port;
      await settle();
    }
    return { edge, appear, vanish };
  }

  // The same run, first with nginx's own hand-over (old workers accept for 100 ms after a reload), then with
  // the edge ending it as soon as the new workers run.
  const base = await changes('base', false);
  await base.edge.stop();
  const { edge, appear, vanish } = await changes('bench', true);
  if (process.env.BENCH_TAILS) for (const [k, v] of Object.entries({ baseAppear: base.appear, baseVanish: base.vanish, appear, vanish })) console.log(k, [...v].sort((a, b) => a - b).slice(-8).map(Math.round).join(" "), "median", Math.round(pct(v, 50)), "slowest at change", v.indexOf(Math.max(...v)));

  // Scale 1 -> 20: 19 registrations in one burst.
  const before = edge.status.applied;
  const ports = await Promise.all(Array.from({ length: 19 }, (_, i) => instance(`s${i}`)));
  await Promise.all(ports.map((p) => registrar.register(reg('bench', p))));
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
    discovery_nginx_handover_p50_ms: round(pct(base.appear, 50)),
    discovery_nginx_handover_p99_ms: round(pct(base.appear, 99)),
    deregister_nginx_handover_p99_ms: round(pct(base.vanish, 99)),
    discovery_p99_ratio_vs_nginx_handover: Math.round((pct(appear, 99) / pct(base.appear, 99)) * 100) / 100,
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
