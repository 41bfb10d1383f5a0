/**
 * Open log streams follow access changes at once (issue 6, item 4): a subscriber removed from the build's
 * team, whose token is revoked, who is disabled, or whose build's job moves to another team stops receiving
 * that build's live log within a moment (an event, not the ping timer), while a role change that keeps read
 * access keeps the subscription. Real master, real agent, one long-running build watched by several users.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { ApiClient } from '../../shared/client/api-client';
import type { StreamMessage } from '../../shared/protocol';
import { startAgent, startMaster, type TestMaster } from '../helpers/cluster';
import { waitFor } from '../helpers/wait';

const suffix = Math.random().toString(36).slice(2, 8);
const teamA = `sa-a-${suffix}`;
const teamB = `sa-b-${suffix}`;
const job = `watched-${suffix}`;
/** Well below the stream's ping interval (30 s): only an event can be this quick. */
const AT_ONCE_MS = 3000;

let master: TestMaster;
let buildId: number;

interface Watcher {
  ws: WebSocket;
  messages: StreamMessage[];
  closed?: { code: number; reason: string };
  logCount(): number;
}

async function watch(token: string): Promise<Watcher> {
  const ws = new WebSocket(master.api.streamUrl(), { headers: { authorization: `Bearer ${token}` } });
  const w: Watcher = { ws, messages: [], logCount: () => w.messages.filter((m) => m.type === 'stream:log').length };
  ws.on('message', (raw) => w.messages.push(JSON.parse(raw.toString())));
  ws.on('close', (code, reason) => (w.closed = { code, reason: reason.toString() }));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ type: 'client:subscribe', buildId }));
  await waitFor('live log lines', () => w.logCount() > 2, { timeoutMs: 20_000 });
  return w;
}

async function user(name: string, team: string, role: 'viewer' | 'developer'): Promise<ApiClient> {
  await master.api.createUser({ username: name, password: `${name}-password` });
  await master.api.setMember(team, name, role);
  return master.login(name, `${name}-password`);
}

/** Asserts that no further log line of the build reaches the watcher. */
async function expectNoMoreLines(w: Watcher): Promise<void> {
  const n = w.logCount();
  await new Promise((r) => setTimeout(r, 1000));
  expect(w.logCount()).toBe(n);
}

const removedError = (w: Watcher) => w.messages.find((m) => m.type === 'stream:error' && m.buildId === buildId);

beforeAll(async () => {
  master = await startMaster();
  await master.api.createTeam(teamA);
  await master.api.createTeam(teamB);
  await startAgent(master, { environment: 'ci' });
  const yaml = `name: ${job}\nteam: ${teamA}\nstages:\n  - name: build\n    environment: ci\n    steps:\n      - sh: for i in $(seq 1 900); do echo "line $i"; sleep 0.1; done\n`;
  await master.api.applyJob(yaml);
  buildId = (await master.api.trigger(job)).id;
});

afterAll(async () => {
  await master?.api.cancelBuild(buildId).catch(() => undefined);
  await master?.stop();
});

describe('stream subscriptions follow access changes', () => {
  it('ends the subscription of a member removed from the team at once', async () => {
    const viewer = await user(`removed-${suffix}`, teamA, 'viewer');
    const w = await watch(viewer.token!);
    const t0 = Date.now();
    await master.api.removeMember(teamA, `removed-${suffix}`);
    const err = await waitFor('stream:error for the build', () => removedError(w), { timeoutMs: AT_ONCE_MS });
    expect(Date.now() - t0).toBeLessThan(AT_ONCE_MS);
    expect(err).toMatchObject({ type: 'stream:error', buildId, code: 'not_found' });
    await expectNoMoreLines(w);
    w.ws.close();
  });

  it('keeps the subscription through a role change that keeps read access', async () => {
    const viewer = await user(`promoted-${suffix}`, teamA, 'viewer');
    const w = await watch(viewer.token!);
    await master.api.setMember(teamA, `promoted-${suffix}`, 'developer');
    const n = w.logCount();
    await waitFor('more lines', () => w.logCount() > n + 3, { timeoutMs: 10_000 });
    expect(removedError(w)).toBeUndefined();
    w.ws.close();
  });

  it('closes the connection of a revoked API token at once', async () => {
    const viewer = await user(`revoked-${suffix}`, teamA, 'viewer');
    const created = await viewer.createToken({ name: 'stream', scopes: ['read'] });
    const w = await watch(created.token);
    await viewer.revokeToken(created.id);
    const closed = await waitFor('connection closed', () => w.closed, { timeoutMs: AT_ONCE_MS });
    expect(closed.code).toBe(4001);
  });

  it('closes the connections of a disabled user at once, and refuses their credentials', async () => {
    const viewer = await user(`disabled-${suffix}`, teamA, 'viewer');
    const w = await watch(viewer.token!);
    await master.api.setUserDisabled(`disabled-${suffix}`, true);
    const closed = await waitFor('connection closed', () => w.closed, { timeoutMs: AT_ONCE_MS });
    expect(closed.code).toBe(4001);
    await expect(viewer.me()).rejects.toMatchObject({ code: 'unauthenticated' });
    await expect(master.login(`disabled-${suffix}`, `disabled-${suffix}-password`)).rejects.toMatchObject({ code: 'unauthenticated' });
    await master.api.setUserDisabled(`disabled-${suffix}`, false);
    expect((await viewer.me()).username).toBe(`disabled-${suffix}`);
  });

  it("ends the subscription when the build's job moves to a team the subscriber is not in", async () => {
    const viewer = await user(`mover-${suffix}`, teamA, 'viewer');
    const w = await watch(viewer.token!);
    await master.api.moveJob(job, teamB);
    await waitFor('stream:error for the build', () => removedError(w), { timeoutMs: AT_ONCE_MS });
    await expectNoMoreLines(w);
    w.ws.close();
  });
});
