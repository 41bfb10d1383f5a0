/**
 * Issue 6, team isolation 1: a job whose repo.url is a local path or file:// URL must never read what its
 * own build user cannot. Real master and agent processes, real repositories:
 *  - team B names the agent's root-only git cache of team A's job as its repository: refused by the agent
 *    (never inside its work dir), and nothing of A's files reaches B's log;
 *  - a local repository only root may read (0700) is not checked out: the agent fetches it as the build user;
 *  - the master allows local repositories only under the directories its operator lists
 *    (SLIPWAY_ALLOW_LOCAL_REPOS), never in its data dir, with an error naming the job, repo.url and the fix.
 */
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuildInfo, WebhookResult } from '../../shared/api';
import { SlipwayError } from '../../shared/errors';
import { startAgent, startMaster, type TestAgent, type TestMaster } from '../helpers/cluster';
import { git, TestRepo } from '../helpers/git';
import { waitFor } from '../helpers/wait';

const SECRET_A = 'team-a-hook-secret-1';
const SECRET_B = 'team-b-hook-secret-2';
let master: TestMaster;
let agent: TestAgent;
let root: string;

async function push(secret: string, repository: string, sha: string): Promise<number> {
  const res = await fetch(`${master.url}/api/v1/hooks/generic`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${secret}` },
    body: JSON.stringify({ repository, ref: 'refs/heads/main', sha }),
  });
  const result = (await res.json()) as WebhookResult;
  expect(res.status, JSON.stringify(result)).toBe(202);
  expect(result.queued, JSON.stringify(result)).toHaveLength(1);
  return result.queued[0].buildId;
}

async function finished(id: number): Promise<BuildInfo> {
  return waitFor(`build ${id} finished`, async () => {
    const b = await master.api.getBuild(id);
    return ['success', 'failed', 'cancelled', 'timeout', 'error'].includes(b.status) ? b : undefined;
  }, { timeoutMs: 60_000 });
}

function job(name: string, team: string, url: string): string {
  return `name: ${name}
team: ${team}
repo: { url: '${url}' }
triggers: { push: true }
stages:
  - name: build
    environment: ci
    steps:
      - sh: 'cat secret.txt'
`;
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'slipway-iso-local-'));
  // Readable by the build users: the "public" repositories live here.
  chmodSync(root, 0o755);
  master = await startMaster({ env: { SLIPWAY_ALLOW_LOCAL_REPOS: `${root}:${tmpdir()}` } });
  for (const [team, secret] of [['team-a', SECRET_A], ['team-b', SECRET_B]]) {
    await master.api.createTeam(team);
    await master.api.setSecret(team, 'WEBHOOK_SECRET', secret);
  }
  agent = await startAgent(master, { environment: 'ci' });
}, 60_000);
afterAll(async () => {
  await master?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe('local repositories', () => {
  it("refuses a job that names the agent's git cache of another team's job", async () => {
    const repoA = new TestRepo(join(root, 'a-web'));
    const sha = repoA.commit('private', { 'secret.txt': 'TEAM-A-PRIVATE-42\n' });
    await master.api.applyJob(job('iso-a', 'team-a', repoA.url));
    const a = await finished(await push(SECRET_A, repoA.url, sha));
    expect(a.status, await master.api.buildLog(a.id)).toBe('success');
    const caches = readdirSync(join(agent.workDir, 'git-cache')).filter((d) => d.startsWith(`job-`));
    expect(caches.length).toBeGreaterThan(0);
    const cache = join(agent.workDir, 'git-cache', caches[0]);

    await master.api.applyJob(job('iso-b', 'team-b', cache));
    const b = await finished(await push(SECRET_B, cache, sha));
    const log = await master.api.buildLog(b.id);
    expect(b.status).not.toBe('success');
    expect(log).not.toContain('TEAM-A-PRIVATE-42');
    expect(JSON.stringify(b) + log).toMatch(/work dir/);
  }, 120_000);

  it('does not check out a local repository the build user cannot read', async () => {
    const hidden = join(root, 'hidden');
    mkdirSync(hidden, { mode: 0o700 });
    chmodSync(hidden, 0o700);
    const repo = new TestRepo(join(hidden, 'c-web'));
    const sha = repo.commit('root only', { 'secret.txt': 'ROOT-ONLY-77\n' });
    await master.api.applyJob(job('iso-c', 'team-b', repo.url));
    const c = await finished(await push(SECRET_B, repo.url, sha));
    const log = await master.api.buildLog(c.id);
    expect(c.status).not.toBe('success');
    expect(log).not.toContain('ROOT-ONLY-77');
  }, 120_000);

  it('does not check out a submodule the build user cannot read', async () => {
    const hidden = join(root, 'hidden-lib');
    mkdirSync(hidden, { mode: 0o700 });
    chmodSync(hidden, 0o700);
    const lib = new TestRepo(join(hidden, 'lib'));
    lib.commit('lib', { 'secret.txt': 'SUBMODULE-ONLY-88\n' });
    const app = new TestRepo(join(root, 'd-app'));
    app.commit('app', { 'secret.txt': 'public\n' });
    git(app.dir, '-c', 'protocol.file.allow=always', 'submodule', '--quiet', 'add', lib.url, 'vendor/lib');
    git(app.dir, 'commit', '--quiet', '-m', 'add lib');
    const sha = git(app.dir, 'rev-parse', 'HEAD');
    await master.api.applyJob(`name: iso-d
team: team-b
repo: { url: '${app.url}', submodules: true }
triggers: { push: true }
stages:
  - name: build
    environment: ci
    steps:
      - sh: 'cat vendor/lib/secret.txt'
`);
    const d = await finished(await push(SECRET_B, app.url, sha));
    const log = await master.api.buildLog(d.id);
    expect(d.status).not.toBe('success');
    expect(log).not.toContain('SUBMODULE-ONLY-88');
  }, 120_000);

  it('allows local repositories only under the listed directories, never in the data dir', async () => {
    const other = await startMaster({ env: { SLIPWAY_ALLOW_LOCAL_REPOS: join(root, 'allowed') } });
    try {
      await other.api.createTeam('team-x');
      const refused = async (url: string) => {
        const err = await other.api.applyJob(job('iso-x', 'team-x', url)).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(SlipwayError);
        return (err as SlipwayError).message;
      };
      const outside = await refused(`file://${join(root, 'elsewhere', 'web.git')}`);
      // Validation says the same as apply.
      const validated = await other.api.validateJob(job('iso-x', 'team-x', `file://${join(root, 'elsewhere', 'web.git')}`)).catch((e: unknown) => e);
      expect((validated as Error).message).toMatch(/SLIPWAY_ALLOW_LOCAL_REPOS/);
      expect(outside).toMatch(/iso-x/);
      expect(outside).toMatch(/repo\.url/);
      expect(outside).toMatch(/SLIPWAY_ALLOW_LOCAL_REPOS/);
      // `..` cannot climb out of an allowed directory.
      expect(await refused(join(root, 'allowed', '..', 'elsewhere'))).toMatch(/SLIPWAY_ALLOW_LOCAL_REPOS/);
      expect(await refused(join(other.dataDir, 'git-cache', 'x'))).toMatch(/data dir/);
      await other.api.applyJob(job('iso-x', 'team-x', `file://${join(root, 'allowed', 'web.git')}`));
      await other.api.applyJob(job('iso-y', 'team-x', 'https://git.example/x/web.git'));
    } finally {
      await other.stop();
    }
    const none = await startMaster({ env: { SLIPWAY_ALLOW_LOCAL_REPOS: '' } });
    try {
      await none.api.createTeam('team-x');
      const err = await none.api.applyJob(job('iso-z', 'team-x', join(root, 'a-web'))).catch((e: unknown) => e);
      expect((err as Error).message).toMatch(/allows none.*SLIPWAY_ALLOW_LOCAL_REPOS/);
    } finally {
      await none.stop();
    }
  }, 120_000);
});
