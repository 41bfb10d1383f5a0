/**
 * Webhook endpoints of a real master process: credentials (GitHub HMAC, Gitea signature, GitLab token,
 * generic bearer), 401 with nothing queued, 413, unknown events, duplicate deliveries, trigger history.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMaster, type TestMaster } from '../helpers/cluster';

const SECRET = 'hook-s3cret-value';
const REPO = 'https://git.example/hooks/web.git';
let master: TestMaster;
let n = 0;

/** A fresh 40-hex sha per call, so (repository, ref, sha) dedup never joins unrelated tests. */
const sha = () => (++n).toString(16).padStart(40, 'c');

async function post(provider: string, body: string | Buffer, headers: Record<string, string>) {
  const res = await fetch(`${master.url}/api/v1/hooks/${provider}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: body as BodyInit });
  return { status: res.status, body: (await res.json()) as { queued?: { job: string }[]; ignored?: { reason: string }[]; duplicate?: boolean; error?: { code: string } } };
}

const githubPush = (after: string) =>
  JSON.stringify({ ref: 'refs/heads/main', before: 'a'.repeat(40), after, repository: { clone_url: REPO, ssh_url: 'git@git.example:hooks/web.git' }, head_commit: { id: after, message: 'm' }, commits: [{ id: after, modified: ['src/x.ts'] }] });
const sign = (body: string, secret = SECRET) => createHmac('sha256', secret).update(body).digest('hex');
const builds = async () => (await master.api.listBuilds('hooked')).length;

beforeAll(async () => {
  master = await startMaster();
  await master.api.createTeam('hooks');
  await master.api.setSecret('hooks', 'WEBHOOK_SECRET', SECRET);
  await master.api.applyJob(`name: hooked
team: hooks
repo: { url: '${REPO}' }
triggers: { push: { branches: [main] } }
stages:
  - name: build
    environment: ci
    steps: [ { sh: 'true' } ]
`);
});
afterAll(async () => {
  await master?.stop();
});

describe('webhook endpoints', () => {
  it('GitHub push: a correct HMAC queues a build, a wrong or missing one answers 401 and queues nothing', async () => {
    const body = githubPush(sha());
    const before = await builds();
    const bad = await post('github', body, { 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': randomUUID(), 'X-Hub-Signature-256': `sha256=${sign(body, 'wrong')}` });
    expect(bad.status).toBe(401);
    const missing = await post('github', body, { 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': randomUUID() });
    expect(missing.status).toBe(401);
    expect(await builds()).toBe(before);
    const ok = await post('github', body, { 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': randomUUID(), 'X-Hub-Signature-256': `sha256=${sign(body)}` });
    expect(ok.status).toBe(202);
    expect(ok.body.queued).toEqual([expect.objectContaining({ job: 'hooked' })]);
    expect(await builds()).toBe(before + 1);
    const history = await master.api.listTriggers('hooked');
    expect(history.map((t) => t.outcome)).toContain('queued');
  });

  it('Gitea push with its hex signature', async () => {
    const body = githubPush(sha());
    const res = await post('gitea', body, { 'X-Gitea-Event': 'push', 'X-Gitea-Delivery': randomUUID(), 'X-Gitea-Signature': sign(body) });
    expect(res.status).toBe(202);
    expect(res.body.queued).toHaveLength(1);
  });

  it('GitLab token: wrong token 401, right token queued', async () => {
    const after = sha();
    const body = JSON.stringify({ object_kind: 'push', ref: 'refs/heads/main', before: 'a'.repeat(40), after, checkout_sha: after, repository: { git_http_url: REPO }, commits: [], total_commits_count: 0 });
    expect((await post('gitlab', body, { 'X-Gitlab-Event': 'Push Hook', 'X-Gitlab-Token': 'nope' })).status).toBe(401);
    const ok = await post('gitlab', body, { 'X-Gitlab-Event': 'Push Hook', 'X-Gitlab-Token': SECRET, 'X-Gitlab-Event-UUID': randomUUID() });
    expect(ok.body.queued).toHaveLength(1);
  });

  it('generic push: bearer token, and the same delivery id queued once', async () => {
    const body = JSON.stringify({ repository: 'git@git.example:hooks/web.git', ref: 'refs/heads/main', sha: sha(), deliveryId: `gen-${randomUUID()}` });
    const before = await builds();
    const first = await post('generic', body, { Authorization: `Bearer ${SECRET}` });
    const second = await post('generic', body, { Authorization: `Bearer ${SECRET}` });
    expect(first.body.queued).toHaveLength(1);
    expect(second).toMatchObject({ status: 202, body: { duplicate: true, queued: [] } });
    expect(await builds()).toBe(before + 1);
    expect((await post('generic', body.replace('"gen-', '"other-'), {})).status).toBe(401);
  });

  it('answers 202 with a reason for unknown events, 400 for malformed payloads and 413 over the size limit', async () => {
    const unknown = await post('github', '{}', { 'X-GitHub-Event': 'issues' });
    expect(unknown.status).toBe(202);
    expect(unknown.body.ignored?.[0].reason).toMatch(/'issues' is not handled/);
    // Parsed once the secret verified it: a malformed push to a watched repository.
    const malformed = await post('generic', JSON.stringify({ repository: REPO, ref: '--exec=sh', sha: 'HEAD' }), { Authorization: `Bearer ${SECRET}` });
    expect(malformed.status).toBe(400);
    const huge = Buffer.alloc(5 * 1024 * 1024 + 10, 0x20);
    const tooBig = await post('github', huge, { 'X-GitHub-Event': 'push' });
    expect(tooBig.status).toBe(413);
  });

  it('GitLab Tag Push Hook: ignored while the job builds no tags, built once it builds matching tags', async () => {
    const tagPush = (tag: string) => {
      const after = sha();
      return JSON.stringify({ object_kind: 'tag_push', ref: `refs/tags/${tag}`, before: '0'.repeat(40), after, checkout_sha: after, repository: { git_http_url: REPO }, commits: [], total_commits_count: 0 });
    };
    const headers = () => ({ 'X-Gitlab-Event': 'Tag Push Hook', 'X-Gitlab-Token': SECRET, 'X-Gitlab-Event-UUID': randomUUID() });
    const off = await post('gitlab', tagPush('v1.0.0'), headers());
    expect(off.status).toBe(202);
    expect(off.body.queued).toEqual([]);
    expect(off.body.ignored?.map((i) => i.reason).join(' ')).toMatch(/tag/);

    await master.api.applyJob(`name: tagged
team: hooks
repo: { url: '${REPO}' }
triggers: { push: { branches: [main], tags: ["v*"] } }
stages:
  - name: build
    environment: ci
    steps: [ { sh: 'true' } ]
`);
    const on = await post('gitlab', tagPush('v1.0.1'), headers());
    expect(on.body.queued).toEqual([expect.objectContaining({ job: 'tagged' })]);
    const other = await post('gitlab', tagPush('nightly-1'), headers());
    expect(other.body.queued).toEqual([]);
    const [build] = await master.api.listBuilds('tagged');
    expect(build.ref).toBe('refs/tags/v1.0.1');
  });

  it('Gitea pull_request: a request build of the source commit; a fork waits for approval', async () => {
    await master.api.applyJob(`name: requests
team: hooks
repo: { url: '${REPO}' }
triggers: { requests: true }
stages:
  - name: build
    environment: ci
    steps: [ { sh: 'true' } ]
`);
    const pr = (number: number, headRepo: string) => {
      const head = sha();
      return JSON.stringify({
        action: 'opened',
        number,
        pull_request: {
          number, title: 'feature', html_url: `https://git.example/hooks/web/pulls/${number}`, user: { login: 'dev' },
          head: { sha: head, ref: 'feature', repo: { clone_url: headRepo } },
          base: { sha: 'b'.repeat(40), ref: 'main', repo: { clone_url: REPO } },
        },
        repository: { clone_url: REPO },
      });
    };
    const send = (body: string) => post('gitea', body, { 'X-Gitea-Event': 'pull_request', 'X-Gitea-Delivery': randomUUID(), 'X-Gitea-Signature': sign(body) });
    const own = await send(pr(7, REPO));
    expect(own.body.queued).toEqual([expect.objectContaining({ job: 'requests' })]);
    const fork = await send(pr(8, 'https://git.example/someone/web.git'));
    expect(fork.body.queued).toEqual([expect.objectContaining({ job: 'requests' })]);
    const [forkBuild, ownBuild] = await master.api.listBuilds('requests');
    expect(ownBuild).toMatchObject({ ref: 'refs/pull/7/head', status: 'queued', request: { provider: 'gitea', number: 7, fork: false, targetBranch: 'main' } });
    expect(forkBuild).toMatchObject({ ref: 'refs/pull/8/head', status: 'waiting', request: { number: 8, fork: true } });
  });
});
