/**
 * Compose deploys against the real Docker engine: replicas on host networking with their own PORT, scaling
 * that keeps untouched instances, a start-first rolling update watched every 20 ms (never fewer healthy than
 * replicas) that lets a slow request on an old instance finish, an automatic rollback of a broken version
 * that says why, hooks called at the right moments, down, and a missing image.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploy, DeployError, down, scale, type DeployContext } from '../../agent/deploy/rollout';
import { freePort, listInstances, type Instance } from '../../agent/deploy/instances';
import { createServer } from 'node:net';
import { renderCompose } from '../../shared/compose/render';
import { buildTestApp, removeImages, requireDocker, uniqueName, type DockerTestEnv } from '../helpers/docker';

let env: DockerTestEnv;
let dir: string;
let appImage: string;
const images: string[] = [];
const app = uniqueName('web');
const events: string[] = [];
let logText = '';

const COMPOSE = `services:
  web:
    image: \${IMAGE}
    command: ["node", "/app/server.js"]
    environment: { VERSION: "\${VERSION}", BROKEN: "\${BROKEN:-}" }
    healthcheck: { http: /health, start_period: 1s, interval: 200ms, timeout: 1s, retries: 3, deadline: 20s }
    stop_grace_period: 10s
    deploy:
      replicas: \${REPLICAS}
      update_config: { parallelism: 1, order: start-first }
      resources: { limits: { memory: 256m } }
`;

function service(vars: Record<string, string>) {
  return renderCompose(COMPOSE, { file: 'compose.yml', environment: 'pre', vars: { IMAGE: appImage, REPLICAS: '2', ...vars } }).config.services.web;
}

function ctx(target = app): DeployContext {
  return {
    docker: env.docker,
    app: target,
    environment: 'pre',
    host: '127.0.0.1',
    log: (l) => {
      logText += l;
    },
    hooks: {
      live: (i) => void events.push(`live ${i.name}`),
      leaving: async (i) => {
        const running = (await env.docker.getContainer(i.id).inspect()).State.Running;
        events.push(`leaving ${i.name} running=${running}`);
      },
    },
  };
}

async function get(i: Pick<Instance, 'port'>, path = '/'): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${i.port}${path}`);
  return r.text();
}

beforeAll(async () => {
  env = await requireDocker();
  dir = mkdtempSync(join(tmpdir(), 'slipway-deploy-'));
  const ns = uniqueName('d');
  appImage = `${env.registry}/${ns}/web:1`;
  images.push(...(await buildTestApp(env.docker, dir, appImage)));
}, 120_000);

afterAll(async () => {
  if (env) {
    await down(ctx()).catch(() => undefined);
    await down(ctx(`${app}-other`)).catch(() => undefined);
    await removeImages(env.docker, images);
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('compose deploy', () => {
  let v2: Instance[];

  it('deploys 2 replicas, each answering on its own port, registered only once healthy', async () => {
    const r = await deploy(ctx(), { service: service({ VERSION: 'v1' }), build: '1' });
    expect(r.instances).toHaveLength(2);
    expect(new Set(r.instances.map((i) => i.port)).size).toBe(2);
    for (const i of r.instances) expect(await get(i)).toBe(`v1 on ${i.port}\n`);
    expect(events.filter((e) => e.startsWith('live'))).toEqual(r.instances.map((i) => `live ${i.name}`).sort((a, b) => events.indexOf(a) - events.indexOf(b)));
  });

  it('scales 2 -> 4 -> 1 without touching the instances it keeps', async () => {
    const before = await listInstances(env.docker, ctx());
    const up = await scale(ctx(), 4);
    expect(up.instances).toHaveLength(4);
    expect(up.started).toBe(2);
    for (const b of before) expect(up.instances.map((i) => i.id)).toContain(b.id);
    for (const i of up.instances) expect(await get(i)).toBe(`v1 on ${i.port}\n`);
    const downTo1 = await scale(ctx(), 1);
    expect(downTo1.instances.map((i) => i.id)).toEqual([before[0].id]);
    expect(downTo1.stopped).toBe(3);
    // Redeploying the same configuration with 2 replicas only scales: the kept instance stays.
    const again = await deploy(ctx(), { service: service({ VERSION: 'v1' }), build: '2' });
    expect(again.scaledOnly).toBe(true);
    expect(again.instances.map((i) => i.id)).toContain(before[0].id);
    expect(again.instances).toHaveLength(2);
  });

  it('rolls v1 -> v2 start-first: never fewer than 2 healthy, and a slow request on an old instance completes', async () => {
    const old = await listInstances(env.docker, ctx());
    let minHealthy = Infinity;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const list = await listInstances(env.docker, ctx());
        const ok = await Promise.all(
          list.filter((i) => i.running).map((i) => fetch(`http://127.0.0.1:${i.port}/health`, { signal: AbortSignal.timeout(2000) }).then((r) => r.ok, () => false)),
        );
        minHealthy = Math.min(minHealthy, ok.filter(Boolean).length);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const slow = get(old[0], '/slow?ms=2500');
    const mark = events.length;
    const r = await deploy(ctx(), { service: service({ VERSION: 'v2' }), build: '3' });
    watching = false;
    await watcher;
    expect(await slow).toBe('slow done v1');
    expect(minHealthy).toBeGreaterThanOrEqual(2);
    expect(r.started).toBe(2);
    expect(r.stopped).toBe(2);
    for (const i of r.instances) expect(await get(i)).toBe(`v2 on ${i.port}\n`);
    // Every old instance was announced as leaving while still running, after a new one was live.
    const after = events.slice(mark);
    for (const o of old) expect(after).toContain(`leaving ${o.name} running=true`);
    expect(after[0]).toMatch(/^live /);
    expect((await listInstances(env.docker, ctx())).map((i) => i.id).sort()).toEqual(r.instances.map((i) => i.id).sort());
    v2 = r.instances;
  });

  it('rolls a broken v3 back automatically and says why it was not healthy', async () => {
    logText = '';
    const err = await deploy(ctx(), { service: service({ VERSION: 'v3', BROKEN: '1' }), build: '4' }).catch((e) => e);
    expect(err).toBeInstanceOf(DeployError);
    expect(err.rolledBack).toBe(true);
    expect(err.message).toMatch(/did not become healthy: 3 health probes failed after the start period/);
    expect(err.message).toContain('HTTP 500: broken on purpose');
    expect(err.message).toContain('listening on');
    const now = await listInstances(env.docker, ctx());
    expect(now.map((i) => i.id).sort()).toEqual(v2.map((i) => i.id).sort());
    for (const i of now) expect(await get(i)).toBe(`v2 on ${i.port}\n`);
  });

  it('down removes only its own app', async () => {
    const other = await deploy(ctx(`${app}-other`), { service: service({ VERSION: 'other', REPLICAS: '1' }), replicas: 1, build: '1' });
    expect(await down(ctx())).toBe(2);
    expect(await listInstances(env.docker, ctx())).toEqual([]);
    const still = await listInstances(env.docker, ctx(`${app}-other`));
    expect(still.map((i) => i.id)).toEqual(other.instances.map((i) => i.id));
  });

  it('fails with a clear message when the image does not exist in the registry', async () => {
    const missing = `${env.registry}/${uniqueName('nope')}/web:1`;
    const err = await deploy(ctx(uniqueName('missing')), { service: { ...service({ VERSION: 'x' }), image: missing }, build: '1' }).catch((e) => e);
    expect(err).toBeInstanceOf(DeployError);
    expect(err.message).toMatch(new RegExp(`^cannot pull ${missing.replace(/[.]/g, '\\.')}: .*(not found|manifest unknown)`, 'i'));
  });

  it('fails with a clear message after bounded retries when the registry does not answer', async () => {
    const port = await freePort(env.docker);
    const unreachable = `127.0.0.1:${port}/${uniqueName('gone')}/web:1`;
    logText = '';
    const err = await deploy(ctx(uniqueName('unreachable')), { service: { ...service({ VERSION: 'x' }), image: unreachable }, build: '1' }).catch((e) => e);
    expect(err).toBeInstanceOf(DeployError);
    expect(err.message).toMatch(new RegExp(`^cannot pull ${unreachable.replace(/[.]/g, '\\.')}: .*(connection refused|connect)`, 'i'));
    expect(logText).toContain('(attempt 3 of 3)');
  });

  it('retries on another port when the chosen one was taken before the app bound it', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '0.0.0.0', r));
    const takenPort = (taken.address() as { port: number }).port;
    const target = uniqueName('port');
    const ports: number[] = [];
    try {
      logText = '';
      const r = await deploy(
        {
          ...ctx(target),
          pickPort: async (d) => {
            const p = ports.length === 0 ? takenPort : await freePort(d);
            ports.push(p);
            return p;
          },
        },
        { service: service({ VERSION: 'vp', REPLICAS: '1' }), replicas: 1, build: '1' },
      );
      expect(ports[0]).toBe(takenPort);
      expect(r.instances.map((i) => i.port)).toEqual([ports[1]]);
      expect(logText).toContain(`port ${takenPort} was taken meanwhile; retrying on another port`);
      expect(await get(r.instances[0])).toBe(`vp on ${ports[1]}\n`);
    } finally {
      taken.close();
      await down(ctx(target));
    }
  });
});
