/**
 * Job names are unique per team, against a real master: a team applies a job under a name another team already
 * uses and gets its own job (before, it was refused with the other team's "job 'web' not found", which told it
 * the name was taken). Each team's routes resolve the bare name to its own job; another team's job stays
 * "not found" even as `team/name`; a caller in both teams (or an admin) must say `team/name`, and is told so.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebhookResult } from '../../shared/api';
import type { ApiClient } from '../../shared/client/api-client';
import { SlipwayError } from '../../shared/errors';
import { runCli } from '../helpers/cli';
import { startMaster, type TestMaster } from '../helpers/cluster';

let master: TestMaster;
const suffix = Math.random().toString(36).slice(2, 8);
const shop = `shop-${suffix}`;
const games = `games-${suffix}`;
/** A team made by a job file (jobs/infra.yml): its job is managed as code. */
const ops = `ops-${suffix}`;
const jobsDir = mkdtempSync(join(tmpdir(), 'slipway-names-jobs-'));
const users: Record<string, ApiClient> = {};

const job = (team: string, step = 'echo hi', name = 'web') => `name: ${name}
team: ${team}
stages:
  - name: build
    environment: ci
    steps: [ { sh: '${step}' } ]
`;

async function failure(p: Promise<unknown>): Promise<SlipwayError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(SlipwayError);
  return err as SlipwayError;
}

beforeAll(async () => {
  writeFileSync(join(jobsDir, 'infra.yml'), job(ops, 'echo infra', 'infra'));
  master = await startMaster({ jobsDir });
  for (const t of [shop, games]) await master.api.createTeam(t);
  for (const [user, teams] of [
    ['shopper', [shop]],
    ['gamer', [games]],
    ['both', [shop, games, ops]],
    ['dev', [shop, games]],
  ] as const) {
    await master.api.createUser({ username: `${user}-${suffix}`, password: 'a-long-password-1' });
    for (const t of teams) await master.api.setMember(t, `${user}-${suffix}`, user === 'dev' ? 'developer' : 'maintainer');
    users[user] = await master.login(`${user}-${suffix}`, 'a-long-password-1');
  }
}, 60_000);

afterAll(async () => {
  await master?.stop();
  rmSync(jobsDir, { recursive: true, force: true });
});

describe('job names per team', () => {
  it("another team applies a name already used and gets its own job; nobody learns of the other team's job", async () => {
    expect(await users.shopper.applyJob(job(shop, 'echo shop'))).toMatchObject({ name: 'web', team: shop });
    const mine = await users.gamer.applyJob(job(games, 'echo games'));
    expect(mine).toMatchObject({ name: 'web', team: games });

    expect(await users.shopper.getJob('web')).toMatchObject({ team: shop, yaml: job(shop, 'echo shop') });
    expect(await users.gamer.getJob('web')).toMatchObject({ team: games, yaml: job(games, 'echo games') });
    // Applying again updates the team's own job; the other team's stays as it was.
    expect(await users.gamer.applyJob(job(games, 'echo again'))).toMatchObject({ id: mine.id, team: games });
    expect((await users.shopper.getJob('web')).yaml).toBe(job(shop, 'echo shop'));

    // Another team's job answers exactly like a job nobody has, by name or by team/name.
    const foreign = await failure(users.gamer.getJob(`${shop}/web`));
    const none = await failure(users.gamer.getJob(`${shop}/nothing`));
    expect([foreign.code, foreign.message]).toEqual(['not_found', `job '${shop}/web' not found`]);
    expect(none.message).toBe(`job '${shop}/nothing' not found`);
    expect((await failure(users.gamer.listBuilds(`${shop}/web`))).message).toBe(`job '${shop}/web' not found`);

    const built = await users.gamer.trigger('web');
    expect(built.job).toBe('web');
    expect((await users.gamer.listBuilds('web')).map((b) => b.id)).toEqual([built.id]);
    expect(await users.shopper.listBuilds('web')).toEqual([]);
    expect(await users.gamer.listTriggers('web')).toEqual([]);
  }, 60_000);

  it('a caller in both teams, or an admin, names the team: the bare name is refused saying how', async () => {
    for (const api of [users.both, master.api]) {
      const err = await failure(api.getJob('web'));
      expect(err.code).toBe('conflict');
      expect(err.message).toBe(`job name 'web' is used by several of your teams (${[games, shop].sort().join(', ')}); name the team: ${[games, shop].sort().map((t) => `${t}/web`).join(' or ')}`);
      expect((await failure(api.trigger('web'))).code).toBe('conflict');
      expect(await api.getJob(`${shop}/web`)).toMatchObject({ team: shop });
      expect(await api.getJob(`${games}/web`)).toMatchObject({ team: games });
    }
    expect((await users.both.listJobs()).filter((j) => j.name === 'web').map((j) => j.team).sort()).toEqual([games, shop].sort());

    // The CLI takes TEAM/NAME wherever it takes a job, and passes the refusal on.
    const env = { SLIPWAY_URL: master.url, SLIPWAY_TOKEN: users.both.token!, SLIPWAY_CONFIG: '/nonexistent/slipway-cli.json' };
    const ambiguous = await runCli(['trigger', 'web'], { env });
    expect(ambiguous.code).toBe(1);
    expect(ambiguous.stderr).toContain(`name the team: ${[games, shop].sort().map((t) => `${t}/web`).join(' or ')}`);
    const ok = await runCli(['trigger', `${shop}/web`], { env });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^build \d+ \(web#1\) (queued|running)/);
    const listed = await runCli(['builds', `${shop}/web`], { env });
    expect(listed.stdout.trim().split('\n')).toHaveLength(2);

    // The web UI links such a job as /jobs/team%2Fname (web/src/router.ts jobPath): the master serves the page.
    const page = await fetch(`${master.url}/jobs/${shop}%2Fweb`);
    expect([page.status, page.headers.get('content-type')]).toEqual([200, expect.stringMatching(/^text\/html/)]);

    // Deleting by team/name disables that team's job only (here with the CLI: `slipway job delete TEAM/NAME`).
    expect((await runCli(['job', 'delete', 'web'], { env })).stderr).toContain(`name the team: ${[games, shop].sort().map((t) => `${t}/web`).join(' or ')}`);
    const deleted = await runCli(['job', 'delete', `${shop}/web`], { env });
    expect([deleted.code, deleted.stdout, deleted.stderr]).toEqual([0, `job ${shop}/web disabled (its history is kept)\n`, '']);
    expect((await users.both.getJob(`${shop}/web`)).enabled).toBe(false);
    expect((await users.gamer.getJob('web')).enabled).toBe(true);
  }, 60_000);
});

describe('moving a job between teams is explicit', () => {
  it("applying a job for a team that lacks that name creates the team's own job; the other team's job stays", async () => {
    const theirs = await users.shopper.applyJob(job(shop, 'echo shop api', 'api'));
    // "both" may edit shop/api too: before, applying games/api moved shop's job (with its history) to games.
    const mine = await users.both.applyJob(job(games, 'echo games api', 'api'));
    expect(mine).toMatchObject({ name: 'api', team: games });
    expect(mine.id).not.toBe(theirs.id);
    expect(await users.shopper.getJob('api')).toMatchObject({ id: theirs.id, team: shop, yaml: job(shop, 'echo shop api', 'api') });
    expect(await users.gamer.getJob('api')).toMatchObject({ id: mine.id, team: games });
  }, 60_000);

  it('POST /jobs/:job/move gives the job, its id and its builds to the target team', async () => {
    const lib = await users.shopper.applyJob(`# the shop's library\n${job(shop, 'echo lib', 'lib')}`);
    const built = await users.shopper.trigger('lib');

    const moved = await users.both.moveJob(`${shop}/lib`, games);
    expect(moved).toMatchObject({ id: lib.id, name: 'lib', team: games, source: 'api' });
    // The YAML says the new team (so applying it again updates this job), its comment kept.
    const now = await users.gamer.getJob('lib');
    expect(now.yaml).toBe(`# the shop's library\n${job(games, 'echo lib', 'lib')}`);
    expect(await users.gamer.applyJob(now.yaml)).toMatchObject({ id: lib.id, team: games });
    expect((await users.gamer.listBuilds('lib')).map((b) => [b.id, b.team])).toEqual([[built.id, games]]);
    expect((await users.gamer.getBuild(built.id)).team).toBe(games);
    // The old team no longer sees it, exactly as a job nobody has.
    expect((await failure(users.shopper.getJob('lib'))).message).toBe("job 'lib' not found");
    expect((await failure(users.shopper.getBuild(built.id))).code).toBe('not_found');

    // The CLI moves it back by team/name.
    const env = { SLIPWAY_URL: master.url, SLIPWAY_TOKEN: users.both.token!, SLIPWAY_CONFIG: '/nonexistent/slipway-cli.json' };
    const cli = await runCli(['job', 'move', `${games}/lib`, '--team', shop], { env });
    expect([cli.code, cli.stderr]).toEqual([0, '']);
    expect(cli.stdout).toBe(`job lib moved to team ${shop} (${shop}/lib)\n`);
    expect(await users.shopper.getJob('lib')).toMatchObject({ id: lib.id, team: shop });
    // `slipway tests BUILD` reads the job's trend by team/name: before, it asked for the bare name and got the 409.
    // (api is a job of both of this user's teams.)
    const apiBuild = await users.both.trigger(`${shop}/api`);
    const tests = await runCli(['tests', String(apiBuild.id)], { env });
    expect([tests.code, tests.stderr]).toEqual([0, '']);
    expect(tests.stdout).toContain(`build ${apiBuild.id} (api#1): 0 tests`);
    const refused = await runCli(['job', 'move', 'api', '--team', shop], { env });
    expect([refused.code, refused.stderr.trim()]).toEqual([1, expect.stringContaining(`name the team: ${[games, shop].sort().map((t) => `${t}/api`).join(' or ')}`)]);
  }, 60_000);

  it('refuses a name the target team has, a file-managed job, and callers without the roles, each in its own words', async () => {
    const taken = await failure(users.both.moveJob(`${games}/api`, shop));
    expect([taken.code, taken.message]).toEqual(['conflict', `team '${shop}' already has a job 'api'; rename or delete one of them first`]);
    const file = await failure(users.both.moveJob('infra', shop));
    expect(file.code).toBe('conflict');
    expect(file.message).toContain('jobs/infra.yml');
    expect((await users.both.getJob('infra')).team).toBe(ops);

    // A job of another team: the answer of a job nobody has, by name or team/name, whatever the target.
    for (const ref of [`${shop}/lib`, 'lib']) {
      const hidden = await failure(users.gamer.moveJob(ref, games));
      const none = await failure(users.gamer.moveJob(ref.replace('lib', 'nothing'), games));
      expect([hidden.code, hidden.message]).toEqual(['not_found', `job '${ref}' not found`]);
      expect([none.code, none.message.replace('nothing', 'lib')]).toEqual([hidden.code, hidden.message]);
    }
    // A target team the caller is not in reads like a team that does not exist.
    const outside = await failure(users.shopper.moveJob('lib', games));
    expect([outside.code, outside.message]).toEqual(['not_found', `team '${games}' not found`]);
    expect((await failure(users.shopper.moveJob('lib', `nope-${suffix}`))).message).toBe(`team 'nope-${suffix}' not found`);
    // A developer may edit jobs but not take one out of its team (that is a maintainer's call, like deleting it).
    expect((await failure(users.dev.moveJob(`${shop}/lib`, games))).code).toBe('forbidden');
    const noTeam = await fetch(`${master.url}/api/v1/jobs/lib/move`, {
      method: 'POST',
      headers: { authorization: `Bearer ${users.shopper.token}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect([noTeam.status, ((await noTeam.json()) as { error: { message: string } }).error.message]).toEqual([400, 'team: the name of the team to move the job to is required']);
    expect(await users.shopper.getJob('lib')).toMatchObject({ team: shop });
  }, 60_000);
});

describe('webhook answers name each job with its team', () => {
  it('a push building the same-named job of two teams lists team and job for each', async () => {
    const repo = `https://git.example/names-${suffix}/hooked.git`;
    const secret = `names-hook-${suffix}`;
    for (const team of [shop, games]) {
      await master.api.setSecret(team, 'WEBHOOK_SECRET', secret);
      await master.api.applyJob(`name: hooked
team: ${team}
repo: { url: '${repo}' }
triggers: { push: { branches: [main] } }
stages:
  - name: build
    environment: ci
    steps: [ { sh: 'true' } ]
`);
    }
    const push = (ref: string, sha: string) =>
      fetch(`${master.url}/api/v1/hooks/generic`, {
        method: 'POST',
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
        body: JSON.stringify({ repository: repo, ref, sha }),
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as WebhookResult }));
    const built = await push('refs/heads/main', 'e'.repeat(40));
    expect(built.status).toBe(202);
    // Before, both entries read { job: 'hooked' }: which team's build was which could not be told.
    const queued = [...built.body.queued].sort((a, b) => a.team.localeCompare(b.team));
    expect(queued).toEqual([games, shop].sort().map((team) => ({ job: 'hooked', team, buildId: expect.any(Number), number: 1 })));
    for (const q of queued) expect(await master.api.getBuild(q.buildId)).toMatchObject({ job: 'hooked', team: q.team });
    const ignored = await push('refs/heads/other', 'f'.repeat(40));
    expect([...ignored.body.ignored].sort((a, b) => a.team!.localeCompare(b.team!))).toEqual(
      [games, shop].sort().map((team) => ({ job: 'hooked', team, reason: expect.stringContaining('other') })),
    );
    const nobody = await fetch(`${master.url}/api/v1/hooks/generic`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ repository: `https://git.example/nobody-${suffix}.git`, ref: 'refs/heads/main', sha: 'e'.repeat(40) }),
    });
    expect(((await nobody.json()) as WebhookResult).ignored).toEqual([{ job: null, team: null, reason: expect.stringContaining('no job watches') }]);
  }, 60_000);
});
