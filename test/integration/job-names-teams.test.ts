/**
 * Job names are unique per team, against a real master: a team applies a job under a name another team already
 * uses and gets its own job (before, it was refused with the other team's "job 'web' not found", which told it
 * the name was taken). Each team's routes resolve the bare name to its own job; another team's job stays
 * "not found" even as `team/name`; a caller in both teams (or an admin) must say `team/name`, and is told so.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiClient } from '../../shared/client/api-client';
import { SlipwayError } from '../../shared/errors';
import { runCli } from '../helpers/cli';
import { startMaster, type TestMaster } from '../helpers/cluster';

let master: TestMaster;
const suffix = Math.random().toString(36).slice(2, 8);
const shop = `shop-${suffix}`;
const games = `games-${suffix}`;
const users: Record<string, ApiClient> = {};

const job = (team: string, step = 'echo hi') => `name: web
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
  master = await startMaster();
  for (const t of [shop, games]) await master.api.createTeam(t);
  for (const [user, teams] of [
    ['shopper', [shop]],
    ['gamer', [games]],
    ['both', [shop, games]],
  ] as const) {
    await master.api.createUser({ username: `${user}-${suffix}`, password: 'a-long-password-1' });
    for (const t of teams) await master.api.setMember(t, `${user}-${suffix}`, 'maintainer');
    users[user] = await master.login(`${user}-${suffix}`, 'a-long-password-1');
  }
}, 60_000);

afterAll(async () => {
  await master?.stop();
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

    // Deleting by team/name disables that team's job only.
    await users.both.deleteJob(`${shop}/web`);
    expect((await users.both.getJob(`${shop}/web`)).enabled).toBe(false);
    expect((await users.gamer.getJob('web')).enabled).toBe(true);
  }, 60_000);
});
