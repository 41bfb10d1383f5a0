/**
 * Issue 6, team isolation 2 and 3, against a real master process: two teams' jobs watch the same
 * repository, each with its own webhook secret.
 *  - dedup is per job: team B's delivery never suppresses team A's build of the same push; the same push
 *    resent with a new delivery id builds once; the providers' stable ids (GitLab Idempotency-Key, GitHub
 *    X-GitHub-Delivery, Gitea X-Gitea-Delivery) and the event UUID as fallback dedup retries;
 *  - a job's trigger history shows only deliveries verified by its own secret; unverified ones are
 *    counted per repository for admins (bounded), and a delivery is not parsed past the repository before
 *    its secret is checked.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMaster, type TestMaster } from '../helpers/cluster';

const REPO = 'https://git.example/shared/web.git';
const SECRET_A = 'iso-hook-secret-a';
const SECRET_B = 'iso-hook-secret-b';
let master: TestMaster;
let n = 0;
const sha = () => (++n).toString(16).padStart(40, 'd');

interface HookAnswer {
  queued?: { job: string }[];
  ignored?: { job: string | null; reason: string }[];
  duplicate?: boolean;
  error?: { code: string; message: string };
}

async function post(provider: string, body: string, headers: Record<string, string>): Promise<{ status: number; body: HookAnswer }> {
  const res = await fetch(`${master.url}/api/v1/hooks/${provider}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  return { status: res.status, body: (await res.json()) as HookAnswer };
}

const sign = (body: string, secret: string) => createHmac('sha256', secret).update(body).digest('hex');
const githubPush = (after: string, repo = REPO) =>
  JSON.stringify({ ref: 'refs/heads/main', before: 'a'.repeat(40), after, repository: { clone_url: repo }, head_commit: { id: after, message: 'm' }, commits: [{ id: after, modified: ['x'] }] });
const github = (body: string, secret: string, delivery = randomUUID()) =>
  post('github', body, { 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': delivery, 'X-Hub-Signature-256': `sha256=${sign(body, secret)}` });
const gitlabPush = (after: string) =>
  JSON.stringify({ object_kind: 'push', ref: 'refs/heads/main', before: 'a'.repeat(40), after, checkout_sha: after, repository: { git_http_url: REPO }, commits: [{ id: after, message: 'm', added: ['x'] }], total_commits_count: 1 });
const buildsOf = async (job: string) => (await master.api.listBuilds(job)).length;

beforeAll(async () => {
  master = await startMaster();
  for (const [team, secret] of [['iso-a', SECRET_A], ['iso-b', SECRET_B]]) {
    await master.api.createTeam(team);
    await master.api.setSecret(team, 'WEBHOOK_SECRET', secret);
    await master.api.applyJob(`name: ${team}-web
team: ${team}
repo: { url: '${REPO}' }
triggers: { push: { branches: [main] } }
stages:
  - name: build
    environment: ci
    steps: [ { sh: 'true' } ]
`);
  }
});
afterAll(async () => {
  await master?.stop();
});

describe('webhook dedup per job', () => {
  it("team B's delivery of a push does not suppress team A's build of the same push, in either order", async () => {
    const s = sha();
    const body = githubPush(s);
    const b = await github(body, SECRET_B);
    expect(b.body.queued?.map((q) => q.job), JSON.stringify(b)).toEqual(["iso-b-web"]);
    const a = await github(body, SECRET_A);
    expect(a.status).toBe(202);
    expect(a.body.duplicate).toBeFalsy();
    expect(a.body.queued?.map((q) => q.job)).toEqual(['iso-a-web']);
    // The same delivery id, used by the other team's hook: still not a duplicate for this job.
    const s2 = sha();
    const id = randomUUID();
    expect((await github(githubPush(s2), SECRET_A, id)).body.queued).toHaveLength(1);
    expect((await github(githubPush(s2), SECRET_B, id)).body.queued?.map((q) => q.job)).toEqual(['iso-b-web']);
    // Generic pushes without a delivery id: (repository, ref, sha) alone must not join the two teams.
    const generic = (secret: string, s3: string) =>
      post('generic', JSON.stringify({ repository: REPO, ref: 'refs/heads/main', sha: s3 }), { Authorization: `Bearer ${secret}` });
    const s3 = sha();
    expect((await generic(SECRET_A, s3)).body.queued?.map((q) => q.job)).toEqual(['iso-a-web']);
    expect((await generic(SECRET_B, s3)).body.queued?.map((q) => q.job)).toEqual(['iso-b-web']);
  });

  it('the same push resent with a new delivery id builds once', async () => {
    const before = await buildsOf('iso-a-web');
    const body = githubPush(sha());
    expect((await github(body, SECRET_A)).body.queued).toHaveLength(1);
    const again = await github(body, SECRET_A);
    expect(again.body.duplicate).toBe(true);
    expect(again.body.queued ?? []).toHaveLength(0);
    expect(await buildsOf('iso-a-web')).toBe(before + 1);
  });

  it("uses GitLab's Idempotency-Key (stable across retries), else the event UUID", async () => {
    const before = await buildsOf('iso-a-web');
    const key = randomUUID();
    const first = await post('gitlab', gitlabPush(sha()), { 'X-Gitlab-Event': 'Push Hook', 'X-Gitlab-Token': SECRET_A, 'Idempotency-Key': key, 'X-Gitlab-Event-UUID': randomUUID() });
    expect(first.body.queued).toHaveLength(1);
    // A retry of that delivery: same Idempotency-Key, a new event UUID, and (for this test) another sha.
    const retry = await post('gitlab', gitlabPush(sha()), { 'X-Gitlab-Event': 'Push Hook', 'X-Gitlab-Token': SECRET_A, 'Idempotency-Key': key, 'X-Gitlab-Event-UUID': randomUUID() });
    expect(retry.body.duplicate).toBe(true);
    const uuid = randomUUID();
    expect((await post('gitlab', gitlabPush(sha()), { 'X-Gitlab-Event': 'Push Hook', 'X-Gitlab-Token': SECRET_A, 'X-Gitlab-Event-UUID': uuid })).body.queued).toHaveLength(1);
    expect((await post('gitlab', gitlabPush(sha()), { 'X-Gitlab-Event': 'Push Hook', 'X-Gitlab-Token': SECRET_A, 'X-Gitlab-Event-UUID': uuid })).body.duplicate).toBe(true);
    expect(await buildsOf('iso-a-web')).toBe(before + 2);
    const history = await master.api.listTriggers('iso-a-web');
    expect(history.find((t) => t.outcome === 'duplicate')?.deliveryId).toBeTruthy();
  });
});

describe('trigger history', () => {
  it("shows a job only what its own secret verified: never the other team's pushes", async () => {
    const s = sha();
    await github(githubPush(s), SECRET_A);
    const bad = await github(githubPush(sha()), 'not-a-secret');
    expect(bad.status).toBe(401);
    const historyB = await master.api.listTriggers('iso-b-web', { limit: 500 });
    expect(historyB.some((t) => t.sha === s)).toBe(false);
    expect(historyB.some((t) => t.outcome === 'rejected')).toBe(false);
    const historyA = await master.api.listTriggers('iso-a-web', { limit: 500 });
    expect(historyA.some((t) => t.outcome === 'rejected')).toBe(false);
  });

  it('checks the secret before parsing the push: a malformed unsigned delivery is a 401, not a parse error', async () => {
    const body = JSON.stringify({ ref: '--upload-pack=x', after: 'not-a-sha', repository: { clone_url: REPO } });
    const unsigned = await post('github', body, { 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': randomUUID() });
    expect(unsigned.status).toBe(401);
    const signed = await post('github', body, { 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': randomUUID(), 'X-Hub-Signature-256': `sha256=${sign(body, SECRET_A)}` });
    expect(signed.status).toBe(400);
  });

  it('counts unverified deliveries per repository for admins, bounded, and records no history rows for them', async () => {
    const url = `${master.url}/api/v1/triggers/unverified`;
    const before = (await master.api.listTriggers('iso-a-web', { limit: 500 })).length;
    for (let i = 0; i < 5; i++) {
      await post('github', JSON.stringify({ zen: 'x', repository: { clone_url: REPO } }), { 'X-GitHub-Event': 'ping', 'X-GitHub-Delivery': randomUUID() });
      await github(githubPush(sha()), 'wrong');
      await post('github', githubPush(sha(), `https://git.example/nobody/r${i}.git`), { 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': randomUUID() });
    }
    expect((await master.api.listTriggers('iso-a-web', { limit: 500 })).length).toBe(before);
    const res = await fetch(url, { headers: { authorization: `Bearer ${master.api.token}` } });
    expect(res.status).toBe(200);
    const counts = (await res.json()) as { repo: string; count: number }[];
    const shared = counts.find((c) => c.repo === 'git.example/shared/web');
    expect(shared?.count).toBeGreaterThanOrEqual(10);
    expect(counts.filter((c) => c.repo.startsWith('git.example/nobody/')).length).toBe(5);

    // Not for team members.
    await master.api.createUser({ username: 'iso-dev', password: 'iso-dev-password-1' });
    await master.api.setMember('iso-a', 'iso-dev', 'maintainer');
    const dev = await master.login('iso-dev', 'iso-dev-password-1');
    const denied = await fetch(url, { headers: { authorization: `Bearer ${dev.token}` } });
    expect(denied.status).toBe(403);
  });
});
