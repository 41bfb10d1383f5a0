/**
 * Real git end to end: a bare repository whose post-receive hook POSTs a GitLab-shaped Push Hook (headers
 * as GitLab sends them), so `git push` alone starts a build whose checkout step runs the pushed commit on
 * a real agent; a fork's pull request waits for approval and its steps see no team secret.
 */
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuildInfo } from '../../shared/api';
import { startAgent, startMaster, type TestMaster } from '../helpers/cluster';
import { waitFor } from '../helpers/wait';

const SECRET = 'gitlab-hook-token';
const TEAM_SECRET = 'team-only-Value-42';
let master: TestMaster;
let dir: string;
let bare: string;
let work: string;

const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 'Ada', GIT_AUTHOR_EMAIL: 'ada@example.org', GIT_COMMITTER_NAME: 'Ada', GIT_COMMITTER_EMAIL: 'ada@example.org' } }).trim();

/** The post-receive hook: one GitLab Push Hook per updated ref, like GitLab's own delivery. */
function installHook(url: string): void {
  const hook = `#!${process.execPath}
const { execFileSync } = require('node:child_process');
const { randomUUID } = require('node:crypto');
const zero = /^0+$/;
const lines = require('node:fs').readFileSync(0, 'utf8').trim().split('\\n').filter(Boolean);
(async () => {
  for (const line of lines) {
    const [before, after, ref] = line.split(' ');
    const git = (...a) => execFileSync('git', a, { encoding: 'utf8' }).trim();
    const commits = zero.test(after) ? [] : [{
      id: after,
      message: git('log', '-1', '--format=%B', after),
      author: { name: git('log', '-1', '--format=%an', after) },
      added: [], removed: [],
      modified: zero.test(before) ? [] : git('diff', '--name-only', before, after).split('\\n').filter(Boolean),
    }];
    const body = {
      object_kind: 'push', event_name: 'push', before, after, ref, checkout_sha: zero.test(after) ? null : after,
      user_name: 'Ada', total_commits_count: commits.length,
      project: { git_http_url: 'file://' + process.cwd(), web_url: 'file://' + process.cwd() },
      repository: { name: 'web', url: 'file://' + process.cwd(), git_http_url: 'file://' + process.cwd(), git_ssh_url: 'file://' + process.cwd(), homepage: 'file://' + process.cwd() },
      commits,
    };
    const res = await fetch(${JSON.stringify(url)}, { method: 'POST', body: JSON.stringify(body), headers: {
      'Content-Type': 'application/json', 'X-Gitlab-Event': 'Push Hook', 'X-Gitlab-Token': ${JSON.stringify(SECRET)}, 'X-Gitlab-Event-UUID': randomUUID() } });
    console.log('webhook answered ' + res.status);
  }
})();
`;
  const file = join(bare, 'hooks', 'post-receive');
  writeFileSync(file, hook);
  chmodSync(file, 0o755);
}

async function finished(id: number): Promise<BuildInfo> {
  return waitFor(`build ${id} finished`, async () => {
    const b = await master.api.getBuild(id);
    return ['success', 'failed', 'cancelled', 'timeout'].includes(b.status) ? b : undefined;
  }, { timeoutMs: 60_000 });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'slipway-hooks-git-'));
  // The agent fetches local repositories as the build user: the repository must be readable by it.
  chmodSync(dir, 0o755);
  bare = join(dir, 'web.git');
  work = join(dir, 'work');
  git(dir, 'init', '-q', '--bare', '-b', 'main', bare);
  git(dir, 'init', '-q', '-b', 'main', work);
  master = await startMaster();
  installHook(`${master.url}/api/v1/hooks/gitlab`);
  await master.api.createTeam('gitteam');
  await master.api.setSecret('gitteam', 'WEBHOOK_SECRET', SECRET);
  await master.api.setSecret('gitteam', 'TEAM_KEY', TEAM_SECRET);
  await startAgent(master, { environment: 'ci' });
  await master.api.applyJob(`name: pushed
team: gitteam
repo: { url: 'file://${bare}' }
secrets: [TEAM_KEY]
triggers: { push: { branches: [main], paths: ['src/**'] }, requests: true }
stages:
  - name: build
    environment: ci
    steps:
      - sh: 'echo "head=$(git rev-parse HEAD)"; echo "key=\${TEAM_KEY:-none}"'
`);
}, 60_000);
afterAll(async () => {
  await master?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('git push to a bare repository with a GitLab-shaped hook', () => {
  it('starts a build of exactly the pushed commit; a push outside the path filter builds nothing', async () => {
    writeFileSync(join(work, 'README'), 'readme\n');
    git(work, 'add', '.');
    git(work, 'commit', '-qm', 'first');
    git(work, 'remote', 'add', 'origin', bare);
    git(work, 'push', '-q', 'origin', 'main');
    const first = git(work, 'rev-parse', 'HEAD');
    // New branch: the hook lists no files, the master finds nothing to diff against, so the path filter lets it through.
    const b1 = await waitFor('build of the first push', async () => (await master.api.listBuilds('pushed')).find((b) => b.commit === first));
    expect(b1.ref).toBe('refs/heads/main');

    writeFileSync(join(work, 'notes.md'), 'notes\n');
    git(work, 'add', '.');
    git(work, 'commit', '-qm', 'docs only');
    git(work, 'push', '-q', 'origin', 'main');
    const docs = git(work, 'rev-parse', 'HEAD');
    const ignored = await waitFor('docs push in the trigger history', async () => (await master.api.listTriggers('pushed')).find((t) => t.sha === docs));
    expect(ignored).toMatchObject({ outcome: 'ignored', reason: expect.stringMatching(/triggers.push.paths/) });

    execFileSync('mkdir', ['-p', join(work, 'src')]);
    writeFileSync(join(work, 'src', 'app.ts'), 'export {};\n');
    git(work, 'add', '.');
    git(work, 'commit', '-qm', 'code');
    git(work, 'push', '-q', 'origin', 'main');
    const code = git(work, 'rev-parse', 'HEAD');
    const b3 = await waitFor('build of the code push', async () => (await master.api.listBuilds('pushed')).find((b) => b.commit === code));
    expect(b3.commitInfo?.changedFiles).toEqual(['src/app.ts']);
    const done = await finished(b3.id);
    expect(done.status).toBe('success');
    expect(await master.api.buildLog(b3.id)).toContain(`head=${code}`);
  }, 120_000);

  it('a fork pull request waits for approval, then runs without team secrets', async () => {
    // The fork's commit is published under refs/pull/1/head, as GitHub and Gitea do.
    writeFileSync(join(work, 'src', 'fork.ts'), 'export const x = 1;\n');
    git(work, 'add', '.');
    git(work, 'commit', '-qm', 'from a fork');
    const sha = git(work, 'rev-parse', 'HEAD');
    git(work, 'push', '-q', 'origin', 'HEAD:refs/pull/1/head');
    const repo = { clone_url: `file://${bare}` };
    const body = JSON.stringify({ action: 'opened', number: 1, repository: repo,
      pull_request: { number: 1, title: 'fork change', head: { ref: 'main', sha, repo: { clone_url: 'https://elsewhere.example/eve/web.git' } }, base: { ref: 'main', repo } } });
    const res = await fetch(`${master.url}/api/v1/hooks/github`, { method: 'POST', body, headers: { 'X-GitHub-Event': 'pull_request', 'X-Hub-Signature-256': `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}` } });
    expect(res.status).toBe(202);
    const { queued } = (await res.json()) as { queued: { buildId: number }[] };
    const waiting = await master.api.getBuild(queued[0].buildId);
    expect(waiting).toMatchObject({ status: 'waiting', ref: 'refs/pull/1/head', request: { fork: true, number: 1 } });

    const approved = await master.api.request<BuildInfo>('POST', `/api/v1/builds/${waiting.id}/approve`, {});
    expect(approved).toMatchObject({ status: 'queued', approvedBy: 'admin' });
    await expect(master.api.request('POST', `/api/v1/builds/${waiting.id}/approve`, {})).rejects.toThrow(/not waiting for approval/);
    const done = await finished(waiting.id);
    expect(done.status).toBe('success');
    const log = await master.api.buildLog(waiting.id);
    expect(log).toContain(`head=${sha}`);
    expect(log).toContain('key=none');
  }, 120_000);
});
