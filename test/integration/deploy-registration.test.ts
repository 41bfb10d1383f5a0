/**
 * Deploys registering in etcd (real Docker engine and etcd): instances are registered once healthy and
 * deregistered before they stop in a scale-down and a rolling update, a container that dies is deregistered
 * from Docker's event stream, and a restarted agent (new lease) registers the running instances again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InstanceRegistration } from '../../agent/discovery/instance-registration';
import { EtcdRegistrar } from '../../agent/discovery/registrar';
import { deploy, down, scale, type DeployContext } from '../../agent/deploy/rollout';
import { renderCompose } from '../../shared/compose/render';
import { buildTestApp, removeImages, requireDocker, uniqueName, type DockerTestEnv } from '../helpers/docker';
import { startEtcd, type TestEtcd } from '../helpers/discovery';

let env: DockerTestEnv;
let dir: string;
let etcd: TestEtcd;
let client: Etcd3;
let appImage: string;
const images: string[] = [];
const app = uniqueName('reg');

const COMPOSE = `services:
  web:
    image: \${IMAGE}
    command: ["node", "/app/server.js"]
    environment: { VERSION: "\${VERSION}" }
    healthcheck: { http: /health, start_period: 1s, interval: 200ms, timeout: 1s, retries: 3, deadline: 20s }
    stop_grace_period: 5s
    # No restart: the killed instance stays dead (a restarted one would be registered again by the resync).
    deploy: { replicas: 2, restart_policy: { condition: none } }
`;
const service = (version: string) => renderCompose(COMPOSE, { file: 'compose.yml', environment: 'pre', vars: { IMAGE: appImage, VERSION: version } }).config.services.web;

async function keys(): Promise<string[]> {
  return Object.keys(await client.getAll().prefix(`/${app}_pre/`).strings()).sort();
}

async function until(what: string, check: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

beforeAll(async () => {
  env = await requireDocker();
  dir = mkdtempSync(join(tmpdir(), 'slipway-deploy-reg-'));
  etcd = await startEtcd(dir);
  client = new Etcd3({ hosts: [etcd.url] });
  appImage = `slipway-test/${uniqueName('r')}-web:1`;
  images.push(...(await buildTestApp(env.docker, dir, appImage)));
}, 120_000);

afterAll(async () => {
  client?.close();
  await etcd?.stop();
  if (env) await removeImages(env.docker, images);
  rmSync(dir, { recursive: true, force: true });
});

describe('deploy + registration', () => {
  it('keeps etcd equal to the healthy instances through deploy, scale, update, death and agent restart', async () => {
    const registrar = new EtcdRegistrar({ endpoints: [etcd.url], ttlSeconds: 5, checkMs: 500 });
    await registrar.start();
    const reg = new InstanceRegistration(env.docker, registrar, '127.0.0.1');
    await reg.start();
    // Before each stop, the key must already be gone: the leaving hook runs first.
    const stoppedWhileRegistered: string[] = [];
    const ctx: DeployContext = {
      docker: env.docker,
      app,
      environment: 'pre',
      host: '127.0.0.1',
      log: () => undefined,
      hooks: {
        live: reg.hooks.live,
        leaving: async (i) => {
          await reg.hooks.leaving(i);
          if ((await client.get(`/${app}_pre/127.0.0.1-${i.port}`).string()) !== null) stoppedWhileRegistered.push(i.name);
        },
      },
    };
    const expected = (ports: number[]) => ports.map((p) => `/${app}_pre/127.0.0.1-${p}`).sort();
    try {
      const v1 = await deploy(ctx, { service: service('v1'), build: '1' });
      expect(await keys()).toEqual(expected(v1.instances.map((i) => i.port)));
      expect(await client.get(`/${app}_pre/127.0.0.1-${v1.instances[0].port}`).string()).toBe(`127.0.0.1:${v1.instances[0].port}`);

      const three = await scale(ctx, 3);
      expect(await keys()).toEqual(expected(three.instances.map((i) => i.port)));
      const one = await scale(ctx, 1);
      expect(await keys()).toEqual(expected(one.instances.map((i) => i.port)));

      const v2 = await deploy(ctx, { service: service('v2'), build: '2' });
      expect(await keys()).toEqual(expected(v2.instances.map((i) => i.port)));
      expect(stoppedWhileRegistered).toEqual([]);

      // A container that dies is deregistered from Docker's events.
      await env.docker.getContainer(v2.instances[0].id).kill();
      await until('deregistration of the dead instance', async () => (await keys()).length === 1);
      expect(await keys()).toEqual(expected([v2.instances[1].port]));
      expect(reg.deaths).toBe(1);

      // The agent restarts: a new registrar (new lease) finds the running instance and registers it again.
      reg.stop();
      await registrar.stop({ revoke: true });
      expect(await keys()).toEqual([]);
      // An instance of another environment on the same engine (an agent of prod on this host) is not this
      // agent's to register.
      const other = await deploy({ ...ctx, environment: 'prod', hooks: undefined }, { service: service('p'), replicas: 1, build: '1' });
      const registrar2 = new EtcdRegistrar({ endpoints: [etcd.url], ttlSeconds: 5 });
      await registrar2.start();
      const reg2 = new InstanceRegistration(env.docker, registrar2, '127.0.0.1', () => undefined, 5_000, 1_000, 'pre');
      await reg2.start();
      expect(await keys()).toEqual(expected([v2.instances[1].port]));
      expect(Object.keys(await client.getAll().prefix(`/${app}_prod/`).strings())).toEqual([]);
      expect(other.instances).toHaveLength(1);
      await down({ ...ctx, environment: 'prod', hooks: undefined });
      reg2.stop();
      await registrar2.stop({ revoke: true });
    } finally {
      reg.stop();
      await down({ ...ctx, hooks: undefined });
    }
  });
});
