/**
 * Polling end to end through a real master process: a job polling a real bare repository every second
 * records its baseline, builds a pushed commit once, reports the commit status of that build to a local
 * GitLab-shaped HTTP server, and shows the history through GET /jobs/:job/triggers (404 outside the
 * team) and `slipway triggers JOB`.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SlipwayError } from '../../shared/errors';
import { runCli } from '../helpers/cli';
import { startMaster, type TestMaster } from '../helpers/cluster';
import { waitFor } from '../helpers/wait';
import { git } from '../helpers/git';

const dir = mkdtempSync(join(tmpdir(), 'slipway-poll-it-'));
const bare = join(dir, 'origin.git');
const work = join(dir, 'work');
const calls: { path: string; headers: IncomingHttpHeaders; body: Record<string, string> }[] = [];
let statusServer: Server;
let master: TestMaster;

function push(file: string): string {
  writeFileSync(join(work, file), file);
  git(work, 'add', '-A');
  git(work, 'commit', '-q', '-m', `add ${file}`);
  git(work, 'push', '-q', bare, 'HEAD:refs/heads/main');
  return git(work, 'rev-parse', 'HEAD');
}

beforeAll(async () => {
  git(dir, 'init', '-q', '--bare', bare);
  mkdirSync(work);
  git(work, 'init', '-q', '-b', 'main');
  push('one');
  statusServer = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      calls.push({ path: req.url!, headers: req.headers, body: JSON.parse(body) });
      res.statusCode = 201;
      res.end('{}');
    });
  });
  await new Promise<void>((r) => statusServer.listen(0, '127.0.0.1', r));
  master = await startMaster();
  await master.api.createTeam('shop');
  await master.api.setSecret('shop', 'STATUS_TOKEN', 'glpat-poll');
  await master.api.applyJob(`name: polled
team: shop
repo: { url: '${bare}', branch: main }
triggers: { poll: '* * * * * *' }
status: { provider: gitlab, apiUrl: 'http://127.0.0.1:${(statusServer.address() as AddressInfo).port}/api/v4', token: STATUS_TOKEN }
stages:
  - name: build
    environment: ci
    steps: [ { sh: make } ]
`);
}, 60_000);

afterAll(async () => {
  await master?.stop();
  statusServer?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('polling through a real master', () => {
  it('takes a baseline, then builds a pushed commit once and reports its status', async () => {
    await waitFor('the baseline poll', async () => (await master.api.listTriggers('polled')).some((e) => /^first poll/.test(e.reason)));
    expect(await master.api.listBuilds('polled')).toEqual([]);

    const head = push('two');
    const build = await waitFor('a build of the pushed commit', async () => (await master.api.listBuilds('polled')).find((b) => b.commit === head));
    expect(build).toMatchObject({ ref: 'refs/heads/main', branch: 'main', trigger: { kind: 'poll' } });

    const pending = await waitFor('the pending commit status', () => calls.find((c) => c.body.state === 'pending'));
    expect(pending.path).toBe(`/api/v4/projects/${encodeURIComponent(bare.replace(/^\/+/, '').replace(/\.git$/, ''))}/statuses/${head}`);
    expect(pending.headers['private-token']).toBe('glpat-poll');
    expect(pending.body).toMatchObject({ name: 'slipway/polled', ref: 'main', target_url: `${master.url}/builds/${build.id}` });

    // A later push builds too, so polls ran after the first build: the first head still has one build.
    const next = push('three');
    await waitFor('a build of the next commit', async () => (await master.api.listBuilds('polled')).find((b) => b.commit === next));
    const builds = await master.api.listBuilds('polled');
    expect(builds.filter((b) => b.commit === head)).toHaveLength(1);
    expect(builds).toHaveLength(2);

    const events = await master.api.listTriggers('polled');
    expect(events[0]).toMatchObject({ provider: 'poll', event: 'push', ref: 'refs/heads/main', sha: next, outcome: 'queued' });
    expect(events[1]).toMatchObject({ provider: 'poll', event: 'push', ref: 'refs/heads/main', sha: head, outcome: 'queued', buildId: build.id });
    expect(events.at(-1)?.reason).toMatch(/^first poll/);
  }, 60_000);

  it('answers 404 to a user outside the team and shows the history with slipway triggers', async () => {
    await master.api.createUser({ username: 'outsider', password: 'outsider-password' });
    const outsider = await master.login('outsider', 'outsider-password');
    const err = await outsider.listTriggers('polled').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SlipwayError);
    expect((err as SlipwayError).code).toBe('not_found');

    const env = { SLIPWAY_URL: master.url, SLIPWAY_TOKEN: master.api.token!, SLIPWAY_CONFIG: join(dir, 'cli.json') };
    const table = await runCli(['triggers', 'polled'], { env });
    expect(table.stderr).toBe('');
    expect(table.code).toBe(0);
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^TIME\s+DELIVERY\s+EVENT\s+REF\s+SHA\s+OUTCOME\s+REASON\s+BUILD$/);
    const head = git(work, 'rev-parse', 'HEAD');
    expect(lines[1]).toMatch(new RegExp(`poll:push\\s+main\\s+${head.slice(0, 12)}\\s+queued`));
    const missing = await runCli(['triggers', 'no-such-job'], { env });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/job 'no-such-job' not found/);
  }, 60_000);

  it('manual and cron builds of a job with a repo record the branch head at trigger time', async () => {
    const head = git(work, 'rev-parse', 'HEAD');
    const manual = await master.api.trigger('polled');
    expect(manual).toMatchObject({ commit: head, ref: 'refs/heads/main', branch: 'main' });
    const err = await master.api.trigger('polled', { branch: 'nope' }).catch((e: unknown) => e);
    expect((err as SlipwayError).code).toBe('invalid_request');
    expect((err as SlipwayError).message).toMatch(/branch 'nope' does not exist in the repository of job 'polled'/);

    await master.api.applyJob(`name: cronned
team: shop
repo: { url: '${bare}', branch: main }
triggers: { cron: '* * * * * *' }
stages:
  - name: build
    environment: ci
    steps: [ { sh: make } ]
`);
    const built = await waitFor('a cron build', async () => (await master.api.listBuilds('cronned')).at(-1));
    await master.api.deleteJob('cronned');
    expect(built).toMatchObject({ commit: head, ref: 'refs/heads/main', trigger: { kind: 'cron' } });
  }, 60_000);
});
