/**
 * The push pipeline on a real SQLite store with the real engine core: matching, secrets, dedup, filters,
 * fork requests and the master:assign source an agent receives.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseJobYaml } from '../../shared/job';
import type { JobRecord } from '../../master/context';
import { createTriggerPort } from '../../master/engine/builds/create-build';
import { createPushPipeline } from '../../master/webhooks/pipeline';
import type { PushEvent, PushPipeline } from '../../master/webhooks/pipeline';
import { engineFixture, type EngineFixture } from './engine-fixtures';

const SHA1 = 'a'.repeat(40);
const SHA2 = 'b'.repeat(40);
const ZERO = '0'.repeat(40);

let f: EngineFixture;
let pipeline: PushPipeline;
let jobs: JobRecord[];

function job(name: string, extra: string): JobRecord {
  const yaml = `name: ${name}\nteam: shop\nrepo: { url: 'https://git.example/shop/web.git', credentials: GIT_TOKEN }\nsecrets: [DEPLOY_KEY]\n${extra}\nstages:\n  - name: build\n    environment: ci\n    steps: [ { sh: 'true' } ]\n`;
  const { id } = f.addJob(yaml);
  const rec: JobRecord = { id, name, teamId: f.teamId, team: 'shop', yaml, source: 'api', filePath: null, enabled: true, config: parseJobYaml(yaml) };
  jobs.push(rec);
  return rec;
}

function push(over: Partial<PushEvent> = {}): PushEvent {
  return {
    provider: 'gitlab',
    event: 'push',
    repoUrls: ['git@git.example:shop/web.git', 'https://git.example/shop/web'],
    ref: 'refs/heads/main',
    sha: SHA1,
    before: SHA2,
    headMessage: 'fix the cart',
    author: 'Ada',
    verify: (secret) => secret === 'hook-secret',
    ...over,
  };
}

const builds = () => f.db.prepare('SELECT id, status, ref, commit_sha, branch, request FROM builds ORDER BY id').all() as { id: number; status: string; ref: string; commit_sha: string; branch: string; request: string | null }[];
const events = () => f.db.prepare('SELECT job_id, outcome, reason, build_id FROM trigger_events ORDER BY id').all() as { job_id: number | null; outcome: string; reason: string; build_id: number | null }[];

beforeEach(() => {
  f = engineFixture();
  jobs = [];
  f.core.ctx.jobs = {
    byId: (id) => jobs.find((j) => j.id === id),
    all: () => jobs,
    onChange: () => {},
  };
  f.secrets.set(f.teamId, 'WEBHOOK_SECRET', 'hook-secret');
  f.secrets.set(f.teamId, 'GIT_TOKEN', 'git-token-value');
  f.secrets.set(f.teamId, 'DEPLOY_KEY', 'deploy-key-value');
  pipeline = createPushPipeline(f.core.ctx, createTriggerPort(f.core));
});
afterEach(() => f.cleanup());

describe('push pipeline', () => {
  it('queues a matching job with ref, commit and commit info, and records the trigger', () => {
    const web = job('web', 'triggers: { push: { branches: [main] } }');
    const res = pipeline.accept(push({ changedFiles: ['src/a.ts'] }));
    expect(res.queued).toEqual([{ job: 'web', team: 'shop', buildId: 1, number: 1 }]);
    expect(builds()).toMatchObject([{ status: 'queued', ref: 'refs/heads/main', commit_sha: SHA1, branch: 'main' }]);
    expect(events()).toEqual([{ job_id: web.id, outcome: 'queued', reason: 'queued', build_id: 1 }]);
  });

  it('refuses a delivery without the secret (nothing queued, no history row, counted for the repository), and ignores unknown repositories', () => {
    job('web', 'triggers: { push: true }');
    expect(() => pipeline.accept(push({ verify: () => false }))).toThrow(/webhook secret/);
    expect(builds()).toEqual([]);
    expect(events()).toEqual([]);
    expect(f.db.prepare('SELECT repo, count FROM unverified_deliveries').all()).toEqual([{ repo: 'git.example/shop/web', count: 1 }]);
    const other = pipeline.accept(push({ repoUrls: ['https://git.example/shop/other.git'] }));
    expect(other.ignored[0].reason).toMatch(/no job watches repository git.example\/shop\/other/);
  });

  it('queues a delivery once per job: same delivery id, or same ref and sha with or without a new id', () => {
    job('web', 'triggers: { push: true }');
    pipeline.accept(push({ deliveryId: 'd-1' }));
    expect(pipeline.accept(push({ deliveryId: 'd-1', sha: SHA2 })).duplicate).toBe(true);
    expect(pipeline.accept(push({ deliveryId: 'd-2' })).duplicate).toBe(true);
    pipeline.accept(push({ sha: SHA2 }));
    expect(pipeline.accept(push({ sha: SHA2, repoUrls: ['https://git.example/shop/web.git'] })).duplicate).toBe(true);
    expect(builds()).toHaveLength(2);
  });

  it('applies branch, tag and path filters, skip markers and deleted branches', () => {
    job('web', 'triggers: { push: { branches: [main, release/*], tags: [v*], paths: [src/**] } }');
    const cases: [Partial<PushEvent>, RegExp | null][] = [
      [{ ref: 'refs/heads/feature/x', sha: '1'.repeat(40) }, /matches none of triggers.push.branches/],
      [{ ref: 'refs/heads/release/2', sha: '2'.repeat(40), changedFiles: ['docs/readme.md'] }, /no changed file matches/],
      [{ ref: 'refs/heads/release/2', sha: '3'.repeat(40), changedFiles: ['docs/x.md', 'src/deep/a.ts'] }, null],
      [{ ref: 'refs/heads/main', sha: '4'.repeat(40), changedFiles: ['src/b.ts'] }, null],
      [{ sha: '5'.repeat(40), headMessage: 'wip [skip ci]' }, /skip marker/],
      [{ sha: ZERO }, /deleted/],
      [{ event: 'tag_push', ref: 'refs/tags/v1.0', sha: '6'.repeat(40) }, null],
      [{ event: 'tag_push', ref: 'refs/tags/nightly', sha: '7'.repeat(40) }, /matches none of triggers.push.tags/],
    ];
    for (const [over, reason] of cases) {
      const res = pipeline.accept(push(over));
      if (reason) expect(res.ignored[0]?.reason, JSON.stringify(over)).toMatch(reason);
      else expect(res.queued, JSON.stringify(over)).toHaveLength(1);
    }
    expect(builds()).toHaveLength(3);
  });

  it('keeps tag builds off by default', () => {
    job('web', 'triggers: { push: true }');
    expect(pipeline.accept(push({ event: 'tag_push', ref: 'refs/tags/v1' })).ignored[0].reason).toMatch(/tags is off/);
  });

  it('only triggers jobs whose secret the delivery carries, without naming the others', () => {
    job('web', 'triggers: { push: true }');
    const otherTeam = Number(f.db.prepare("INSERT INTO teams (name, created_at) VALUES ('ops', 0)").run().lastInsertRowid);
    f.secrets.set(otherTeam, 'WEBHOOK_SECRET', 'ops-secret');
    const ops = job('ops-web', 'triggers: { push: true }');
    ops.teamId = otherTeam;
    const res = pipeline.accept(push());
    expect(res.queued.map((q) => q.job)).toEqual(['web']);
    expect(JSON.stringify(res)).not.toContain('ops-web');
    // Nothing of this delivery in the other team's history.
    expect(events().find((e) => e.job_id === ops.id)).toBeUndefined();
  });

  it('creates a fork request build waiting with nothing dispatched', () => {
    job('web', 'triggers: { requests: { branches: [main] } }');
    const request = { provider: 'github' as const, number: 7, sourceRepo: 'https://git.example/eve/web.git', sourceBranch: 'main', targetBranch: 'main', fork: true };
    const res = pipeline.accept(push({ event: 'pull_request', ref: 'refs/pull/7/head', request }));
    expect(res.queued).toHaveLength(1);
    expect(builds()[0]).toMatchObject({ status: 'waiting', ref: 'refs/pull/7/head' });
    f.connect('a1', 'ci');
    expect(f.dispatch()).toBe(0);
    expect(pipeline.accept(push({ event: 'pull_request', ref: 'refs/pull/7/head', sha: SHA2, request: { ...request, targetBranch: 'dev' } })).ignored[0].reason).toMatch(/target branch 'dev'/);
  });
});

describe('master:assign source', () => {
  it('carries the commit, ref, credentials name and value, previous built commit and a cache key', () => {
    job('web', 'triggers: { push: true }');
    pipeline.accept(push({ sha: SHA2, changedFiles: ['a'] }));
    pipeline.accept(push({ sha: SHA1, before: SHA2 }));
    const agent = f.connect('a1', 'ci', { capacity: 2 });
    expect(f.dispatch()).toBe(2);
    const [first, second] = agent.sent.filter((m) => m.type === 'master:assign');
    if (first?.type !== 'master:assign' || second?.type !== 'master:assign') throw new Error('no assign');
    expect(first.source).toMatchObject({ url: 'https://git.example/shop/web.git', sha: SHA2, ref: 'refs/heads/main', branch: 'main', depth: 1, submodules: false, credentials: 'GIT_TOKEN', credentialsInEnv: false, knowsChangedFiles: true });
    expect(first.source?.previousSha).toBeUndefined();
    expect(first.secrets).toEqual({ DEPLOY_KEY: 'deploy-key-value', GIT_TOKEN: 'git-token-value' });
    expect(second.source).toMatchObject({ sha: SHA1, previousSha: SHA2, knowsChangedFiles: false });
    expect(second.source?.cacheKey).toBe(first.source?.cacheKey);
    expect(first.source?.cacheKey).toMatch(/^job-\d+-[0-9a-f]{16}$/);
  });

  it('gives a fork build no secrets and no credentials, even once approved', () => {
    job('web', 'triggers: { requests: true }');
    const request = { provider: 'gitlab' as const, number: 3, sourceRepo: 'https://git.example/eve/web.git', sourceBranch: 'x', targetBranch: 'main', fork: true };
    pipeline.accept(push({ event: 'merge_request', ref: 'refs/merge-requests/3/head', request }));
    // What POST /builds/:id/approve does, minus HTTP (covered by the integration test).
    f.db.prepare("UPDATE builds SET status = 'queued' WHERE id = 1").run();
    f.db.prepare("UPDATE stage_runs SET status = 'queued', queued_at = 1 WHERE build_id = 1").run();
    const agent = f.connect('a1', 'ci');
    expect(f.dispatch()).toBe(1);
    const assign = agent.sent.find((m) => m.type === 'master:assign');
    if (assign?.type !== 'master:assign') throw new Error('no assign');
    expect(assign.secrets).toEqual({});
    expect(assign.source).toMatchObject({ ref: 'refs/merge-requests/3/head', sha: SHA1 });
    expect(assign.source?.credentials).toBeUndefined();
  });
});
