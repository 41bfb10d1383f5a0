/**
 * The builds API of the engine against a real master and agent: parameter validation, team scoping
 * (outsider 404, viewer 403 on trigger/cancel/rerun), re-runs (whole build, and from a stage whose input
 * artifacts come from the re-run build), the plugin list, draining an agent, and cron triggers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiClient } from '../../shared/client/api-client';
import { SlipwayError } from '../../shared/errors';
import { startAgent, startMaster, type TestAgent, type TestMaster } from '../helpers/cluster';
import { waitFor } from '../helpers/wait';

let master: TestMaster;
let agent: TestAgent;
let viewer: ApiClient;
let outsider: ApiClient;
const suffix = Math.random().toString(36).slice(2, 8);
const team = `api-${suffix}`;

beforeAll(async () => {
  master = await startMaster();
  await master.api.createTeam(team);
  await master.api.createTeam(`other-${suffix}`);
  for (const [user, t, role] of [[`viewer-${suffix}`, team, 'viewer'], [`outsider-${suffix}`, `other-${suffix}`, 'maintainer']] as const) {
    await master.api.createUser({ username: user, password: 'a-long-password-1' });
    await master.api.setMember(t, user, role);
  }
  viewer = await master.login(`viewer-${suffix}`, 'a-long-password-1');
  outsider = await master.login(`outsider-${suffix}`, 'a-long-password-1');
  agent = await startAgent(master, { environment: 'ci', capacity: 2 });
  await master.api.applyJob(`name: two-${suffix}
team: ${team}
params:
  - name: TARGET
    choices: [eu, us]
stages:
  - name: make
    environment: ci
    artifacts: [out.txt]
    steps:
      - sh: echo "made for $TARGET in build $SLIPWAY_BUILD_NUMBER" > out.txt
  - name: use
    environment: ci
    steps:
      - sh: cat out.txt
`);
});

afterAll(async () => {
  await master?.stop();
});

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (err instanceof SlipwayError) return `${err.code}: ${err.message}`;
    throw err;
  }
}

async function waitDone(id: number) {
  return waitFor(`build ${id} finished`, async () => {
    const b = await master.api.getBuild(id);
    return ['success', 'failed', 'cancelled', 'timeout'].includes(b.status) ? b : undefined;
  });
}

describe('builds API', () => {
  it('refuses unknown parameters and values outside choices, naming them', async () => {
    expect(await codeOf(master.api.trigger(`two-${suffix}`, { params: { NOPE: '1' } }))).toMatch(/^invalid_request: .*unknown parameter 'NOPE'/);
    expect(await codeOf(master.api.trigger(`two-${suffix}`, { params: { TARGET: 'mars' } }))).toMatch(/params.TARGET: 'mars' is not one of eu, us/);
  });

  it('scopes builds to the team: outsiders get 404, viewers read but may not trigger', async () => {
    const b = await master.api.trigger(`two-${suffix}`, { params: { TARGET: 'us' } });
    expect(b.params).toEqual({ TARGET: 'us' });
    expect(b.trigger).toMatchObject({ kind: 'manual', user: 'admin' });
    expect(await codeOf(outsider.getBuild(b.id))).toMatch(/^not_found/);
    expect(await codeOf(outsider.trigger(`two-${suffix}`))).toMatch(/^not_found/);
    expect(await codeOf(outsider.listBuilds(`two-${suffix}`))).toMatch(/^not_found/);
    expect(await codeOf(outsider.cancelBuild(b.id))).toMatch(/^not_found/);
    expect((await viewer.getBuild(b.id)).id).toBe(b.id);
    expect(await codeOf(viewer.trigger(`two-${suffix}`))).toMatch(/^forbidden/);
    expect(await codeOf(viewer.cancelBuild(b.id))).toMatch(/^forbidden/);
    expect(await codeOf(viewer.rerunBuild(b.id))).toMatch(/^forbidden/);
    const done = await waitDone(b.id);
    expect(done.status).toBe('success');
    expect(done.stages.map((s) => [s.name, s.status, s.steps.map((st) => st.status)])).toEqual([
      ['make', 'success', ['success']],
      ['use', 'success', ['success']],
    ]);
  });

  it('re-runs a build from a stage with the earlier stages’ artifacts as inputs', async () => {
    const first = await master.api.trigger(`two-${suffix}`, { params: { TARGET: 'eu' } });
    await waitDone(first.id);
    expect(await codeOf(master.api.rerunBuild(first.id, 'nope'))).toMatch(/has no stage 'nope'/);
    const again = await master.api.rerunBuild(first.id, 'use');
    expect(again.trigger).toMatchObject({ kind: 'rerun', from: first.id, stage: 'use' });
    const done = await waitDone(again.id);
    expect(done.status).toBe('success');
    expect(done.stages.map((s) => [s.name, s.status])).toEqual([
      ['make', 'skipped'],
      ['use', 'success'],
    ]);
    // `use` printed the file made by the first build's `make` stage.
    expect(String(await master.api.buildLog(again.id))).toContain(`made for eu in build ${first.number}`);
    const whole = await master.api.rerunBuild(first.id);
    expect((await waitDone(whole.id)).stages.map((s) => s.status)).toEqual(['success', 'success']);
    const list = await master.api.listBuilds(`two-${suffix}`, { limit: 2 });
    expect(list.map((b) => b.id)).toEqual([whole.id, again.id]);
  });

  it('lists step kinds with the versions agents reported', async () => {
    const plugins = await master.api.listPlugins();
    const shell = plugins.find((p) => p.kind === 'shell');
    expect(shell?.aliases).toContain('sh');
    expect(shell?.agents.map((a) => a.agent)).toContain(agent.name);
  });

  it('drains an agent (admins only)', async () => {
    const [info] = (await master.api.listAgents()).filter((a) => a.name === agent.name);
    expect(await codeOf(viewer.drainAgent(info.id))).toMatch(/^forbidden/);
    const drained = await master.api.drainAgent(info.id);
    expect(drained.state).toBe('draining');
  });

  it('triggers builds from cron, re-planned when a job is applied', async () => {
    await startAgent(master, { environment: 'cron' });
    await master.api.applyJob(`name: tick-${suffix}
team: ${team}
triggers: { cron: "* * * * * *", timezone: Europe/Paris }
stages:
  - name: tick
    environment: cron
    steps: [ { sh: echo tick } ]
`);
    const [b] = await waitFor('a cron build', async () => {
      const list = await master.api.listBuilds(`tick-${suffix}`);
      return list.length ? list : undefined;
    });
    expect(b.trigger.kind).toBe('cron');
    await master.api.deleteJob(`tick-${suffix}`);
  });
});
