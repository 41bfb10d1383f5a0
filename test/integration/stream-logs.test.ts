/**
 * Logs end to end through a real master and a real agent: the client stream (replay + live, stream:end),
 * the stored log, search, and team scoping of all of them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { StreamMessage } from '../../shared/protocol';
import type { ApiClient } from '../../shared/client/api-client';
import { runCli } from '../helpers/cli';
import { startAgent, startMaster, type TestMaster } from '../helpers/cluster';
import { waitFor } from '../helpers/wait';

const suffix = Math.random().toString(36).slice(2, 8);
const teamA = `logs-a-${suffix}`;
const teamB = `logs-b-${suffix}`;
let master: TestMaster;
let alice: ApiClient;
let bob: ApiClient;

/** A stream connection that records every message it receives. */
async function connect(token: string, how: 'header' | 'query' = 'header'): Promise<{ ws: WebSocket; messages: StreamMessage[] }> {
  const url = master.api.streamUrl() + (how === 'query' ? `?access_token=${encodeURIComponent(token)}` : '');
  const ws = new WebSocket(url, how === 'header' ? { headers: { authorization: `Bearer ${token}` } } : {});
  const messages: StreamMessage[] = [];
  ws.on('message', (raw) => messages.push(JSON.parse(raw.toString())));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return { ws, messages };
}

function logText(messages: StreamMessage[]): string {
  return messages
    .filter((m): m is Extract<StreamMessage, { type: 'stream:log' }> => m.type === 'stream:log')
    .map((m) => m.data)
    .join('');
}

async function applyJob(name: string, team: string, stages: { name: string; sh: string }[]): Promise<void> {
  const yaml = [`name: ${name}`, `team: ${team}`, 'stages:'];
  for (const s of stages) {
    yaml.push(`  - name: ${s.name}`, '    environment: ci', '    steps:', '      - sh: |');
    for (const line of s.sh.split('\n')) yaml.push(`          ${line}`);
  }
  await master.api.applyJob(yaml.join('\n') + '\n');
}

async function finished(api: ApiClient, id: number) {
  return waitFor(`build ${id} finished`, async () => {
    const b = await api.getBuild(id);
    return b.status !== 'queued' && b.status !== 'running' ? b : undefined;
  });
}

beforeAll(async () => {
  master = await startMaster();
  await master.api.createTeam(teamA);
  await master.api.createTeam(teamB);
  await master.api.createUser({ username: `alice-${suffix}`, password: 'alice-password-1' });
  await master.api.createUser({ username: `bob-${suffix}`, password: 'bob-password-1' });
  await master.api.setMember(teamA, `alice-${suffix}`, 'developer');
  await master.api.setMember(teamB, `bob-${suffix}`, 'maintainer');
  alice = await master.login(`alice-${suffix}`, 'alice-password-1');
  bob = await master.login(`bob-${suffix}`, 'bob-password-1');
  // Capacity 2: with 1, the agent may refuse stage two while it still winds down stage one (reported to the
  // agent's owner); this file is about logs, not about that hand-over.
  await startAgent(master, { environment: 'ci', capacity: 2 });
});

afterAll(async () => {
  await master?.stop();
});

const LINES = 400;
const expectedText = Array.from({ length: LINES }, (_, i) => `line ${i + 1} zebrafish-${suffix}\n`).join('');

describe('client stream and stored log', () => {
  let buildId: number;

  it('a subscriber of a running build receives every line once, in order, then stream:end', async () => {
    const job = `stream-${suffix}`;
    // Pauses make the build run while the subscriber is attached: part replay, part live.
    await applyJob(job, teamA, [
      { name: 'build', sh: `for i in $(seq 1 ${LINES}); do echo "line $i zebrafish-${suffix}"; if [ $((i % 100)) -eq 0 ]; then sleep 0.3; fi; done` },
    ]);
    const build = await alice.trigger(job);
    buildId = build.id;
    const { ws, messages } = await connect(alice.token!);
    ws.send(JSON.stringify({ type: 'client:subscribe', buildId }));
    await waitFor('stream:end', () => messages.some((m) => m.type === 'stream:end'), { timeoutMs: 45_000 });
    ws.close();

    expect(messages[0]).toEqual({ type: 'stream:subscribed', buildId });
    const end = messages.find((m) => m.type === 'stream:end');
    expect(end).toEqual({ type: 'stream:end', buildId, status: 'success' });
    expect(messages[messages.length - 1]).toBe(end);
    const logs = messages.filter((m) => m.type === 'stream:log') as Extract<StreamMessage, { type: 'stream:log' }>[];
    const seqs = logs.map((m) => m.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(logs.every((m) => m.stage === 'build' && m.buildId === buildId)).toBe(true);
    expect(logText(messages)).toBe(expectedText);
  });

  it('a subscriber of a finished build gets the stored log replayed, then stream:end', async () => {
    const { ws, messages } = await connect(alice.token!, 'query');
    ws.send(JSON.stringify({ type: 'client:subscribe', buildId }));
    await waitFor('stream:end', () => messages.some((m) => m.type === 'stream:end'));
    ws.close();
    expect(logText(messages)).toBe(expectedText);
  });

  it('GET /builds/:id/log returns the stored log, byte for byte', async () => {
    expect(await alice.buildLog(buildId)).toBe(expectedText);
    const detail = await alice.getBuild(buildId);
    expect(await alice.buildLog(buildId, detail.stages[0].id)).toBe(expectedText);
  });

  it('a build with several stage runs gets a header line per stage run', async () => {
    const job = `two-stages-${suffix}`;
    await applyJob(job, teamA, [
      { name: 'one', sh: 'printf "no newline at the end"' },
      { name: 'two', sh: 'echo second stage' },
    ]);
    const b = await finished(alice, (await alice.trigger(job)).id);
    expect({ status: b.status, stages: b.stages.map((s) => [s.status, s.error]) }).toEqual({ status: 'success', stages: [['success', null], ['success', null]] });
    expect(await alice.buildLog(b.id)).toBe(
      '=== stage one (attempt 1) ===\nno newline at the end\n=== stage two (attempt 1) ===\nsecond stage\n',
    );
  });

  it('search finds lines of visible builds and reports the index lag', async () => {
    const hits = await waitFor('indexed', async () => {
      const h = await alice.searchLogs(`line 123 zebrafish-${suffix}`);
      return h.length > 0 ? h : undefined;
    });
    expect(hits[0]).toMatchObject({ buildId, job: `stream-${suffix}`, stage: 'build' });
    expect(hits.flatMap((h) => h.lines)).toContain(`line 123 zebrafish-${suffix}`);
    const res = await fetch(`${master.url}/api/v1/logs/search?q=${encodeURIComponent(`zebrafish-${suffix} OR "(x`)}`, {
      headers: { authorization: `Bearer ${alice.token}` },
    });
    expect(res.status).toBe(200);
    expect(Number(res.headers.get('x-slipway-index-lag'))).toBeGreaterThanOrEqual(0);
    expect(await res.json()).toEqual([]);
  });

  it('a search without words is a 400 naming q', async () => {
    await expect(alice.searchLogs('  ( " ')).rejects.toMatchObject({ code: 'invalid_request', message: expect.stringMatching(/^q: /) });
    await expect(alice.searchLogs('x', { limit: 0 })).rejects.toMatchObject({ code: 'invalid_request', message: expect.stringMatching(/^limit: /) });
  });
});

describe('team scoping', () => {
  let buildId: number;

  beforeAll(async () => {
    const job = `private-${suffix}`;
    await applyJob(job, teamA, [{ name: 'build', sh: `echo "classified-${suffix}"` }]);
    buildId = (await finished(alice, (await alice.trigger(job)).id)).id;
    await waitFor('indexed', async () => (await alice.searchLogs(`classified-${suffix}`)).length > 0);
  });

  it('a user of another team gets not_found on subscribe, like a build that does not exist', async () => {
    const { ws, messages } = await connect(bob.token!);
    ws.send(JSON.stringify({ type: 'client:subscribe', buildId }));
    ws.send(JSON.stringify({ type: 'client:subscribe', buildId: 999_999 }));
    await waitFor('two errors', () => messages.length >= 2);
    ws.close();
    expect(messages).toEqual([
      { type: 'stream:error', buildId, code: 'not_found', message: `build ${buildId} not found` },
      { type: 'stream:error', buildId: 999_999, code: 'not_found', message: 'build 999999 not found' },
    ]);
  });

  it('a user of another team gets 404 for the log and artifacts, and no search hits', async () => {
    await expect(bob.buildLog(buildId)).rejects.toMatchObject({ code: 'not_found' });
    await expect(bob.listArtifacts(buildId)).rejects.toMatchObject({ code: 'not_found' });
    expect(await bob.searchLogs(`classified-${suffix}`)).toEqual([]);
    expect(await alice.searchLogs(`classified-${suffix}`)).toHaveLength(1);
    expect(await master.api.searchLogs(`classified-${suffix}`)).toHaveLength(1);
  });
});

describe('search in one job: a job reference, as everywhere', () => {
  it('a job name both teams use: team/name picks one, the bare name is ambiguous for an admin, and another team is not found', async () => {
    const same = `same-${suffix}`;
    for (const team of [teamA, teamB]) {
      await applyJob(same, team, [{ name: 'build', sh: `echo "marmot-${suffix} from ${team}"` }]);
      await finished(master.api, (await master.api.trigger(`${team}/${same}`)).id);
    }
    const teamsOf = (hits: { team: string; job: string }[]) => hits.map((h) => `${h.team}/${h.job}`).sort();
    await waitFor('both indexed', async () => (await master.api.searchLogs(`marmot-${suffix}`)).length === 2);
    // Before, the filter was the bare name: it found both teams' builds, and the hits did not say which was which.
    expect(teamsOf(await master.api.searchLogs(`marmot-${suffix}`, { job: `${teamA}/${same}` }))).toEqual([`${teamA}/${same}`]);
    expect(teamsOf(await master.api.searchLogs(`marmot-${suffix}`, { job: `${teamB}/${same}` }))).toEqual([`${teamB}/${same}`]);
    await expect(master.api.searchLogs(`marmot-${suffix}`, { job: same })).rejects.toMatchObject({
      code: 'conflict',
      message: expect.stringContaining(`name the team: ${[teamA, teamB].sort().map((t) => `${t}/${same}`).join(' or ')}`),
    });
    // Within one's own teams the bare name is enough.
    expect(teamsOf(await alice.searchLogs(`marmot-${suffix}`, { job: same }))).toEqual([`${teamA}/${same}`]);
    // Another team's job reads exactly like a job nobody has.
    for (const ref of [`${teamB}/${same}`, `${teamB}/nothing-${suffix}`]) {
      await expect(alice.searchLogs(`marmot-${suffix}`, { job: ref })).rejects.toMatchObject({ code: 'not_found', message: `job '${ref}' not found` });
    }

    // The CLI: `slipway search WORDS --job JOB`, each hit with its team/job#number.
    const env = { SLIPWAY_URL: master.url, SLIPWAY_TOKEN: master.api.token!, SLIPWAY_CONFIG: '/nonexistent/slipway-cli.json' };
    const found = await runCli(['search', `marmot-${suffix}`, '--job', `${teamB}/${same}`], { env });
    expect([found.code, found.stderr]).toEqual([0, '']);
    expect(found.stdout).toMatch(new RegExp(`^build \\d+ \\(${teamB}/${same}#1\\) stage build\n  marmot-${suffix} from ${teamB}\n$`));
    const ambiguous = await runCli(['search', `marmot-${suffix}`, '--job', same], { env });
    expect([ambiguous.code, ambiguous.stderr]).toEqual([1, expect.stringContaining(`name the team: ${[teamA, teamB].sort().map((t) => `${t}/${same}`).join(' or ')}`)]);
  }, 60_000);
});

describe('stream connection', () => {
  it('refuses an upgrade without a valid credential with HTTP 401', async () => {
    for (const headers of [{}, { authorization: 'Bearer not-a-token' }]) {
      const ws = new WebSocket(master.api.streamUrl(), { headers });
      const status = await new Promise<number>((resolve, reject) => {
        ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.once('open', () => reject(new Error('upgrade accepted without credentials')));
        ws.once('error', () => undefined);
      });
      expect(status).toBe(401);
    }
  });

  it('answers bad frames with stream:error and keeps the connection', async () => {
    const { ws, messages } = await connect(alice.token!);
    ws.send('not json');
    ws.send(JSON.stringify({ type: 'client:subscribe', buildId: 'seven' }));
    ws.send(JSON.stringify({ type: 'client:dance' }));
    ws.send(Buffer.from([1, 2, 3]));
    ws.send(JSON.stringify({ type: 'client:subscribe', buildId: 999_998 }));
    await waitFor('five answers', () => messages.length >= 5);
    expect(ws.readyState).toBe(WebSocket.OPEN);
    ws.close();
    expect(messages.slice(0, 4).map((m) => m.type === 'stream:error' && m.code)).toEqual(['bad_request', 'bad_request', 'bad_request', 'bad_request']);
    expect(messages[1]).toMatchObject({ message: expect.stringMatching(/^buildId: /) });
    expect(messages[4]).toMatchObject({ type: 'stream:error', code: 'not_found' });
  });

  it('closes a connection with 4001 at the next subscribe once its API token is revoked', async () => {
    const created = await alice.createToken({ name: `stream-${suffix}`, scopes: ['read'] });
    const { ws, messages } = await connect(created.token);
    ws.send(JSON.stringify({ type: 'client:subscribe', buildId: 999_997 }));
    await waitFor('an answer while the token is valid', () => messages.length >= 1);
    expect(messages[0]).toMatchObject({ type: 'stream:error', code: 'not_found' });
    await alice.revokeToken(created.id);
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.send(JSON.stringify({ type: 'client:subscribe', buildId: 999_997 }));
    expect(await closed).toBe(4001);
    expect(messages).toHaveLength(1);
  });
});
