/**
 * Container logs of apps deployed by real jobs, with two real agents of one environment on this Docker engine,
 * both running the container-logs service:
 * - a team secret the deploy applied (a compose variable) and the container prints is stored and found masked,
 *   never as its value (issue 12: secrets masked in container logs, as in build logs);
 * - exactly one agent ships a deployed container (the one that deployed it: io.slipway.agent), the other does
 *   not follow it at all; an opted-in container without that label is followed by both and every line is still
 *   stored exactly once (the master's mark per source).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { down } from '../../agent/deploy/rollout';
import { dockerClient } from '../../agent/docker/engine';
import { searchAppLogs } from '../../shared/client/app-logs-client';
import { startAgent, startMaster, type TestAgent, type TestMaster } from '../helpers/cluster';
import { removeImages, requireDocker, uniqueName, type DockerTestEnv } from '../helpers/docker';
import { buildLogImage, containerLogsConfig, runLabelled, storedEntries, type LabelledContainer } from '../helpers/logcenter';
import { waitFor } from '../helpers/wait';

let env: DockerTestEnv;
let master: TestMaster;
let image: string;
const dir = mkdtempSync(join(tmpdir(), 'slipway-logdeploy-'));
const ns = uniqueName('ldep');
const team = ns;
const environment = `${ns}-env`;
const app = `${ns}-web`;
const legacy = `${ns}-legacy`;
const job = `${ns}-job`;
// A value with a word of its own, so a search for it would find it if it were stored.
const secret = `tok${Math.random().toString(36).slice(2, 10)}Zq9`;
const agents: { agent: TestAgent; spool: string }[] = [];
const containers: LabelledContainer[] = [];
const BOOT_LINES = 40;

const jobYaml = (imageRef: string) => `name: ${job}
team: ${team}
secrets: [API_TOKEN]
stages:
  - name: deploy
    environment: ${environment}
    steps:
      - deploy:
          app: ${app}
          image: ${imageRef}
          composeInline: |
            services:
              web:
                image: \${IMAGE}
                environment: { API_TOKEN: "\${API_TOKEN}" }
                command: 'echo "boot token=$$API_TOKEN end"; echo "url https://deploy:$$API_TOKEN@db.internal/x"; i=0; while [ $$i -lt ${BOOT_LINES} ]; do i=$$((i+1)); echo "boot line $$i"; done; exec httpd -f -p $$PORT'
                healthcheck: { tcp: true, start_period: 100ms, interval: 200ms, timeout: 1s, retries: 3, deadline: 30s }
                deploy: { replicas: 1 }
`;

beforeAll(async () => {
  env = await requireDocker();
  image = await buildLogImage(env.docker, dir);
  master = await startMaster();
  await master.api.createTeam(team);
  await master.api.setSecret(team, 'API_TOKEN', secret);
  for (const n of [1, 2]) {
    const spool = join(dir, `spool-${n}`);
    const config = containerLogsConfig(join(dir, `cfg-${n}`), { spool: { dir: spool }, multiline: { flushMs: 50 }, batch: { flushMs: 20 } });
    agents.push({ agent: await startAgent(master, { environment, name: `${ns}-agent-${n}`, args: ['--config', config] }), spool });
  }
  await master.api.applyJob(jobYaml(image));
  const b = await master.api.trigger(job);
  const done = await waitFor('the deploy build', async () => {
    const x = await master.api.getBuild(b.id);
    return ['success', 'failed', 'cancelled', 'timeout'].includes(x.status) ? x : undefined;
  }, { timeoutMs: 90_000 });
  expect(done.status, JSON.stringify(done)).toBe('success');
}, 180_000);

afterAll(async () => {
  for (const c of containers) await c.container.remove({ force: true }).catch(() => undefined);
  await master?.stop();
  if (env) {
    await down({ docker: dockerClient(), app, environment, host: '127.0.0.1', log: () => undefined }).catch(() => undefined);
    await removeImages(env.docker, [image]);
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('a deployed app with a team secret', () => {
  it('stores and finds the lines that print the secret masked, never its value', async () => {
    const lines = await waitFor('the boot lines stored', async () => {
      const all = await storedEntries(master.api, app);
      return all.filter((l) => l.text.startsWith('boot line ')).length === BOOT_LINES ? all : undefined;
    }, { timeoutMs: 30_000, intervalMs: 200 });
    const texts = lines.map((l) => l.text);
    expect(texts).toContain('boot token=*** end');
    expect(texts).toContain('url https://deploy:***@db.internal/x');
    expect(texts.filter((t) => t.includes(secret))).toEqual([]);
    // Searched: the masked line is found by its words, the value finds nothing.
    const hits = (await searchAppLogs(master.api, { app, q: '"boot token"' })).hits.map((h) => h.text);
    expect(hits).toEqual(['boot token=*** end']);
    expect((await searchAppLogs(master.api, { app, q: secret })).hits).toEqual([]);
  });
});

describe('two agents of one environment on one engine', () => {
  it('only the deploying agent ships a deployed container, every line once', async () => {
    const [instance] = await env.docker.listContainers({ filters: { label: [`io.slipway.app=${app}`, `io.slipway.environment=${environment}`] } });
    const shipper = instance.Labels['io.slipway.agent'];
    expect(agents.map((a) => a.agent.name)).toContain(shipper);
    const source = `${environment}_${instance.Id}`;
    for (const a of agents) expect(existsSync(join(a.spool, source)), `${a.agent.name} follows the instance`).toBe(a.agent.name === shipper);
    const lines = await storedEntries(master.api, app);
    expect(lines.filter((l) => l.text.startsWith('boot line ')).map((l) => l.text)).toEqual(Array.from({ length: BOOT_LINES }, (_, i) => `boot line ${i + 1}`));
    expect(lines.filter((l) => l.text.startsWith('boot token')).length).toBe(1);
  });

  it('an opted-in container without io.slipway.agent: both follow it, every line is stored once', async () => {
    const c = await runLabelled(env.docker, image, {
      app: legacy,
      environment,
      name: `${legacy}-1`,
      optIn: true,
      script: 'i=0; while [ $i -lt 300 ]; do i=$((i+1)); echo "legacy line $i"; done; sleep 3600',
    });
    containers.push(c);
    const want = Array.from({ length: 300 }, (_, i) => `legacy line ${i + 1}`);
    await waitFor('both agents following it', async () => agents.every((a) => existsSync(join(a.spool, `${environment}_${c.id}`))), { timeoutMs: 20_000 });
    const got = await waitFor('300 lines stored', async () => {
      const all = await storedEntries(master.api, legacy);
      return all.length >= 300 ? all : undefined;
    }, { timeoutMs: 30_000, intervalMs: 200 });
    // Both agents' batches have reached the master (each acknowledged to its last seq) and nothing was stored twice.
    await new Promise((r) => setTimeout(r, 1000));
    expect((await storedEntries(master.api, legacy)).map((l) => l.text)).toEqual(want);
    expect(got.map((l) => l.text)).toEqual(want);
  });
});
