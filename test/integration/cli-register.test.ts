/**
 * `slipway register` (self-registration) against a real etcd: registers once the health URL answers, keeps
 * the key under a lease, deletes it on SIGTERM and exits 0; a TTL below 5 s is refused with a clear message.
 */
import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freeTcpPort, startEtcd, type TestEtcd } from '../helpers/discovery';
import { spawnCli } from '../helpers/process';

let dir: string;
let etcd: TestEtcd;
let client: Etcd3;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'slipway-register-'));
  etcd = await startEtcd(dir);
  client = new Etcd3({ hosts: [etcd.url] });
});

afterAll(async () => {
  client?.close();
  await etcd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function until(check: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('timed out');
}

describe('slipway register', () => {
  it('registers after the health URL answers, and deregisters on SIGTERM', async () => {
    let healthy = false;
    const port = await freeTcpPort();
    const app = createServer((_req, res) => {
      res.statusCode = healthy ? 200 : 503;
      res.end();
    });
    await new Promise<void>((r) => app.listen(port, '127.0.0.1', r));
    const key = `/selfreg_pre/127.0.0.1-${port}`;
    const p = spawnCli(['register', '--etcd', etcd.url, '--app', 'selfreg', '--environment', 'pre', '--ip', '127.0.0.1', '--port', String(port), '--ttl', '5', '--health', `http://127.0.0.1:${port}/`]);
    try {
      await new Promise((r) => setTimeout(r, 1500));
      expect(await client.get(key).string()).toBeNull();
      healthy = true;
      await until(async () => (await client.get(key).string()) === `127.0.0.1:${port}`);
      expect(Number((await client.get(key).exec()).kvs[0].lease)).toBeGreaterThan(0);
      await until(async () => p.output().includes(`registered ${key}`));
      p.process.kill('SIGTERM');
      expect(await p.exited).toBe(0);
      expect(await client.get(key).string()).toBeNull();
    } finally {
      await p.stop('SIGKILL');
      app.close();
    }
  });

  it('refuses a TTL below 5 seconds', async () => {
    const p = spawnCli(['register', '--etcd', etcd.url, '--app', 'x', '--environment', 'pre', '--ip', '127.0.0.1', '--port', '8080', '--ttl', '2']);
    expect(await p.exited).toBe(1);
    expect(p.output()).toContain('etcd lease TTL must be a whole number of seconds >= 5 (got 2)');
  });
});
