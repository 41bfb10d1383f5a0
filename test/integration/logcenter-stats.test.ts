/**
 * GET /api/v1/app-logs/stats and `slipway app-logs-stats` against a real master: container log batches arrive
 * over the real agent protocol (raw agents of two environments, no Docker needed), are stored in the master's
 * real log center (SQLite file, FTS indexing on the worker thread), and the admin sees counts that match what
 * was stored and searchable, per environment, with the retention policy and the indexing state; a non-admin
 * gets the same refusal as on the other admin routes (the retention route); the CLI prints it.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../shared/client/api-client';
import { appLogStats, searchAppLogs, setAppLogRetention } from '../../shared/client/app-logs-client';
import type { AppLogStats } from '../../shared/api-logs';
import { SlipwayError } from '../../shared/errors';
import type { MasterMessage } from '../../shared/protocol';
import { ensureEnvironment, startMaster, type TestMaster } from '../helpers/cluster';
import { runCli } from '../helpers/cli';
import { uniqueName } from '../helpers/docker';
import { waitFor } from '../helpers/wait';
import { helloRaw, type RawAgent } from './engine-raw-agent';

let master: TestMaster;
let viewer: ApiClient;
const dir = mkdtempSync(join(tmpdir(), 'slipway-logstats-'));
const app = uniqueName('statsapp');
const envA = uniqueName('lsa');
const envB = uniqueName('lsb');
const agents: RawAgent[] = [];
/** What was sent per environment: entries and bytes as the store counts them (text characters + 32). */
const sent: Record<string, { entries: number; bytes: number }> = {};

const refusal = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
  } catch (e) {
    if (e instanceof SlipwayError) return e.code;
    throw e;
  }
  return 'allowed';
};

async function ship(agent: RawAgent, environment: string, source: string, texts: string[]): Promise<void> {
  const now = Date.now();
  agent.sendJson({ type: 'agent:container-logs', source, firstSeq: 1, app, environment, instance: `${app}-${environment}`, streams: 'o'.repeat(texts.length), ts: texts.map((_, i) => now - 1000 + i), texts });
  const ack = await agent.next(`the ack of ${source}`, (m): m is Extract<MasterMessage, { type: 'master:container-logs-ack' }> => m.type === 'master:container-logs-ack' && m.source === source);
  expect(ack.refused).toBeUndefined();
  expect(ack.storedThrough).toBe(texts.length);
  const s = (sent[environment] ??= { entries: 0, bytes: 0 });
  s.entries += texts.length;
  s.bytes += texts.reduce((n, t) => n + t.length + 32, 0);
}

beforeAll(async () => {
  master = await startMaster();
  const team = uniqueName('statsteam');
  await master.api.createTeam(team);
  await master.api.createUser({ username: `viewer-${app}`, password: 'viewer-password-1' });
  await master.api.setMember(team, `viewer-${app}`, 'maintainer');
  viewer = await master.login(`viewer-${app}`, 'viewer-password-1');
  for (const environment of [envA, envB]) {
    await ensureEnvironment(master.api, environment);
    const token = (await master.api.createAgentToken(environment, `raw-${environment}`)).token;
    agents.push(await helloRaw(master.url, token, `raw-${environment}`, environment));
  }
  await ship(agents[0], envA, `${envA}/c1/stdout`, Array.from({ length: 30 }, (_, i) => `request ${i} served in ${i * 3} ms`));
  await ship(agents[0], envA, `${envA}/c2/stdout`, Array.from({ length: 7 }, (_, i) => `second container line ${i}`));
  await ship(agents[1], envB, `${envB}/c1/stdout`, ['only one line in b', 'and a second one, a bit longer than the first']);
}, 60_000);

afterAll(async () => {
  for (const a of agents) a.ws.close();
  await master?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('log center stats', () => {
  it('shows the admin what was stored, per environment, with retention and the indexing state', async () => {
    await setAppLogRetention(master.api, { default: { maxAgeDays: 14 }, perEnvironment: { [envB]: { maxAgeDays: 2, maxBytes: 1024 * 1024 } } });
    // The worker indexes behind the appends (within ~2 s); until then lagRows counts what the pending index covers.
    const stats = await waitFor('every stored entry indexed', async () => {
      const s = await appLogStats(master.api);
      return s.indexing.lagRows === 0 ? s : undefined;
    }, { timeoutMs: 20_000, intervalMs: 100 });

    const total = sent[envA].entries + sent[envB].entries;
    expect(stats.entries).toBe(total);
    expect(stats.bytes).toBe(sent[envA].bytes + sent[envB].bytes);
    expect(stats.environments[envA]).toMatchObject({ entries: 37, bytes: sent[envA].bytes, partitions: 1 });
    expect(stats.environments[envB]).toMatchObject({ entries: 2, bytes: sent[envB].bytes, partitions: 1 });
    expect(stats.partitions).toBe(2);
    const hour = 3_600_000;
    expect(stats.environments[envA].oldestPartitionStart).toBe(Math.floor((Date.now() - 1000) / hour) * hour);
    expect(stats.fileBytes).toBeGreaterThan(0);
    expect(stats.retention.perEnvironment[envB]).toEqual({ maxAgeDays: 2, maxBytes: 1024 * 1024 });
    // A fresh master: the store's seqs are exactly the entries stored, and all of them are indexed now.
    expect(stats.indexing).toMatchObject({ storedSeq: total, indexedSeq: total, lagRows: 0, pendingSpillRows: 0, workerFailuresInRow: 0, workerRunning: true });
    expect(stats.indexing.workerError).toBeUndefined();

    // The counts are what a search finds.
    const page = await searchAppLogs(master.api, { app, limit: 1000 });
    expect(page.hits.length).toBe(total);
    expect(page.hits.filter((h) => h.environment === envA).length).toBe(stats.environments[envA].entries);

    // A re-sent batch is stored once, and the stats say so.
    const source = `${envB}/c1/stdout`;
    const acks = () => agents[1].received.filter((m) => m.type === 'master:container-logs-ack' && m.source === source).length;
    const before = acks();
    agents[1].sendJson({ type: 'agent:container-logs', source, firstSeq: 1, app, environment: envB, instance: `${app}-${envB}`, streams: 'oo', ts: [Date.now(), Date.now()], texts: ['again', 'again'] });
    await waitFor('the ack of the re-sent batch', () => acks() > before, { timeoutMs: 10_000 });
    expect((await appLogStats(master.api)).entries).toBe(total);
  });

  it('refuses non-admins as the other admin routes do', async () => {
    const asRetention = await refusal(viewer.request('GET', '/api/v1/app-logs/retention'));
    expect(asRetention).toBe('forbidden');
    expect(await refusal(appLogStats(viewer))).toBe(asRetention);
    const anonymous = new ApiClient({ url: master.url });
    expect(await refusal(anonymous.request('GET', '/api/v1/app-logs/stats'))).toBe('unauthenticated');
  });

  it('prints the stats from the command line, as a table and as JSON', async () => {
    const cli = (args: string[], token: string) => runCli(args, { env: { SLIPWAY_URL: master.url, SLIPWAY_TOKEN: token, SLIPWAY_CONFIG: join(dir, 'cli.json') } });
    const out = await cli(['app-logs-stats'], master.api.token!);
    expect(out.code).toBe(0);
    const lines = out.stdout.split('\n');
    expect(lines[0]).toMatch(/^ENVIRONMENT\s+ENTRIES\s+SIZE\s+PARTITIONS\s+OLDEST\s+NEWEST\s+RETENTION$/);
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^${envA}\\s+37\\s+0\\.0 MiB\\s+1\\s+\\S+ \\S+\\s+\\S+ \\S+\\s+14d$`)));
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^${envB}\\s+2\\s+0\\.0 MiB\\s+1\\s+\\S+ \\S+\\s+\\S+ \\S+\\s+2d, 1\\.0 MiB$`)));
    expect(lines).toContainEqual(expect.stringMatching(/^\(all\)\s+39\s+/));
    expect(lines).toContain('lag:             0 entries (searched through the pending index until indexed)');
    expect(lines).toContainEqual(expect.stringMatching(/^indexing worker: running; 0 failure\(s\) in a row, 0 restart\(s\)$/));

    const json = JSON.parse((await cli(['app-logs-stats', '--json'], master.api.token!)).stdout) as AppLogStats;
    expect(json.entries).toBe(39);
    expect(json.environments[envA].entries).toBe(37);
    expect(json.indexing.lagRows).toBe(0);

    const denied = await cli(['app-logs-stats'], viewer.token!);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/^error: /);
    expect(denied.stdout).toBe('');
  });

  it('shows a failing indexing worker and the entries it leaves behind, until it catches up', async () => {
    // The real cause the store guards against: another connection (a backup, an sqlite3 shell) holds the write
    // lock of the index file, so the master's worker fails each pass (after its 5 s lock timeout) and restarts.
    const locker = new Database(join(master.dataDir, 'container-logs.db-fts'), { timeout: 10_000 });
    locker.exec('BEGIN IMMEDIATE');
    try {
      await ship(agents[0], envA, `${envA}/c3/stdout`, Array.from({ length: 5 }, (_, i) => `written while the index is locked ${i}`));
      const failing = await waitFor('the worker failure in the stats', async () => {
        const st = await appLogStats(master.api);
        return st.indexing.workerFailuresInRow >= 1 ? st : undefined;
      }, { timeoutMs: 30_000, intervalMs: 200 });
      expect(failing.indexing.lagRows).toBe(5);
      expect(failing.indexing.workerError).toMatch(/database is locked/);
      // Still searchable meanwhile (the pending index), and counted.
      expect((await searchAppLogs(master.api, { app, q: 'locked', limit: 100 })).hits.length).toBe(5);
      const out = await runCli(['app-logs-stats'], { env: { SLIPWAY_URL: master.url, SLIPWAY_TOKEN: master.api.token!, SLIPWAY_CONFIG: join(dir, 'cli.json') } });
      expect(out.stdout).toContain('lag:             5 entries (searched through the pending index until indexed)');
      expect(out.stdout).toMatch(/^indexing worker: .*; [1-9]\d* failure\(s\) in a row, \d+ restart\(s\); last error: .*database is locked/m);
    } finally {
      locker.exec('ROLLBACK');
      locker.close();
    }
    // Released: the worker comes back (backoff from 200 ms) and indexes what it left behind.
    const caughtUp = await waitFor('the worker caught up', async () => {
      const st = await appLogStats(master.api);
      return st.indexing.lagRows === 0 && st.indexing.workerFailuresInRow === 0 ? st : undefined;
    }, { timeoutMs: 40_000, intervalMs: 200 });
    expect(caughtUp.indexing.indexedSeq).toBe(caughtUp.indexing.storedSeq);
    expect(caughtUp.indexing.workerRestarts).toBeGreaterThanOrEqual(1);
  }, 90_000);
});
