/**
 * Discovery end to end: a real master, a pre agent whose config file runs the `registration` service and an
 * edge agent running the `edge` service, a real Docker engine, etcd and nginx. Deploy steps register their
 * instances; nginx routes to them; scale 2 -> 4 -> 1 and a rolling update happen under a request loop through
 * nginx with zero failed requests; a killed instance leaves nginx; the agents report their services.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerClient } from '../../agent/docker/engine';
import { down } from '../../agent/deploy/rollout';
import { startAgent, startMaster, type TestMaster } from '../helpers/cluster';
import { freeTcpPort, startEtcd, startNginx, type TestEtcd, type TestNginx } from '../helpers/discovery';
import { buildTestApp, removeImages, requireDocker, uniqueName, type DockerTestEnv } from '../helpers/docker';
import { waitFor } from '../helpers/wait';

let env: DockerTestEnv;
let master: TestMaster;
let etcd: TestEtcd;
let nginx: TestNginx;
let dir: string;
let listen: number;
let appImage: string;
const images: string[] = [];
const ns = uniqueName('disc');
const app = `${ns}-web`;
const job = `${ns}-job`;

const jobYaml = (version: string, replicas: number) => `name: ${job}
team: ${ns}
params: [{ name: REPLICAS, default: "${replicas}" }]
stages:
  - name: deploy
    environment: pre
    steps:
      - deploy:
          app: ${app}
          image: ${appImage}
          values: { VERSION: ${version} }
          composeInline: |
            services:
              web:
                image: \${IMAGE}
                command: ["node", "/app/server.js"]
                environment: { VERSION: "\${VERSION}" }
                healthcheck: { http: /health, start_period: 1s, interval: 200ms, timeout: 1s, retries: 3, deadline: 30s }
                stop_grace_period: 5s
                # No restart: a killed instance stays dead (one its restart policy brings back is routed again).
                deploy: { replicas: ${replicas}, update_config: { parallelism: 1, order: start-first }, restart_policy: { condition: none } }
`;

async function deploy(version: string, replicas: number): Promise<void> {
  await master.api.applyJob(jobYaml(version, replicas));
  const b = await master.api.trigger(job);
  const done = await waitFor('deploy build', async () => {
    const x = await master.api.getBuild(b.id);
    return x.status === 'success' || x.status === 'failed' || x.status === 'cancelled' ? x : undefined;
  }, { timeoutMs: 90_000 });
  expect(done.status, JSON.stringify(done)).toBe('success');
}

/** GET through nginx on a fresh connection: `200 <body>` or the error. */
async function viaNginx(): Promise<string> {
  return fetch(`http://127.0.0.1:${listen}/`, { headers: { connection: 'close' } }).then(
    async (r) => `${r.status} ${await r.text()}`,
    (e: Error) => `error ${e.message}`,
  );
}

/** Requests through nginx every 20 ms while `work` runs; returns the failures. */
async function underLoad(work: () => Promise<void>): Promise<{ failures: string[]; requests: number }> {
  let running = true;
  const failures: string[] = [];
  let requests = 0;
  const loop = (async () => {
    while (running) {
      const r = await viaNginx();
      requests++;
      if (!r.startsWith('200 ')) failures.push(r);
      await new Promise((res) => setTimeout(res, 20));
    }
  })();
  try {
    await work();
  } finally {
    running = false;
    await loop;
  }
  return { failures, requests };
}

beforeAll(async () => {
  env = await requireDocker();
  dir = mkdtempSync(join(tmpdir(), 'slipway-disc-'));
  etcd = await startEtcd(dir);
  nginx = await startNginx(dir);
  listen = await freeTcpPort();
  appImage = `slipway-test/${ns}-web:1`;
  images.push(...(await buildTestApp(env.docker, dir, appImage)));
  master = await startMaster({ env: { SLIPWAY_ETCD: etcd.url } });
  await master.api.createTeam(ns);
  const preFile = join(dir, 'pre.yml');
  writeFileSync(preFile, `etcd: { endpoints: [${etcd.url}] }\nservices:\n  registration: { ttlSeconds: 5, resyncMs: 2000 }\n`);
  const edgeFile = join(dir, 'edge.yml');
  writeFileSync(
    edgeFile,
    `etcd: { endpoints: [${etcd.url}] }\nservices:\n  edge:\n    file: ${nginx.includeFile}\n    nginx: ${JSON.stringify(nginx.command)}\n    debounceMs: 20\n    routes: [{ app: ${app}, environment: pre, listen: "127.0.0.1:${listen}" }]\n`,
  );
  await startAgent(master, { environment: 'pre', name: `${ns}-pre`, args: ['--config', preFile] });
  await startAgent(master, { environment: 'edge', name: `${ns}-edge`, args: ['--config', edgeFile] });
}, 180_000);

afterAll(async () => {
  await master?.stop();
  if (env) {
    await down({ docker: dockerClient(), app, environment: 'pre', host: '127.0.0.1', log: () => undefined });
    await removeImages(env.docker, images);
  }
  await nginx?.stop();
  await etcd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('deploys routed by the edge', () => {
  it('answers 503 before anything is deployed, then routes to both instances of a deploy', async () => {
    await waitFor('edge renders the empty route', async () => (await viaNginx()).startsWith('503 no live instance'));
    await deploy('v1', 2);
    const seen = await waitFor('both instances through nginx', async () => {
      const bodies = new Set<string>();
      for (let i = 0; i < 8; i++) bodies.add(await viaNginx());
      return [...bodies].filter((b) => b.startsWith('200 v1 on ')).length === 2 ? bodies : undefined;
    });
    expect([...seen].every((b) => b.startsWith('200 v1 on '))).toBe(true);

    // The master lists them from etcd for the app's team, and the edge with its reloads.
    const [listed] = await master.api.listInstances({ app });
    expect(listed).toMatchObject({ app, environment: 'pre', job });
    expect(listed.instances).toHaveLength(2);
    expect(listed.instances.every((i) => i.reachable)).toBe(true);
    const edges = await master.api.listEdges();
    const edge = edges.find((e) => e.agent === `${ns}-edge`);
    expect(edge).toMatchObject({ environment: 'edge', state: 'running' });
    expect(Number(edge!.facts.reloads)).toBeGreaterThan(0);
    await master.api.createTeam(`${ns}-outsiders`);
    await master.api.createUser({ username: `${ns}-outsider`, password: 'outsider-password-1' });
    await master.api.setMember(`${ns}-outsiders`, `${ns}-outsider`, 'maintainer');
    const outsider = await master.login(`${ns}-outsider`, 'outsider-password-1');
    expect(await outsider.listInstances({ app })).toEqual([]);
  });

  it('scales 2 -> 4 -> 1 and rolls v1 -> v2 without a failed request through nginx', async () => {
    const r = await underLoad(async () => {
      await deploy('v1', 4);
      await deploy('v1', 1);
      await deploy('v2', 1);
    });
    expect(r.failures).toEqual([]);
    expect(r.requests).toBeGreaterThan(20);
    await waitFor('v2 routed', async () => (await viaNginx()).startsWith('200 v2 on '));
  });

  it('takes a killed instance out of routing, and the agents report their services', async () => {
    const [c] = await env.docker.listContainers({ filters: { label: [`io.slipway.app=${app}`] } });
    await env.docker.getContainer(c.Id).kill();
    await waitFor('503 once the only instance died', async () => (await viaNginx()).startsWith('503 '), { timeoutMs: 7_000 });
    const agents = await master.api.listAgents();
    const pre = agents.find((a) => a.name === `${ns}-pre`);
    const edge = agents.find((a) => a.name === `${ns}-edge`);
    expect(pre?.services?.find((s) => s.name === 'registration')?.state).toBe('running');
    expect(edge?.services?.find((s) => s.name === 'edge')?.state).toBe('running');
  });
});
