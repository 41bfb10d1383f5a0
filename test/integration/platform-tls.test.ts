/**
 * HTTPS serving: a master started with --tls-cert/--tls-key answers over TLS with a certificate a client
 * pinning that CA accepts, reports an https URL, and refuses plain HTTP.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli, type Spawned } from '../helpers/process';
import { waitFor } from '../helpers/wait';

function get(url: string, ca?: Buffer): Promise<{ status: number; body: string; hsts?: string }> {
  return new Promise((resolve, reject) => {
    const mod = url.startsWith('https') ? https : http;
    const req = mod.get(url, ca ? { ca } : {}, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body, hsts: res.headers['strict-transport-security'] as string | undefined }));
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
  });
}

describe('master over HTTPS', () => {
  let dir: string;
  let proc: Spawned;
  let info: { url: string; port: number };
  let cert: Buffer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'slipway-tls-'));
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'ignore' });
    cert = readFileSync(join(dir, 'cert.pem'));
    const dataDir = join(dir, 'data');
    proc = spawnCli(
      ['master', 'start', '--data-dir', dataDir, '--port', '0', '--tls-cert', join(dir, 'cert.pem'), '--tls-key', join(dir, 'key.pem')],
      { SLIPWAY_ADMIN_PASSWORD: 'tls-admin-password' },
    );
    info = await waitFor('master.json', () => {
      if (proc.process.exitCode !== null) throw new Error(`master exited:\n${proc.output()}`);
      try {
        return JSON.parse(readFileSync(join(dataDir, 'master.json'), 'utf8'));
      } catch {
        return undefined;
      }
    });
  });
  afterAll(async () => {
    await proc?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves HTTPS to a client pinning the CA, with HSTS', async () => {
    expect(info.url).toBe(`https://127.0.0.1:${info.port}`);
    const res = await get(`${info.url}/healthz`, cert);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ ok: true });
    expect(res.hsts).toMatch(/max-age=/);
  });

  it('is refused by a client that does not trust the certificate, and does not speak plain HTTP', async () => {
    await expect(get(`${info.url}/healthz`)).rejects.toThrow(/self.signed|certificate/i);
    await expect(get(`http://127.0.0.1:${info.port}/healthz`)).rejects.toThrow();
  });
});
