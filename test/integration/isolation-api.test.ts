/**
 * Regression tests for the team-isolation defects of issue 6 that the HTTP API shows, through a real master:
 * read tokens minting tokens, member names probed by maintainers, error messages naming other teams,
 * jobs naming environments that do not exist, unbounded parameter values, and build ids out of range.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../shared/client/api-client';
import { SlipwayError, ValidationError } from '../../shared/errors';
import { startMaster, type TestMaster } from '../helpers/cluster';

const suffix = Math.random().toString(36).slice(2, 8);
const shop = `shop-${suffix}`;
const other = `other-${suffix}`;

const job = (name: string, team: string, env = 'ci', params = '') => `name: ${name}
team: ${team}
${params}stages:
  - name: build
    environment: ${env}
    steps:
      - sh: echo hello
`;

async function failure(p: Promise<unknown>): Promise<SlipwayError> {
  try {
    await p;
  } catch (e) {
    return e as SlipwayError;
  }
  throw new Error('expected the request to fail');
}

let master: TestMaster;
let dev: ApiClient;
let maint: ApiClient;
let outsider: ApiClient;

beforeAll(async () => {
  master = await startMaster();
  const api = master.api;
  await api.createEnvironment('ci');
  await api.createTeam(shop);
  await api.createTeam(other);
  for (const [user, team, role] of [
    [`dev-${suffix}`, shop, 'developer'],
    [`maint-${suffix}`, shop, 'maintainer'],
    [`outsider-${suffix}`, other, 'maintainer'],
  ] as const) {
    await api.createUser({ username: user, password: `${user}-password` });
    await api.setMember(team, user, role);
  }
  [dev, maint, outsider] = await Promise.all(['dev', 'maint', 'outsider'].map((u) => master.login(`${u}-${suffix}`, `${u}-${suffix}-password`)));
});

afterAll(async () => {
  await master?.stop();
});

describe('team isolation through the API', () => {
  it('needs the write scope to create a token, and never grants more scope than the creating token holds', async () => {
    const ro = dev.withToken((await dev.createToken({ name: 'ro', scopes: ['read'] })).token);
    for (const scopes of [['read'], ['write']] as const) expect((await failure(ro.createToken({ name: 'minted', scopes: [...scopes] }))).code).toBe('forbidden');
    expect((await dev.listTokens()).map((t) => t.name)).not.toContain('minted');
    const rw = dev.withToken((await dev.createToken({ name: 'rw', scopes: ['write'] })).token);
    expect((await rw.createToken({ name: 'child', scopes: ['read'] })).token).toMatch(/^slp_/);
    expect((await failure(rw.createToken({ name: 'admin', scopes: ['admin'] }))).code).toBe('forbidden');
  });

  it('answers a non-admin maintainer the same whether or not a user name exists', async () => {
    const known = `known-${suffix}`;
    await master.api.createUser({ username: known, password: 'known-password-1' });
    const put = (user: string) =>
      fetch(`${master.url}/api/v1/teams/${shop}/members/${user}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${maint.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ role: 'viewer' }),
      });
    const a = await put(known);
    const b = await put(`ghost-${suffix}`);
    expect([a.status, await a.text()]).toEqual([b.status, await b.text()]);
    // Nor does the member list tell them apart.
    const members = (await maint.listTeams()).find((t) => t.name === shop)!.members!;
    expect(members).toContainEqual({ username: known, role: 'viewer' });
    expect(members).toContainEqual({ username: `ghost-${suffix}`, role: 'viewer' });
    // Admins may still learn it.
    expect((await failure(master.api.setMember(shop, `nobody-${suffix}`, 'viewer'))).code).toBe('not_found');
  });

  it('applies a pending membership when the user is created later', async () => {
    const later = `later-${suffix}`;
    await maint.setMember(shop, later, 'developer');
    await master.api.createUser({ username: later, password: 'later-password-1' });
    const me = await (await master.login(later, 'later-password-1')).me();
    expect(me.teams).toEqual([{ name: shop, role: 'developer' }]);
    await maint.removeMember(shop, `ghost-${suffix}`);
    expect((await maint.listTeams()).find((t) => t.name === shop)!.members!.map((m) => m.username)).not.toContain(`ghost-${suffix}`);
  });

  it('answers another team and a missing team with the same message', async () => {
    const theirs = await failure(outsider.listSecrets(shop));
    const missing = await failure(outsider.listSecrets(`nope-${suffix}`));
    expect(theirs.code).toBe('not_found');
    expect(theirs.message).toBe(`team '${shop}' not found`);
    expect(missing.message).toBe(`team 'nope-${suffix}' not found`);
    expect((await failure(outsider.setMember(shop, `dev-${suffix}`, 'viewer'))).message).toBe(`team '${shop}' not found`);
  });

  it('warns at apply about an environment that does not exist and shows it on the job', async () => {
    const applied = await dev.applyJob(job(`noenv-${suffix}`, shop, 'nowhere'));
    expect(applied.warnings).toEqual([`stage 'build': environment 'nowhere' does not exist; this stage can never run`]);
    expect((await dev.getJob(`noenv-${suffix}`)).warnings).toEqual(applied.warnings);
    expect((await dev.applyJob(job(`env-ok-${suffix}`, shop))).warnings ?? []).toEqual([]);
    await master.api.createEnvironment('nowhere');
    expect((await dev.getJob(`noenv-${suffix}`)).warnings ?? []).toEqual([]);
  });

  it('refuses a parameter value over the bound at trigger time, naming the parameter', async () => {
    await dev.applyJob(job(`params-${suffix}`, shop, 'ci', 'params:\n  - name: MESSAGE\n    default: hi\n'));
    const e = await failure(dev.trigger(`params-${suffix}`, { params: { MESSAGE: 'x'.repeat(200 * 1024) } }));
    expect(e).toBeInstanceOf(ValidationError);
    expect((e as ValidationError).issues[0]).toMatchObject({ field: 'params.MESSAGE' });
    expect(e.message.length).toBeLessThan(300);
    expect((e as ValidationError).issues[0].message).toMatch(/at most \d+ bytes/);
    expect((await dev.listBuilds(`params-${suffix}`)).length).toBe(0);
  });

  it('validates ids: an id beyond the safe integers is a 400, never another build', async () => {
    const get = (path: string) => fetch(`${master.url}/api/v1${path}`, { headers: { authorization: `Bearer ${dev.token}` } });
    for (const path of ['/builds/99999999999999999999', '/builds/9007199254740993', '/builds/0', '/builds/1e3', '/builds/99999999999999999999/log', '/artifacts/99999999999999999999']) {
      const res = await get(path);
      expect([path, res.status]).toEqual([path, 400]);
      expect((await res.json()).error.message).not.toMatch(/100000000000000000000/);
    }
    expect((await get('/builds/9007199254740991')).status).toBe(404);
    expect((await get(`/jobs/params-${suffix}/builds?limit=99999999999999999999`)).status).toBe(400);
  });
});
