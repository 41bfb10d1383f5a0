/**
 * The log center's search API, live tail and CLI against a real master, a real agent shipping the logs of real
 * containers, and real users of two teams: filters (app, environment, instance, stream, words and phrases,
 * time range), paging and context; team scoping (another team gets nothing and cannot tail; apps no job
 * deploys only for admins); the tail delivers new lines and ends when the caller loses access; an agent
 * cannot ship logs of another environment.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiClient } from '../../shared/client/api-client';
import { appLogStats, searchAppLogs, tailAppLogs } from '../../shared/client/app-logs-client';
import type { AppLogLine, AppLogTailEvent } from '../../shared/api-logs';
import { SlipwayError } from '../../shared/errors';
import type { MasterMessage } from '../../shared/protocol';
import { ensureEnvironment, startAgent, startMaster, type TestMaster } from '../helpers/cluster';
import { runCli } from '../helpers/cli';
import { removeImages, requireDocker, uniqueName, type DockerTestEnv } from '../helpers/docker';
import { buildLogImage, containerLogsConfig, runLabelled, storedEntries, type LabelledContainer } from '../helpers/logcenter';
import { waitFor } from '../helpers/wait';
import { helloRaw } from './engine-raw-agent';

let env: DockerTestEnv;
let master: TestMaster;
let image: string;
const dir = mkdtempSync(join(tmpdir(), 'slipway-logapi-'));
const containers: LabelledContainer[] = [];
const environment = 'logs-api';
const app = uniqueName('shopapp');
const legacy = uniqueName('legacy');
const shop = uniqueName('shop');
const other = uniqueName('other');
let viewer: ApiClient;
let outsider: ApiClient;

const notFoundOf = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
  } catch (e) {
    if (e instanceof SlipwayError) return `${e.code}: ${e.message}`;
    throw e;
  }
  return 'allowed';
};

beforeAll(async () => {
  env = await requireDocker();
  image = await buildLogImage(env.docker, dir);
  master = await startMaster();
  await ensureEnvironment(master.api, environment);
  const config = containerLogsConfig(join(dir, 'cfg'), { spool: { dir: join(dir, 'spool') }, multiline: { flushMs: 50 }, batch: { flushMs: 20 } });
  await startAgent(master, { environment, args: ['--config', config] });
  await master.api.createTeam(shop);
  await master.api.createTeam(other);
  for (const [u, team] of [
    ['shopper', shop],
    ['outsider', other],
  ] as const) {
    await master.api.createUser({ username: `${u}-${app}`, password: `${u}-password-1` });
    await master.api.setMember(team, `${u}-${app}`, 'viewer');
  }
  viewer = await master.login(`shopper-${app}`, 'shopper-password-1');
  outsider = await master.login(`outsider-${app}`, 'outsider-password-1');
  // The shop team owns the app: its job deploys it (the job never needs to run for that).
  await master.api.applyJob(
    `name: ${app}-job\nteam: ${shop}\nstages:\n  - name: deploy\n    environment: ${environment}\n    steps:\n      - deploy: { app: ${app}, image: x, composeInline: "services: { web: { image: 'x' } }" }\n`,
  );
  containers.push(
    await runLabelled(env.docker, image, {
      app,
      environment,
      name: `${app}-1`,
      // The context assertion below stays within stdout: Docker stamps each pipe's lines when it reads that
      // pipe, so lines written to stdout and stderr within the same instant may be stamped in either order.
      script: `i=0; while [ $i -lt 20 ]; do i=$((i+1)); echo "alpha request id $i ok"; done
i=0; while [ $i -lt 5 ]; do i=$((i+1)); echo "beta failure $i" >&2; done
echo "gamma done"
i=0; while true; do i=$((i+1)); echo "tick $i"; sleep 0.3; done`,
    }),
    await runLabelled(env.docker, image, { app, environment, name: `${app}-2`, script: 'echo "alpha from the second instance"; sleep 3600' }),
    await runLabelled(env.docker, image, { app: legacy, environment, name: `${legacy}-1`, optIn: true, script: 'echo "alpha legacy app"; sleep 3600' }),
  );
  await waitFor('the first lines stored', async () => (await storedEntries(master.api, app, { q: 'gamma' })).length === 1 && (await storedEntries(master.api, legacy)).length === 1, {
    timeoutMs: 30_000,
    intervalMs: 200,
  });
}, 120_000);

afterAll(async () => {
  for (const c of containers) await c.container.remove({ force: true }).catch(() => undefined);
  await master?.stop();
  if (env) await removeImages(env.docker, [image]);
  rmSync(dir, { recursive: true, force: true });
});

describe('search', () => {
  it('filters by words, phrases, instance, stream and time, newest first, with paging and context', async () => {
    const alpha = await searchAppLogs(viewer, { app, q: 'alpha', limit: 100 });
    expect(alpha.hits.length).toBe(21);
    expect(alpha.hits.every((h) => h.app === app && h.environment === environment && h.text.includes('alpha'))).toBe(true);
    for (let i = 1; i < alpha.hits.length; i++) expect(alpha.hits[i - 1].ts).toBeGreaterThanOrEqual(alpha.hits[i].ts);

    expect((await searchAppLogs(viewer, { app, q: 'alpha', instance: `${app}-2` })).hits.map((h) => h.text)).toEqual(['alpha from the second instance']);
    const errs = await searchAppLogs(viewer, { app, stream: 'stderr' });
    expect(errs.hits.map((h) => h.text).sort()).toEqual([1, 2, 3, 4, 5].map((i) => `beta failure ${i}`));
    expect((await searchAppLogs(viewer, { app, q: '"request id 7 ok"' })).hits.map((h) => h.text)).toEqual(['alpha request id 7 ok']);
    expect((await searchAppLogs(viewer, { app, q: 'alpha', environment: 'elsewhere' })).hits).toEqual([]);
    expect((await searchAppLogs(viewer, { app, q: 'alpha', from: Date.now() + 3_600_000 })).hits).toEqual([]);
    expect((await searchAppLogs(viewer, { app, q: 'alpha', to: alpha.hits[alpha.hits.length - 1].ts })).hits).toEqual([]);

    // Pages of 8: every hit once, in the same order as one big page.
    const paged: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await searchAppLogs(viewer, { app, q: 'alpha', limit: 8, cursor });
      paged.push(...page.hits.map((h) => h.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(paged).toEqual(alpha.hits.map((h) => h.id));

    const withContext = await searchAppLogs(viewer, { app, q: '"request id 10 ok"', context: 2 });
    expect(withContext.hits.length).toBe(1);
    expect(withContext.hits[0].before?.map((l) => l.text)).toEqual(['alpha request id 8 ok', 'alpha request id 9 ok']);
    expect(withContext.hits[0].after?.map((l) => l.text)).toEqual(['alpha request id 11 ok', 'alpha request id 12 ok']);

    expect(await notFoundOf(searchAppLogs(viewer, { app, q: '"unclosed' }))).toMatch(/^invalid_request: .*q/);
    expect(await notFoundOf(searchAppLogs(viewer, { app, stream: 'stdin' as 'stdout' }))).toMatch(/^invalid_request: stream: must be stdout or stderr/);
    expect(await notFoundOf(searchAppLogs(viewer, { app, from: 'yesterday' as unknown as number }))).toMatch(/^invalid_request: from: /);
  });

  it('shows each team only its apps; apps no job deploys only to admins', async () => {
    const ghost = uniqueName('ghost');
    const ghostAnswer = (await notFoundOf(searchAppLogs(outsider, { app: ghost }))).replace(ghost, '<app>');
    expect(ghostAnswer).toBe("not_found: app '<app>' not found");
    expect((await notFoundOf(searchAppLogs(outsider, { app, q: 'alpha' }))).replace(app, '<app>')).toBe(ghostAnswer);
    expect((await searchAppLogs(outsider, { q: 'alpha' })).hits).toEqual([]);
    expect((await notFoundOf(searchAppLogs(viewer, { app: legacy }))).replace(legacy, '<app>')).toBe(ghostAnswer);
    const mine = await searchAppLogs(viewer, { q: 'alpha', limit: 1000 });
    expect(new Set(mine.hits.map((h) => h.app))).toEqual(new Set([app]));
    const all = await searchAppLogs(master.api, { q: 'alpha', limit: 1000 });
    expect(new Set(all.hits.map((h) => h.app))).toEqual(new Set([app, legacy]));
  });
});

describe('live tail', () => {
  it('delivers new lines of every instance of the app, and ends when the caller leaves the team', async () => {
    const received: AppLogLine[] = [];
    const events: AppLogTailEvent[] = [];
    const ac = new AbortController();
    const done = tailAppLogs(viewer, { app, lines: 3 }, (e) => {
      events.push(e);
      if (e.type === 'lines') received.push(...e.lines);
    }, ac.signal);
    // The newest 3 entries first, then new ticks as they are stored.
    await waitFor('the newest entries', () => events.length > 0, { timeoutMs: 10_000 });
    expect(events[0].type === 'lines' && events[0].lines.length).toBe(3);
    const start = received.length;
    const tick = await waitFor('a new tick through the tail', () => received.slice(start).find((l) => /^tick \d+$/.test(l.text)), { timeoutMs: 5000, intervalMs: 20 });
    const lag = Date.now() - tick.ts;
    console.log(`tail: a new line arrived ${lag} ms after the container wrote it`);
    const ids = received.map((l) => l.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(received.every((l) => l.app === app)).toBe(true);

    // The outsider cannot tail it, and gets the answer of an app that does not exist.
    expect((await notFoundOf(tailAppLogs(outsider, { app }, () => undefined))).replace(app, '<app>')).toBe("not_found: app '<app>' not found");
    expect(await notFoundOf(tailAppLogs(viewer, { app: '' }, () => undefined))).toMatch(/^invalid_request: app: required/);

    // Removed from the team: the open tail ends at once with not_found.
    await master.api.removeMember(shop, `shopper-${app}`);
    const end = await Promise.race([done, new Promise<'still open'>((r) => setTimeout(() => r('still open'), 5000))]);
    expect(end).toMatchObject({ type: 'end', code: 'not_found' });
    ac.abort();
    await master.api.setMember(shop, `shopper-${app}`, 'viewer');
  });
});

describe('agents and the CLI', () => {
  it('refuses container logs of another environment than the agent is bound to', async () => {
    const token = (await master.api.createAgentToken(environment, 'raw-logs')).token;
    const raw = await helloRaw(master.url, token, 'raw-logs', environment);
    raw.sendJson({ type: 'agent:container-logs', source: `${environment}/forged`, firstSeq: 1, app, environment: 'prod', instance: 'x', streams: 'o', ts: [Date.now()], texts: ['forged line'] });
    const ack = await raw.next('the ack', (m): m is Extract<MasterMessage, { type: 'master:container-logs-ack' }> => m.type === 'master:container-logs-ack');
    expect(ack.refused).toBe(`environment: 'prod' is not this agent's environment '${environment}'; an agent ships logs of its own environment only`);
    expect(ack.storedThrough).toBe(0);
    expect((await searchAppLogs(master.api, { app, q: 'forged' })).hits).toEqual([]);
    raw.ws.close();
  });

  it('searches and sets retention from the command line', async () => {
    const cli = (args: string[], token = viewer.token!) => runCli(args, { env: { SLIPWAY_URL: master.url, SLIPWAY_TOKEN: token, SLIPWAY_CONFIG: join(dir, 'cli.json') } });
    const found = await cli(['app-logs', app, 'beta', 'failure', '--stream', 'stderr', '--limit', '2']);
    expect(found.code).toBe(0);
    expect(found.stdout.trim().split('\n')).toEqual([
      expect.stringMatching(new RegExp(`^\\S+Z ${environment} ${app}-1 stderr: beta failure 4$`)),
      expect.stringMatching(new RegExp(`^\\S+Z ${environment} ${app}-1 stderr: beta failure 5$`)),
    ]);
    expect(found.stderr).toMatch(/^older entries: --cursor \S+/m);
    const json = JSON.parse((await cli(['app-logs', app, '"request id 3"', '--json'])).stdout) as { hits: AppLogLine[] };
    expect(json.hits.map((h) => h.text)).toEqual(['alpha request id 3 ok']);
    const since = await cli(['app-logs', app, '--since', 'whenever']);
    expect([since.code, since.stderr.trim()]).toEqual([1, "error: --since: 'whenever' is neither a duration (30m, 2h, 7d), ms since epoch nor an ISO time"]);
    const hidden = await cli(['app-logs', legacy]);
    expect([hidden.code, hidden.stderr.trim()]).toEqual([1, `error: app '${legacy}' not found`]);

    expect((await cli(['app-logs-retention', '--env', environment, '--days', '3'])).code).toBe(1);
    const set = await cli(['app-logs-retention', '--env', environment, '--days', '3', '--json'], master.api.token!);
    expect(JSON.parse(set.stdout)).toEqual({ default: { maxAgeDays: 14 }, perEnvironment: { [environment]: { maxAgeDays: 3 } } });
    const bad = await notFoundOf(master.api.request('PUT', '/api/v1/app-logs/retention', { perEnvironment: { [environment]: { maxAgeDays: -1 } } }));
    expect(bad).toMatch(new RegExp(`^invalid_request: perEnvironment\\.${environment}\\.maxAgeDays: `));
    expect(await notFoundOf(viewer.request('GET', '/api/v1/app-logs/retention'))).toMatch(/^forbidden: /);
  });

  it("shows admins the log center's counts: what real containers' lines stored, between two reads", async () => {
    // A container keeps ticking: the stored count read by a search lies between two reads of the stats.
    const before = await appLogStats(master.api);
    const found = (await searchAppLogs(master.api, { environment, limit: 1000 })).hits.length;
    const after = await appLogStats(master.api);
    expect(found).toBeLessThan(1000);
    expect(before.environments[environment].entries).toBeLessThanOrEqual(found);
    expect(after.environments[environment].entries).toBeGreaterThanOrEqual(found);
    expect(after.entries).toBe(after.environments[environment].entries);
    expect(after.indexing.storedSeq).toBe(after.entries);
    expect(after.indexing.lagRows).toBe(after.indexing.storedSeq - after.indexing.indexedSeq);
    expect(after.indexing.workerFailuresInRow).toBe(0);
    expect(await notFoundOf(appLogStats(viewer))).toMatch(/^forbidden: /);
  });
});
