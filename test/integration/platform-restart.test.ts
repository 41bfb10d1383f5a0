/**
 * What must survive a master restart: sessions and API tokens (persisted JWT secret), the admin (created
 * once), and jobs as code (a removed job file disables its job, history kept).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMaster, type TestMaster } from '../helpers/cluster';

describe('platform across a master restart', () => {
  let master: TestMaster;
  let jobsDir: string;
  beforeAll(async () => {
    jobsDir = mkdtempSync(join(tmpdir(), 'slipway-jobs-'));
    writeFileSync(
      join(jobsDir, 'nightly.yml'),
      'name: nightly\nteam: ops\nstages:\n  - name: run\n    environment: ci\n    steps:\n      - sh: echo nightly\n',
    );
    master = await startMaster({ jobsDir });
  });
  afterAll(async () => {
    await master?.stop();
    rmSync(jobsDir, { recursive: true, force: true });
  });

  it('keeps sessions and tokens valid, creates the admin once, and disables jobs whose file is gone', async () => {
    expect(master.output()).toMatch(/created user admin/);
    expect(master.output()).toMatch(/log in with: slipway login --url http:\/\/127\.0\.0\.1:\d+ --user admin/);
    expect(master.output()).not.toContain(master.adminPassword);
    expect(await master.api.getJob('nightly')).toMatchObject({ source: 'file', enabled: true, team: 'ops' });
    const session = master.api;
    const { token } = await session.createToken({ name: 'automation', scopes: ['read'] });
    await master.api.setSecret('ops', 'NIGHTLY_KEY', 'nightly-secret-value');

    rmSync(join(jobsDir, 'nightly.yml'));
    await master.restart();

    expect(master.output()).not.toMatch(/created user admin/);
    expect((await session.me()).username).toBe('admin');
    expect((await session.getJob('nightly')).enabled).toBe(false);
    expect((await session.withToken(token).me()).username).toBe('admin');
    // A token without the 'admin' scope carries no admin powers, even for the admin's own token.
    expect((await session.withToken(token).getJob('nightly').catch((e) => e)).code).toBe('not_found');
    expect((await master.api.listSecrets('ops')).map((s) => s.name)).toEqual(['NIGHTLY_KEY']);
  });
});
