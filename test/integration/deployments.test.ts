/**
 * Deployment history and rollback against a real master: a real shell agent runs the build stage (its step
 * publishes an image reference), and a raw protocol agent of the deploy environment plays the deploy
 * executor (no Docker needed): it answers each assignment with the deploy outputs an agent would send, built
 * from the image reference the master resolved for it. The master records one deployment per successful
 * deploy step (app, environment, image and digest, build, who triggered and approved, the compose file,
 * instances), lists them team-scoped, and rolls back with one call: a new build re-running only the deploy
 * stage of the previous deployment's build, with that build's image, through the environment's approval gate.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuildDetail } from '../../shared/api';
import type { ApiClient } from '../../shared/client/api-client';
import { SlipwayError } from '../../shared/errors';
import type { MasterMessage } from '../../shared/protocol/messages';
import { runCli } from '../helpers/cli';
import { startAgent, startMaster, type TestMaster } from '../helpers/cluster';
import { waitFor } from '../helpers/wait';
import { hello, openRaw, type RawAgent } from './engine-raw-agent';

type Assign = Extract<MasterMessage, { type: 'master:assign' }>;

let master: TestMaster;
const deployers: RawAgent[] = [];
const suffix = Math.random().toString(36).slice(2, 8);
const team = `shop-${suffix}`;
const app = `web-${suffix}`;
const pre = `pre-${suffix}`;
const prod = `prod-${suffix}`;
const job = `cd-${suffix}`;
const users: Record<string, ApiClient> = {};
let firstBuild = 0;

const digest = (v: number) => `sha256:${String(v).padStart(64, '0')}`;

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (err instanceof SlipwayError) return `${err.code}: ${err.message}`;
    throw err;
  }
}

const settled = (id: number): Promise<BuildDetail> =>
  waitFor(`build ${id} finished`, async () => {
    const b = await master.api.getBuild(id);
    return ['success', 'failed', 'cancelled', 'timeout'].includes(b.status) ? b : undefined;
  }, { timeoutMs: 60_000 });

/** Answers every deploy assignment like the deploy executor would: the outputs of a successful rollout. */
function serveDeploys(agent: RawAgent): void {
  const done = new Set<number>();
  const timer = setInterval(() => {
    for (const m of agent.received) {
      if (m.type !== 'master:assign' || done.has(m.stageRunId)) continue;
      done.add(m.stageRunId);
      const a = m as Assign;
      const image = String(a.outputs?.image?.reference);
      const environment = a.stage.name === 'prod' ? prod : pre;
      const base = { stageRunId: a.stageRunId, epoch: a.epoch };
      agent.sendJson({ type: 'agent:step-started', ...base, seq: 1, stepIndex: 0, at: Date.now() });
      agent.sendJson({
        type: 'agent:step-finished', ...base, seq: 2, stepIndex: 0, exitCode: 0, status: 'success', durationMs: 5, at: Date.now(),
        outputs: { app, environment, image, instances: ['127.0.0.1:41001', '127.0.0.1:41002'], replicas: 2, compose: `services:\n  web:\n    image: ${image}\n` },
      });
      agent.sendJson({ type: 'agent:stage-finished', ...base, seq: 3, status: 'success', artifacts: [], at: Date.now() });
    }
  }, 50);
  timer.unref();
  agent.ws.on('close', () => clearInterval(timer));
}

beforeAll(async () => {
  master = await startMaster();
  for (const t of [team, `ops-${suffix}`, `other-${suffix}`]) await master.api.createTeam(t);
  for (const [user, t, role] of [
    ['dev', team, 'developer'],
    ['viewer', team, 'viewer'],
    ['op', `ops-${suffix}`, 'developer'],
    ['outsider', `other-${suffix}`, 'maintainer'],
  ] as const) {
    await master.api.createUser({ username: `${user}-${suffix}`, password: 'a-long-password-1' });
    await master.api.setMember(t, `${user}-${suffix}`, role);
    users[user] = await master.login(`${user}-${suffix}`, 'a-long-password-1');
  }
  await master.api.createEnvironment(pre);
  await master.api.createEnvironment(prod, { protected: true, teams: [`ops-${suffix}`] });
  await startAgent(master, { environment: 'ci' });
  // One raw deploy agent per environment (an agent token is bound to one).
  for (const env of [pre, prod]) {
    const token = (await master.api.createAgentToken(env, `deployer-${env}`)).token;
    const agent = await openRaw(master.url);
    agent.sendJson(hello(token, `deployer-${env}`, env, {
      executors: [{ kind: 'deploy', version: '1.0.0' }],
      capabilities: [{ name: 'docker', ok: true, detail: 'declared by the test' }],
    }));
    await agent.next('accepted', (m): m is Extract<MasterMessage, { type: 'master:accepted' }> => m.type === 'master:accepted');
    serveDeploys(agent);
    deployers.push(agent);
  }
  await master.api.applyJob(`name: ${job}
team: ${team}
params:
  - name: V
    default: "1"
stages:
  - name: build
    environment: ci
    steps:
      - id: image
        sh: { run: 'echo "reference=registry.test/shop/web@sha256:$(printf %064d "$V")" >> "$SLIPWAY_OUTPUT"', outputs: [reference] }
  - name: pre
    environment: ${pre}
    steps:
      - deploy: { app: ${app}, image: "\${{ steps.image.outputs.reference }}", composeInline: "services: { web: { image: '\${IMAGE}' } }" }
  - name: prod
    environment: ${prod}
    steps:
      - deploy: { app: ${app}, image: "\${{ steps.image.outputs.reference }}", composeInline: "services: { web: { image: '\${IMAGE}' } }" }
`);
}, 120_000);

afterAll(async () => {
  for (const d of deployers) d.ws.close();
  await master?.stop();
});

/** Runs the job with V=v: pre deploys at once, prod after the ops approval. */
async function release(v: number): Promise<BuildDetail> {
  const { id } = await users.dev.trigger(job, { params: { V: String(v) } });
  await waitFor(`build ${id} waiting at prod`, async () => (await master.api.getBuild(id)).stages.find((s) => s.name === 'prod')?.status === 'waiting');
  await users.op.approveStage(id, 'prod');
  return settled(id);
}

describe('deployment history', () => {
  it('records each successful deploy step with its image digest, build, trigger, approver, compose file and instances', async () => {
    const b1 = await release(1);
    expect(b1.status).toBe('success');
    firstBuild = b1.id;
    const history = await users.dev.listDeployments({ app });
    expect(history.map((d) => d.environment)).toEqual([prod, pre]);
    expect(history[0]).toMatchObject({
      app,
      environment: prod,
      job,
      team,
      buildId: b1.id,
      buildNumber: b1.number,
      stage: 'prod',
      image: `registry.test/shop/web@${digest(1)}`,
      digest: digest(1),
      replicas: 2,
      instances: ['127.0.0.1:41001', '127.0.0.1:41002'],
      compose: `services:\n  web:\n    image: registry.test/shop/web@${digest(1)}\n`,
      triggeredBy: `dev-${suffix}`,
      approvedBy: `op-${suffix}`,
    });
    // pre had no gate; the same digest went to both environments (promotion without a rebuild).
    expect(history[1]).toMatchObject({ environment: pre, approvedBy: null, digest: digest(1) });
    expect(await users.dev.listDeployments({ app, environment: pre })).toHaveLength(1);
    // Team-scoped: another team sees none of it.
    expect(await users.outsider.listDeployments({ app })).toEqual([]);
  }, 90_000);
});

describe('rollback', () => {
  it('re-runs only the deploy stage of the previous deployment with its image, through the approval gate', async () => {
    const b2 = await release(2);
    expect(b2.status).toBe('success');
    expect((await users.dev.listDeployments({ app, environment: prod }))[0].digest).toBe(digest(2));

    // Who may: outsiders do not see the app, viewers may not trigger, an unknown app has no history.
    expect(await codeOf(users.outsider.rollback({ app, environment: prod }))).toBe(`not_found: deployment of app '${app}' in environment '${prod}' not found`);
    expect(await codeOf(users.viewer.rollback({ app, environment: prod }))).toMatch(/^forbidden: .*'trigger' needs role developer/);
    expect(await codeOf(users.dev.rollback({ app: `nope-${suffix}`, environment: prod }))).toMatch(/^not_found/);

    const rb = await users.dev.rollback({ app, environment: prod });
    expect(rb.trigger).toMatchObject({ kind: 'rollback', user: `dev-${suffix}`, from: firstBuild, stage: 'prod' });
    // prod is protected: the rollback waits for its approvers like any deploy there.
    await waitFor('rollback waiting at prod', async () => (await master.api.getBuild(rb.id)).stages.find((s) => s.name === 'prod')?.status === 'waiting');
    expect(await codeOf(users.dev.approveStage(rb.id, 'prod'))).toMatch(/^forbidden: you may not approve stage 'prod'/);
    await users.op.approveStage(rb.id, 'prod');
    const done = await settled(rb.id);
    expect(done.status).toBe('success');
    expect(done.stages.map((s) => `${s.name}:${s.status}`)).toEqual(['build:skipped', 'pre:skipped', 'prod:success']);
    const now = (await users.dev.listDeployments({ app, environment: prod }))[0];
    expect(now).toMatchObject({ buildId: rb.id, digest: digest(1), image: `registry.test/shop/web@${digest(1)}`, triggeredBy: `dev-${suffix}`, approvedBy: `op-${suffix}` });
    // pre was left alone.
    expect((await users.dev.listDeployments({ app, environment: pre }))[0].digest).toBe(digest(2));

    // Rolling back again goes to the newest earlier deployment of another image: the one just replaced.
    const again = await users.dev.rollback({ app, environment: pre });
    const d = await settled(again.id);
    expect(d.stages.map((s) => `${s.name}:${s.status}`)).toEqual(['build:skipped', 'pre:success', 'prod:skipped']);
    expect((await users.dev.listDeployments({ app, environment: pre }))[0].digest).toBe(digest(1));
  }, 90_000);
});

describe('CLI', () => {
  it('deployments lists the history; rollback starts the build and says which image it goes back to', async () => {
    const env = { SLIPWAY_URL: master.url, SLIPWAY_TOKEN: users.dev.token!, SLIPWAY_CONFIG: '/nonexistent/slipway-cli.json' };
    const list = await runCli(['deployments', '--app', app, '--environment', pre], { env });
    expect(list.code, list.stderr).toBe(0);
    const lines = list.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ID\s+APP\s+ENV\s+IMAGE\s+BUILD\s+BY\s+APPROVED\s+RESULT\s+INSTANCES\s+WHEN/);
    expect(lines).toHaveLength(4);
    expect(lines[1]).toContain(`registry.test/shop/web@${digest(1)}`);
    expect(lines[1]).toContain('127.0.0.1:41001 127.0.0.1:41002');
    const json = JSON.parse((await runCli(['deployments', '--app', app, '--json'], { env })).stdout) as { compose: string }[];
    expect(json[0].compose).toContain('services:');

    const rb = await runCli(['rollback', app, '--environment', pre, '--follow'], { env });
    expect(rb.code, rb.stdout + rb.stderr).toBe(0);
    expect(rb.stdout).toMatch(new RegExp(`^build \\d+ \\(${job}#\\d+\\) queued: rolling ${app} in ${pre} back to registry\\.test/shop/web@${digest(2)}`));
    expect((await users.dev.listDeployments({ app, environment: pre }))[0].digest).toBe(digest(2));
  }, 90_000);
});
