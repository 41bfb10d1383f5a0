/**
 * Real etcd and nginx for discovery tests, each started by the test on free loopback ports under its own
 * directory (Debian's etcd-server and nginx-light; `npm test` installs them). Both are stopped by stop().
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

export async function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} did not come up within ${ms} ms`);
}

export interface TestEtcd {
  url: string;
  /**
   * SIGKILL; with `wipe` the data directory is replaced (every key and lease gone); after `downMs` (default 0)
   * started again.
   */
  restart(opts?: { wipe?: boolean; downMs?: number }): Promise<void>;
  stop(): Promise<void>;
}

export async function startEtcd(dir: string): Promise<TestEtcd> {
  const client = await freeTcpPort();
  const peer = await freeTcpPort();
  const url = `http://127.0.0.1:${client}`;
  let proc: ChildProcess | undefined;
  let generation = 0;
  const start = async () => {
    const data = join(dir, `etcd-data-${generation}`);
    proc = spawn(
      'etcd',
      ['--data-dir', data, '--name', 'test', '--listen-client-urls', url, '--advertise-client-urls', url, '--listen-peer-urls', `http://127.0.0.1:${peer}`,
        '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`, '--initial-cluster', `test=http://127.0.0.1:${peer}`, '--log-level', 'error'],
      { stdio: 'ignore' },
    );
    await waitFor('etcd', async () => (await fetch(`${url}/health`)).ok);
  };
  const kill = async () => {
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((r) => proc!.once('exit', r));
    proc.kill('SIGKILL');
    await exited;
  };
  await start();
  return {
    url,
    async restart(opts = {}) {
      await kill();
      if (opts.wipe) generation++;
      if (opts.downMs) await new Promise((r) => setTimeout(r, opts.downMs));
      await start();
    },
    stop: kill,
  };
}

export interface TestEtcdCluster {
  /** Client URLs of the members, in member order. */
  urls: string[];
  /** The index of the member that leads now (from each member's /v3/maintenance/status). */
  leader(): Promise<number>;
  /** SIGKILL one member (the others elect a new leader when it led). */
  kill(i: number): Promise<void>;
  stop(): Promise<void>;
}

/** A three-member etcd cluster on loopback, for leader changes. */
export async function startEtcdCluster(dir: string): Promise<TestEtcdCluster> {
  const ports = await Promise.all(Array.from({ length: 6 }, () => freeTcpPort()));
  const names = ['m0', 'm1', 'm2'];
  const urls = names.map((_, i) => `http://127.0.0.1:${ports[i]}`);
  const peers = names.map((_, i) => `http://127.0.0.1:${ports[3 + i]}`);
  const initial = names.map((n, i) => `${n}=${peers[i]}`).join(',');
  const procs = names.map((n, i) =>
    spawn(
      'etcd',
      ['--data-dir', join(dir, `etcd-${n}`), '--name', n, '--listen-client-urls', urls[i], '--advertise-client-urls', urls[i], '--listen-peer-urls', peers[i],
        '--initial-advertise-peer-urls', peers[i], '--initial-cluster', initial, '--initial-cluster-state', 'new', '--log-level', 'error',
        '--heartbeat-interval', '50', '--election-timeout', '500'],
      { stdio: 'ignore' },
    ),
  );
  const status = async (i: number) => {
    const r = await fetch(`${urls[i]}/v3/maintenance/status`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(1000) });
    return (await r.json()) as { header: { member_id: string }; leader: string };
  };
  const kill = async (i: number) => {
    const p = procs[i];
    if (p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  };
  await waitFor('etcd cluster', async () => (await Promise.all(urls.map((u) => fetch(`${u}/health`).then((r) => r.ok)))).every(Boolean), 30_000);
  return {
    urls,
    async leader() {
      for (let i = 0; i < urls.length; i++) {
        const st = await status(i).catch(() => undefined);
        if (st && st.leader === st.header.member_id) return i;
      }
      throw new Error('no etcd member leads');
    },
    kill,
    async stop() {
      await Promise.all(procs.map((_, i) => kill(i)));
    },
  };
}

export interface TestNginx {
  /** The command line that checks and reloads this nginx: pass to NginxEdge. */
  command: string[];
  /** The include file the edge owns. */
  includeFile: string;
  stop(): Promise<void>;
}

/** nginx in the foreground with its own prefix; nginx.conf includes `edge.conf` (initially empty). */
export async function startNginx(dir: string): Promise<TestNginx> {
  const prefix = join(dir, 'nginx');
  mkdirSync(join(prefix, 'logs'), { recursive: true });
  const includeFile = join(prefix, 'edge.conf');
  writeFileSync(includeFile, '');
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(
    conf,
    `daemon off;
pid ${prefix}/nginx.pid;
error_log ${prefix}/logs/error.log warn;
worker_processes 1;
# Long connections must not keep old workers alive for ever after a reload.
worker_shutdown_timeout 10s;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${prefix}/tmp-body;
  proxy_temp_path ${prefix}/tmp-proxy;
  include ${includeFile};
}
`,
  );
  const command = ['nginx', '-p', prefix, '-c', conf];
  const proc = spawn(command[0], command.slice(1), { stdio: 'ignore' });
  await waitFor('nginx', async () => {
    const { readFileSync } = await import('node:fs');
    return readFileSync(join(prefix, 'nginx.pid'), 'utf8').trim().length > 0;
  });
  return {
    command,
    includeFile,
    async stop() {
      if (proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGQUIT');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}
