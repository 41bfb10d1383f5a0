/**
 * The platform's HTTP API through a real master process: login and its rate limit, token scopes, team
 * scoping (404 outside the team, 403 for a too-low role), admin-only routes, secrets never returned,
 * file-managed jobs read-only, job validation errors with lines, agent token revocation.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMaster, type TestMaster } from '../helpers/cluster';
import { ApiClient } from '../../shared/client/api-client';
import { SlipwayError, ValidationError } from '../../shared/errors';

const job = (name: string, team: string) => `name: ${name}
team: ${team}
stages:
  - name: build
    environment: ci
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

describe('platform API', () => {
  let master: TestMaster;
  let jobsDir: string;
  let dev: ApiClient;
  let viewer: ApiClient;
  let outsider: ApiClient;
  let maint: ApiClient;
  const SECRET_VALUE = 'sEcReT-vAlUe-0f-shop-42';

  beforeAll(async () => {
    jobsDir = mkdtempSync(join(tmpdir(), 'slipway-jobs-'));
    writeFileSync(join(jobsDir, 'managed.yml'), job('managed', 'shop'));
    writeFileSync(join(jobsDir, 'broken.yml'), 'name: broken\nteam: shop\nstages:\n  - name: b\n    environment: ci\n    steps: []\n');
    master = await startMaster({ jobsDir, env: { SLIPWAY_LOGIN_MAX: '3' } });
    const api = master.api;
    await api.createEnvironment('ci');
    await api.createTeam('other');
    for (const [user, team, role] of [
      ['dev', 'shop', 'developer'],
      ['viewer', 'shop', 'viewer'],
      ['maint', 'shop', 'maintainer'],
      ['outsider', 'other', 'developer'],
    ] as const) {
      await api.createUser({ username: user, password: `${user}-password` });
      await api.setMember(team, user, role);
    }
    [dev, viewer, maint, outsider] = await Promise.all(['dev', 'viewer', 'maint', 'outsider'].map((u) => master.login(u, `${u}-password`)));
    await dev.applyJob(job('shop-web', 'shop'));
  });
  afterAll(async () => {
    await master?.stop();
    rmSync(jobsDir, { recursive: true, force: true });
  });

  it('answers /healthz with security headers, and unknown API routes with JSON 404 (401 without login)', async () => {
    const res = await fetch(`${master.url}/healthz`);
    expect(await res.json()).toMatchObject({ ok: true, version: expect.any(String) });
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('x-powered-by')).toBeNull();
    expect((await failure(master.api.request('GET', '/api/v1/no-such-route'))).code).toBe('not_found');
    expect((await failure(new ApiClient({ url: master.url }).listJobs())).code).toBe('unauthenticated');
    expect((await failure(new ApiClient({ url: master.url, token: 'slp_forged' }).listJobs())).code).toBe('unauthenticated');
  });

  it('serves the web UI at / with client-side routes falling back to index.html, never for /api', async () => {
    const root = await fetch(`${master.url}/`);
    expect(root.status).toBe(200);
    expect(root.headers.get('content-type')).toMatch(/text\/html/);
    expect(root.headers.get('content-security-policy')).toContain("default-src 'self'");
    const page = await root.text();
    const deep = await fetch(`${master.url}/jobs/shop-web/builds/1`);
    expect(await deep.text()).toBe(page);
    const api = await fetch(`${master.url}/api/v1/whatever`, { headers: { authorization: `Bearer ${master.api.token}` } });
    expect(api.status).toBe(404);
    expect(api.headers.get('content-type')).toMatch(/json/);
  });

  it('answers malformed and oversized JSON bodies with 400 and 413', async () => {
    const post = (body: string) =>
      fetch(`${master.url}/api/v1/jobs`, { method: 'POST', headers: { authorization: `Bearer ${master.api.token}`, 'content-type': 'application/json' }, body });
    const bad = await post('{"yaml": ');
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.code).toBe('invalid_request');
    const huge = await post(JSON.stringify({ yaml: 'x'.repeat(2 * 1024 * 1024) }));
    expect(huge.status).toBe(413);
    expect((await huge.json()).error.code).toBe('payload_too_large');
  });

  it('refuses wrong passwords, then rate-limits the user+IP with 429 and Retry-After', async () => {
    await master.api.createUser({ username: 'victim', password: 'victim-password' });
    const anon = new ApiClient({ url: master.url });
    for (let i = 0; i < 3; i++) expect((await failure(anon.login('victim', 'wrong-password'))).code).toBe('unauthenticated');
    const res = await fetch(`${master.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'victim', password: 'victim-password' }),
    });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    // Another user from the same IP is not affected.
    expect((await anon.login('dev', 'dev-password')).user.username).toBe('dev');
  });

  it('keeps admin-only routes for admins', async () => {
    for (const call of [
      () => dev.listUsers(),
      () => dev.createUser({ username: 'mallory', password: 'mallory-password' }),
      () => dev.createTeam('evil'),
      () => dev.createEnvironment('prod'),
      () => dev.createAgentToken('ci', 'stolen'),
      () => dev.listAgentTokens('ci'),
    ]) {
      expect((await failure(call())).code).toBe('forbidden');
    }
    expect((await dev.listEnvironments()).map((e) => e.name)).toContain('ci');
  });

  it('hides a team’s jobs from outsiders (404) and forbids members whose role is too low (403)', async () => {
    expect((await outsider.listJobs()).map((j) => j.name)).not.toContain('shop-web');
    expect((await failure(outsider.getJob('shop-web'))).code).toBe('not_found');
    expect((await failure(outsider.trigger('shop-web'))).code).toBe('not_found');
    expect((await failure(outsider.deleteJob('shop-web'))).code).toBe('not_found');
    // Job names are unique per team: the outsider's team gets its own job of that name, learning nothing of shop's.
    expect(await outsider.applyJob(job('shop-web', 'other'))).toMatchObject({ name: 'shop-web', team: 'other' });
    expect((await failure(outsider.getJob('shop/shop-web'))).message).toBe("job 'shop/shop-web' not found");
    expect(await viewer.getJob('shop-web')).toMatchObject({ name: 'shop-web', team: 'shop', source: 'api', yaml: job('shop-web', 'shop') });
    expect((await failure(viewer.applyJob(job('shop-web', 'shop')))).code).toBe('forbidden');
    expect((await failure(viewer.trigger('shop-web'))).code).toBe('forbidden');
    expect((await failure(dev.deleteJob('shop-web'))).code).toBe('forbidden');
    expect((await failure(dev.applyJob(job('x', 'no-such-team')))).message).toMatch(/team 'no-such-team' not found/);
  });

  it('lets only team maintainers (and admins) manage members', async () => {
    await master.api.createUser({ username: 'newbie', password: 'newbie-password' });
    expect((await failure(dev.setMember('shop', 'newbie', 'developer'))).code).toBe('forbidden');
    expect((await failure(outsider.setMember('shop', 'newbie', 'developer'))).code).toBe('not_found');
    expect((await failure(maint.setMember('shop', 'newbie', 'owner' as 'viewer'))).message).toMatch(/role: one of maintainer, developer, viewer/);
    await maint.setMember('shop', 'newbie', 'viewer');
    const shop = (await maint.listTeams()).find((t) => t.name === 'shop')!;
    expect(shop.role).toBe('maintainer');
    expect(shop.members).toContainEqual({ username: 'newbie', role: 'viewer' });
    expect((await outsider.listTeams()).map((t) => t.name)).toEqual(['other']);
    await maint.removeMember('shop', 'newbie');
    expect((await (await master.login('newbie', 'newbie-password')).me()).teams).toEqual([]);
  });

  it('limits a read-scoped token to reading, and forgets a revoked token', async () => {
    const created = await dev.createToken({ name: 'ro', scopes: ['read'] });
    const ro = dev.withToken(created.token);
    expect((await ro.getJob('shop-web')).name).toBe('shop-web');
    expect((await failure(ro.trigger('shop-web'))).code).toBe('forbidden');
    expect((await failure(ro.applyJob(job('shop-web', 'shop')))).code).toBe('forbidden');
    expect((await failure(ro.createToken({ name: 'rw', scopes: ['write'] }))).code).toBe('forbidden');
    const listed = (await dev.listTokens()).find((t) => t.id === created.id)!;
    expect(listed).toMatchObject({ scopes: ['read'], revokedAt: null });
    expect(listed.lastUsedAt).not.toBeNull();
    expect(JSON.stringify(await dev.listTokens())).not.toContain(created.token);
    await dev.revokeToken(created.id);
    expect((await failure(ro.getJob('shop-web'))).code).toBe('unauthenticated');
  });

  it('never returns or logs secret values, and keeps secrets to maintainers', async () => {
    await maint.setSecret('shop', 'DEPLOY_KEY', SECRET_VALUE);
    const listed = await maint.listSecrets('shop');
    expect(listed.map((s) => s.name)).toEqual(['DEPLOY_KEY']);
    expect(JSON.stringify(listed)).not.toContain(SECRET_VALUE);
    expect((await failure(dev.listSecrets('shop'))).code).toBe('forbidden');
    expect((await failure(dev.setSecret('shop', 'X', 'y'))).code).toBe('forbidden');
    expect((await failure(outsider.listSecrets('shop'))).code).toBe('not_found');
    expect((await failure(maint.setSecret('shop', 'bad-name', 'v'))).message).toMatch(/secret name 'bad-name'/);
    expect(master.output()).not.toContain(SECRET_VALUE);
  });

  it('keeps file jobs read-only through the API and reports invalid job files with file:line', async () => {
    const managed = await viewer.getJob('managed');
    expect(managed).toMatchObject({ source: 'file', filePath: 'jobs/managed.yml', enabled: true });
    const e = await failure(master.api.applyJob(job('managed', 'shop')));
    expect(e.code).toBe('conflict');
    expect(e.message).toContain('jobs/managed.yml');
    expect((await failure(master.api.deleteJob('managed'))).code).toBe('conflict');
    expect(master.output()).toMatch(/jobs\/broken\.yml:6:\d+: stages\[0\]\.steps/);
    expect((await failure(viewer.getJob('broken'))).code).toBe('not_found');
  });

  it('validates job YAML with issues naming line and field', async () => {
    expect(await dev.validateJob(job('ok', 'shop'))).toEqual({ ok: true });
    const e = await failure(dev.validateJob('name: x\nteam: shop\nstages:\n  - name: b\n    environment: BAD ENV\n    steps: [{sh: ls}]\n'));
    expect(e).toBeInstanceOf(ValidationError);
    expect((e as ValidationError).issues[0]).toMatchObject({ line: 5, field: 'stages[0].environment' });
  });

  it('disables an API job on delete, keeping it listed', async () => {
    await maint.applyJob(job('short-lived', 'shop'));
    await maint.deleteJob('short-lived');
    expect(await maint.getJob('short-lived')).toMatchObject({ enabled: false });
    await maint.applyJob(job('short-lived', 'shop'));
    expect(await maint.getJob('short-lived')).toMatchObject({ enabled: true });
  });

  it('creates, lists and revokes agent tokens bound to an environment', async () => {
    const t = await master.api.createAgentToken('ci', 'agent-a');
    expect(t.token).toMatch(/^sla_/);
    expect((await master.api.listAgentTokens('ci')).find((x) => x.id === t.id)).toMatchObject({ environment: 'ci', revokedAt: null });
    await master.api.revokeAgentToken(t.id);
    expect((await master.api.listAgentTokens('ci')).find((x) => x.id === t.id)!.revokedAt).not.toBeNull();
    expect((await failure(master.api.createAgentToken('nowhere', 'x'))).code).toBe('not_found');
  });
});
