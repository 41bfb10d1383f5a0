/**
 * The Swarm target on a single-node swarm (`docker swarm init --advertise-addr 127.0.0.1`, left again at the
 * end when this test created it): create a service, update it, and a broken update rolled back by the swarm. The
 * task containers carry the deploying agent's name (io.slipway.agent), so only that agent ships their logs: also
 * end to end, with a real master and two agents of one environment on this engine running the container-logs
 * service, the one that ran the job's Swarm deploy ships the task's lines, each stored once.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../agent/deploy/instances';
import { DeployError } from '../../agent/deploy/rollout';
import { deploySwarm, removeSwarmService } from '../../agent/deploy/swarm';
import { deployExecutor } from '../../agent/executors/deploy';
import { shipsContainer } from '../../agent/container-logs';
import { Harness } from '../conformance/executor-harness';
import { waitFor } from '../helpers/wait';
import { startAgent, startMaster, type TestAgent, type TestMaster } from '../helpers/cluster';
import { containerLogsConfig, storedEntries } from '../helpers/logcenter';
import { renderCompose } from '../../shared/compose/render';
import { buildTestApp, removeImages, requireDocker, uniqueName, type DockerTestEnv } from '../helpers/docker';

let env: DockerTestEnv;
let dir: string;
let appImage: string;
let port: number;
let joinedSwarm = false;
const images: string[] = [];
const app = uniqueName('sw');
let logText = '';
const log = (l: string) => {
  logText += l;
};

const COMPOSE = `services:
  web:
    image: \${IMAGE}
    command: ["node", "/app/server.js"]
    environment: { VERSION: "\${VERSION}", BROKEN: "\${BROKEN:-}" }
    healthcheck: { http: /health, start_period: 1s, interval: 500ms, timeout: 1s, retries: 2 }
    stop_grace_period: 5s
    deploy: { replicas: 1, update_config: { parallelism: 1 } }
`;
const service = (vars: Record<string, string>) =>
  renderCompose(COMPOSE, { file: 'compose.yml', environment: 'pre', vars: { IMAGE: appImage, ...vars } }).config.services.web;

const AGENT = 'swarm-agent-1';

/** The labels of the service's running task containers on this engine. */
async function taskLabels(serviceApp: string, environment: string): Promise<Record<string, string>[]> {
  const list = await env.docker.listContainers({ filters: { label: [`io.slipway.app=${serviceApp}`, `io.slipway.environment=${environment}`], status: ['running'] } });
  return list.map((c) => c.Labels);
}

/** Every running task container names `agent` and is shipped by that agent of the environment only. */
async function expectShippedOnlyBy(serviceApp: string, environment: string, agent: string): Promise<void> {
  const labels = await taskLabels(serviceApp, environment);
  expect(labels.length).toBeGreaterThan(0);
  const node = ((await env.docker.info()) as { Swarm?: { NodeID?: string } }).Swarm?.NodeID;
  for (const l of labels) {
    expect(l['io.slipway.agent']).toBe(agent);
    // The deploying agent's node, the one Docker names on the task (a single-node swarm: the same).
    expect(l['io.slipway.agent-node']).toBe(node);
    expect(l['com.docker.swarm.node.id']).toBe(node);
    expect(shipsContainer(l, environment, agent)).toBe(true);
    expect(shipsContainer(l, environment, `${agent}-other`)).toBe(false);
  }
}

async function answer(): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const r = await fetch(`http://127.0.0.1:${port}/`).then((x) => x.text(), () => '');
    if (r) return r;
    await new Promise((res) => setTimeout(res, 100));
  }
  return '';
}

beforeAll(async () => {
  env = await requireDocker();
  const info = (await env.docker.info()) as { Swarm?: { LocalNodeState?: string } };
  if (info.Swarm?.LocalNodeState !== 'active') {
    await env.docker.swarmInit({ ListenAddr: '127.0.0.1:2377', AdvertiseAddr: '127.0.0.1' });
    joinedSwarm = true;
  }
  dir = mkdtempSync(join(tmpdir(), 'slipway-swarm-'));
  const ns = uniqueName('s');
  appImage = `slipway-test/${ns}-web:1`;
  images.push(...(await buildTestApp(env.docker, dir, appImage)));
  port = await freePort(env.docker);
}, 120_000);

afterAll(async () => {
  if (env) {
    await removeSwarmService(env.docker, app, 'pre');
    // Tasks stop asynchronously; give them a moment before leaving the swarm and removing images.
    for (let i = 0; i < 50; i++) {
      const left = await env.docker.listContainers({ filters: { label: [`io.slipway.app=${app}`] } });
      if (!left.length) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    if (joinedSwarm) await env.docker.swarmLeave({ force: true }).catch(() => undefined);
    await removeImages(env.docker, images);
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('swarm deploy', () => {
  it('creates a service whose instance answers on the app port and names the deploying agent', async () => {
    const r = await deploySwarm(env.docker, { app, environment: 'pre', service: service({ VERSION: 'v1' }), port, build: '1', agent: AGENT, log });
    expect(r.state).toBe('created');
    expect(r.runningTasks).toBe(1);
    expect(await answer()).toBe(`v1 on ${port}\n`);
    await expectShippedOnlyBy(app, 'pre', AGENT);
  });

  it('updates the service to v2', async () => {
    const r = await deploySwarm(env.docker, { app, environment: 'pre', service: service({ VERSION: 'v2' }), port, build: '2', agent: AGENT, log });
    expect(r.state).toBe('completed');
    expect(await answer()).toBe(`v2 on ${port}\n`);
    await expectShippedOnlyBy(app, 'pre', AGENT);
  });

  it('rolls a broken update back automatically', async () => {
    const err = await deploySwarm(env.docker, { app, environment: 'pre', service: service({ VERSION: 'v3', BROKEN: '1' }), port, build: '3', agent: AGENT, log }).catch((e) => e);
    expect(err).toBeInstanceOf(DeployError);
    expect(err.rolledBack).toBe(true);
    expect(err.message).toMatch(/failed and was rolled back/);
    expect(await answer()).toBe(`v2 on ${port}\n`);
  }, 120_000);

  it('is what a deploy step with swarm: { port } does', async () => {
    const h = new Harness();
    await h.open();
    try {
      const stepApp = `${app}-step`;
      const stepPort = await freePort(env.docker);
      const r = await h.run(deployExecutor, { app: stepApp, image: appImage, swarm: { port: stepPort }, composeInline: COMPOSE, values: { VERSION: 'v-step' } }, { agentName: 'step-agent' });
      expect(r.result.status, r.output).toBe('success');
      expect(r.result.outputs).toMatchObject({ app: stepApp, environment: 'conformance', instances: [`swarm:${stepPort}`], replicas: 1 });
      expect(r.output).toContain(`creating swarm service ${stepApp}-conformance`);
      const body = await waitFor("the step's service answers", async () => (await fetch(`http://127.0.0.1:${stepPort}/`).then((x) => x.text(), () => '')) || undefined);
      expect(body).toBe(`v-step on ${stepPort}\n`);
      await expectShippedOnlyBy(stepApp, 'conformance', 'step-agent');
    } finally {
      await removeSwarmService(env.docker, `${app}-step`, 'conformance');
      h.close();
    }
  }, 120_000);
});

describe('swarm task logs', () => {
  it('are shipped by the agent that ran the deploy only, every line once', async () => {
    const ns = uniqueName('swl');
    const environment = `${ns}-env`;
    const logsApp = `${ns}-web`;
    const LINES = 50;
    const master: TestMaster = await startMaster();
    const agents: { agent: TestAgent; spool: string }[] = [];
    try {
      await master.api.createTeam(ns);
      for (const n of [1, 2]) {
        const spool = join(dir, `spool-${n}`);
        const config = containerLogsConfig(join(dir, `cfg-${n}`), { spool: { dir: spool }, multiline: { flushMs: 50 }, batch: { flushMs: 20 } });
        agents.push({ agent: await startAgent(master, { environment, name: `${ns}-agent-${n}`, args: ['--config', config] }), spool });
      }
      const logsPort = await freePort(env.docker);
      await master.api.applyJob(`name: ${ns}-job
team: ${ns}
stages:
  - name: deploy
    environment: ${environment}
    steps:
      - deploy:
          app: ${logsApp}
          image: ${appImage}
          swarm: { port: ${logsPort} }
          composeInline: |
            services:
              web:
                image: \${IMAGE}
                command: 'i=0; while [ $$i -lt ${LINES} ]; do i=$$((i+1)); echo "swarm line $$i"; done; exec node /app/server.js'
                environment: { VERSION: "v-logs" }
                healthcheck: { http: /health, start_period: 1s, interval: 500ms, timeout: 1s, retries: 2 }
                deploy: { replicas: 1 }
`);
      const b = await master.api.trigger(`${ns}-job`);
      const done = await waitFor('the swarm deploy build', async () => {
        const x = await master.api.getBuild(b.id);
        return ['success', 'failed', 'cancelled', 'timeout'].includes(x.status) ? x : undefined;
      }, { timeoutMs: 90_000 });
      expect(done.status, JSON.stringify(done)).toBe('success');

      const [task] = await env.docker.listContainers({ filters: { label: [`io.slipway.app=${logsApp}`, `io.slipway.environment=${environment}`], status: ['running'] } });
      const shipper = task.Labels['io.slipway.agent'];
      expect(agents.map((a) => a.agent.name)).toContain(shipper);
      const want = Array.from({ length: LINES }, (_, i) => `swarm line ${i + 1}`);
      await waitFor(`the ${LINES} lines stored`, async () => (await storedEntries(master.api, logsApp)).filter((l) => l.text.startsWith('swarm line ')).length >= LINES, {
        timeoutMs: 30_000,
        intervalMs: 200,
      });
      // Time for a second follower's batches to arrive too, were there one.
      await new Promise((r) => setTimeout(r, 1000));
      expect((await storedEntries(master.api, logsApp)).filter((l) => l.text.startsWith('swarm line ')).map((l) => l.text)).toEqual(want);
      const source = `${environment}_${task.Id}`;
      for (const a of agents) expect(existsSync(join(a.spool, source)), `${a.agent.name} follows the task`).toBe(a.agent.name === shipper);
    } finally {
      await removeSwarmService(env.docker, logsApp, environment);
      for (let i = 0; i < 50; i++) {
        if (!(await env.docker.listContainers({ filters: { label: [`io.slipway.app=${logsApp}`] } })).length) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      await master.stop();
    }
  }, 180_000);
});
