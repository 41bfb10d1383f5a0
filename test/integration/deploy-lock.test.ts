/**
 * One deploy at a time per app and environment (real master, a pre agent with two slots, real Docker engine):
 * a second build's deploy stage of the same app waits, with the reason in the API, until the first ends,
 * while a deploy of another app runs at once; and a deploy step whose agent has not heard from the master for
 * half its lease refuses to touch containers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerClient } from '../../agent/docker/engine';
import { listInstances } from '../../agent/deploy/instances';
import { deploy, down, DeployError } from '../../agent/deploy/rollout';
import { fence } from '../../agent/executors/deploy';
import { renderCompose } from '../../shared/compose/render';
import { startAgent, startMaster, type TestMaster } from '../helpers/cluster';
import { buildTestApp, removeImages, requireDocker, uniqueName, type DockerTestEnv } from '../helpers/docker';
import { waitFor } from '../helpers/wait';

let env: DockerTestEnv;
let master: TestMaster;
let dir: string;
let appImage: string;
const images: string[] = [];
const ns = uniqueName('lock');

const job = (name: string, app: string) => `name: ${name}
team: ${ns}
stages:
  - name: deploy
    environment: pre
    steps:
      - deploy:
          app: ${app}
          image: ${appImage}
          composeInline: |
            services:
              web:
                image: \${IMAGE}
                # Slow to become healthy, so the deploy holds its lock for a few seconds.
                command: ["sh", "-c", "sleep 3; exec node /app/server.js"]
                healthcheck: { http: /health, start_period: 5s, interval: 200ms, timeout: 1s, retries: 3, deadline: 30s }
                deploy: { replicas: 1 }
`;

beforeAll(async () => {
  env = await requireDocker();
  dir = mkdtempSync(join(tmpdir(), 'slipway-lock-'));
  appImage = `slipway-test/${ns}-web:1`;
  images.push(...(await buildTestApp(env.docker, dir, appImage)));
  master = await startMaster();
  await master.api.createTeam(ns);
  await startAgent(master, { environment: 'pre', capacity: 3 });
}, 120_000);

afterAll(async () => {
  await master?.stop();
  if (env) {
    for (const app of [`${ns}-a`, `${ns}-b`, `${ns}-mount`]) await down({ docker: dockerClient(), app, environment: 'pre', host: '127.0.0.1', log: () => undefined });
    await removeImages(env.docker, images);
  }
  rmSync(dir, { recursive: true, force: true });
});

const finished = (id: number) =>
  waitFor(`build ${id} finished`, async () => {
    const b = await master.api.getBuild(id);
    return ['success', 'failed', 'cancelled'].includes(b.status) ? b : undefined;
  }, { timeoutMs: 90_000 });

describe('deploy lock', () => {
  it('runs one deploy of an app at a time, says why the second waits, and does not hold other apps back', async () => {
    await master.api.applyJob(job(`${ns}-one`, `${ns}-a`));
    await master.api.applyJob(job(`${ns}-two`, `${ns}-a`));
    await master.api.applyJob(job(`${ns}-other`, `${ns}-b`));
    const first = await master.api.trigger(`${ns}-one`);
    await waitFor('first deploy running', async () => ((await master.api.getBuild(first.id)).stages[0]?.status === 'running' ? true : undefined));
    const second = await master.api.trigger(`${ns}-two`);
    const other = await master.api.trigger(`${ns}-other`);
    const waiting = await waitFor('second deploy waiting for the lock', async () => {
      const b = await master.api.getBuild(second.id);
      return b.stages[0]?.status === 'queued' && b.stages[0].waiting ? b.stages[0].waiting : undefined;
    });
    expect(waiting).toBe(`waiting: deploy of ${ns}-a to pre in progress: build #1 of ${ns}-one`);
    // Another app deploys meanwhile.
    await waitFor('other app deploying', async () => ((await master.api.getBuild(other.id)).stages[0]?.status === 'running' ? true : undefined));
    expect((await master.api.getBuild(first.id)).status).toBe('running');
    const [b1, b2, b3] = [await finished(first.id), await finished(second.id), await finished(other.id)];
    expect([b1.status, b2.status, b3.status]).toEqual(['success', 'success', 'success']);
    // The second deploy started after the first ended.
    expect(b2.stages[0].startedAt!).toBeGreaterThanOrEqual(b1.stages[0].finishedAt!);
  });

  it('refuses to change containers once the lease is in doubt', async () => {
    expect(() => fence({ leaseTtlMs: 30_000, masterSilentMs: () => 10_000 })).not.toThrow();
    expect(() => fence({ leaseTtlMs: 30_000, masterSilentMs: () => 16_000 })).toThrow(/deploy stopped: no word from the master for 16 s, this stage's lease \(30 s\) is in doubt/);
    const app = uniqueName('fenced');
    const service = renderCompose(`services:\n  web:\n    image: ${appImage}\n    command: ["node", "/app/server.js"]\n`, { file: 'c.yml', environment: 'pre', vars: {} }).config.services.web;
    const err = await deploy(
      { docker: env.docker, app, environment: 'pre', host: '127.0.0.1', log: () => undefined, guard: () => fence({ leaseTtlMs: 4000, masterSilentMs: () => 3000 }) },
      { service, build: '1' },
    ).catch((e) => e);
    expect(err).toBeInstanceOf(DeployError);
    expect(await listInstances(env.docker, { app, environment: 'pre' })).toEqual([]);
  });

  it('refuses a bind mount until an admin allows it for the environment', async () => {
    const yaml = `name: ${ns}-mount
team: ${ns}
stages:
  - name: deploy
    environment: pre
    steps:
      - deploy:
          image: ${appImage}
          composeInline: |
            services:
              web:
                image: \${IMAGE}
                command: ["node", "/app/server.js"]
                volumes: ["/tmp:/host-tmp:ro"]
                healthcheck: { http: /health, start_period: 1s, interval: 200ms }
`;
    await master.api.applyJob(yaml);
    const refused = await finished((await master.api.trigger(`${ns}-mount`)).id);
    expect(refused.status).toBe('failed');
    const log = await master.api.request<string>('GET', `/api/v1/builds/${refused.id}/log`).catch(() => '');
    expect(JSON.stringify(refused) + String(log)).toContain('bind-mounting the host path /tmp is not allowed in environment pre (an admin can allow it: slipway env update pre --allow bind-mounts');
    const env2 = await master.api.updateEnvironment('pre', { deployPolicy: { allowBindMounts: true } });
    expect(env2.deployPolicy).toEqual({ allowBindMounts: true, allowPrivileged: false, allowDockerSocket: false });
    const ok = await finished((await master.api.trigger(`${ns}-mount`)).id);
    expect(ok.status).toBe('success');
    const [c] = await env.docker.listContainers({ filters: { label: [`io.slipway.app=${ns}-mount`] } });
    expect((await env.docker.getContainer(c.Id).inspect()).HostConfig.Binds).toEqual(['/tmp:/host-tmp:ro']);
  });
});
