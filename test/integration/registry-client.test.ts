/**
 * The registry client and authenticated pushes against a real docker-registry with htpasswd (basic) auth,
 * started by this test on a free loopback port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage } from '../../agent/docker/image-build';
import { ImagePushError, pushImage } from '../../agent/docker/image-push';
import { freePort } from '../../agent/deploy/instances';
import { RegistryClient, RegistryError, registryBaseUrl } from '../../shared/registry-client';
import { busyboxContext, removeImages, requireDocker, uniqueName, type DockerTestEnv } from '../helpers/docker';

let env: DockerTestEnv;
let dir: string;
let registry: ChildProcess;
let addr: string;
const refs: string[] = [];
const ns = uniqueName('rc');

beforeAll(async () => {
  env = await requireDocker();
  dir = mkdtempSync(join(tmpdir(), 'slipway-registry-'));
  addr = `127.0.0.1:${await freePort(env.docker)}`;
  writeFileSync(join(dir, 'htpasswd'), `ci:${bcrypt.hashSync('pushpass', 10).replace(/^\$2b\$/, '$2y$')}\n`);
  writeFileSync(
    join(dir, 'config.yml'),
    `version: 0.1\nlog: { level: warn }\nstorage: { filesystem: { rootdirectory: ${dir}/storage } }\nhttp: { addr: "${addr}" }\nauth: { htpasswd: { realm: slipway-test, path: ${dir}/htpasswd } }\n`,
  );
  registry = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(`http://${addr}/v2/`).then(
      (r) => r.status === 401,
      () => false,
    );
    if (ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }
});

afterAll(async () => {
  registry?.kill('SIGTERM');
  if (env) await removeImages(env.docker, refs);
  rmSync(dir, { recursive: true, force: true });
});

describe('registry with basic auth', () => {
  it('refuses a push without credentials, accepts one with them, and lists repositories and tags with digests', async () => {
    const ctx = join(dir, 'ctx');
    busyboxContext(ctx);
    const ref = `${addr}/${ns}/base:1`;
    await buildImage(env.docker, { context: ctx, tags: [ref], log: () => undefined });
    refs.push(ref);

    const anon = await pushImage(env.docker, ref, { log: () => undefined }).catch((e) => e);
    expect(anon).toBeInstanceOf(ImagePushError);
    expect(anon.message).toMatch(/no basic auth credentials|unauthorized|authentication required/i);

    const pushed = await pushImage(env.docker, ref, { auth: { username: 'ci', password: 'pushpass', serveraddress: addr }, log: () => undefined });

    const client = new RegistryClient({ url: addr, username: 'ci', password: 'pushpass' });
    await client.ping();
    expect(await client.repositories(ns)).toEqual([`${ns}/base`]);
    expect(await client.repositories('someone-else')).toEqual([]);
    expect(await client.tags(`${ns}/base`)).toEqual([{ tag: '1', digest: pushed.digest }]);
    expect(await client.tags(`${ns}/unknown`)).toEqual([]);
  });

  it('says when credentials are wrong or missing, and when the registry is unreachable', async () => {
    const wrong = await new RegistryClient({ url: addr, username: 'ci', password: 'nope' }).ping().catch((e) => e);
    expect(wrong).toBeInstanceOf(RegistryError);
    expect(wrong.message).toBe(`registry ${addr} refused the credentials of user ci`);
    const none = await new RegistryClient({ url: addr }).ping().catch((e) => e);
    expect(none.message).toBe(`registry ${addr} refused the credentials (none given)`);
    const port = await freePort(env.docker);
    const gone = await new RegistryClient({ url: `127.0.0.1:${port}` }).ping().catch((e) => e);
    expect(gone.message).toMatch(new RegExp(`^registry 127.0.0.1:${port} is unreachable: .*ECONNREFUSED`));
  });

  it('uses http for loopback hosts and https elsewhere', () => {
    expect(registryBaseUrl('127.0.0.1:5000')).toBe('http://127.0.0.1:5000');
    expect(registryBaseUrl('localhost:5000/')).toBe('http://localhost:5000');
    expect(registryBaseUrl('registry.example.com')).toBe('https://registry.example.com');
    expect(registryBaseUrl('http://reg.internal:5000')).toBe('http://reg.internal:5000');
  });
});
