/**
 * Path filters of deliveries that do not list their changed files, on a real master process with real git:
 * the hook answers 202 with the job pending, the master diffs the push in the background, and the trigger
 * history turns 'ignored' or 'queued' (builds carry the diffed files). A pending check survives a restart.
 *
 * Deterministic "restart between answer and decision": the master runs with a global git config whose
 * a `git` wrapper first on the master's PATH waits for a gate file before every fetch, so the master's
 * fetches block while the gate is closed (the master's git reads no user or global config, so a config
 * hook cannot do it).
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TriggerEventInfo, WebhookResult } from '../../shared/api';
import { runCli } from '../helpers/cli';
import { startMaster, type TestMaster } from '../helpers/cluster';
import { waitFor } from '../helpers/wait';
import { gatedGitBin, git } from '../helpers/git';

const SECRET = 'paths-hook-secret';
let master: TestMaster;
let dir: string;
let bare: string;
let work: string;
let gate: string;

/** Commits one file and pushes; no hook on this repository, the test posts the deliveries itself. */
function commit(file: string, message: string): string {
  mkdirSync(join(work, file, '..'), { recursive: true });
  writeFileSync(join(work, file), `${message}\n`);
  git(work, 'add', '.');
  git(work, 'commit', '-qm', message);
  git(work, 'push', '-q', 'origin', 'main');
  return git(work, 'rev-parse', 'HEAD');
}

async function post(provider: string, body: unknown, headers: Record<string, string>): Promise<{ status: number; body: WebhookResult }> {
  const res = await fetch(`${master.url}/api/v1/hooks/${provider}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });
  return { status: res.status, body: (await res.json()) as WebhookResult };
}

const generic = (repository: string, sha: string, before: string) =>
  post('generic', { repository, ref: 'refs/heads/main', sha, before, message: 'm', author: 'Ada' }, { Authorization: `Bearer ${SECRET}` });

/** The trigger event of `sha` once it is no longer pending. */
const decided = (job: string, sha: string) =>
  waitFor(`decision for ${sha.slice(0, 12)} of ${job}`, async () => {
    const e = (await master.api.listTriggers(job)).find((t) => t.sha === sha);
    return e && e.outcome !== 'pending' ? e : undefined;
  });

function jobYaml(name: string, url: string): string {
  return `name: ${name}
team: paths
repo: { url: '${url}' }
triggers: { push: { branches: [main], paths: ['src/**'] } }
stages:
  - name: build
    environment: ci
    steps: [ { sh: 'true' } ]
`;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'slipway-hooks-paths-'));
  bare = join(dir, 'web.git');
  work = join(dir, 'work');
  gate = join(dir, 'gate-open');
  git(dir, 'init', '-q', '--bare', '-b', 'main', bare);
  git(dir, 'init', '-q', '-b', 'main', work);
  git(work, 'remote', 'add', 'origin', bare);
  const bin = gatedGitBin(dir, gate);
  writeFileSync(gate, '');
  master = await startMaster({ env: { PATH: `${bin}:${process.env.PATH}` } });
  await master.api.createTeam('paths');
  await master.api.setSecret('paths', 'WEBHOOK_SECRET', SECRET);
  await master.api.applyJob(jobYaml('paths-web', `file://${bare}`));
  await master.api.applyJob(jobYaml('paths-lost', `file://${join(dir, 'gone.git')}`));
}, 60_000);
afterAll(async () => {
  // Open the gate so no git process of the master stays blocked on it.
  if (gate) writeFileSync(gate, '');
  await master?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('path filters decided after the answer', () => {
  it('generic pushes: 202 pending, then ignored for docs only, built with the diffed files for src/', async () => {
    const base = commit('README', 'readme');
    const docs = commit('docs/guide.md', 'docs only');
    const res = await generic(`file://${bare}`, docs, base);
    expect(res.status).toBe(202);
    expect(res.body.queued).toEqual([]);
    expect(res.body.pending).toEqual([{ job: 'paths-web', team: 'paths', reason: expect.stringMatching(/does not list its changed files/) }]);
    const ignored = await decided('paths-web', docs);
    expect(ignored).toMatchObject({ outcome: 'ignored', reason: 'no changed file matches triggers.push.paths (src/**)', buildId: null });
    expect((await master.api.listBuilds('paths-web')).find((b) => b.commit === docs)).toBeUndefined();

    const code = commit('src/app.ts', 'code');
    expect((await generic(`file://${bare}`, code, docs)).body.pending).toHaveLength(1);
    const queued = await decided('paths-web', code);
    expect(queued).toMatchObject({ outcome: 'queued', reason: expect.stringMatching(/diffed by the master/) });
    const build = await master.api.getBuild(queued.buildId!);
    expect(build).toMatchObject({ commit: code, ref: 'refs/heads/main', commitInfo: { changedFiles: ['src/app.ts'] } });
  }, 60_000);

  it('GitLab push over 20 commits: the listed files are not trusted, the diff decides', async () => {
    const before = git(work, 'rev-parse', 'HEAD');
    let head = '';
    for (let i = 0; i < 24; i++) head = commit(`docs/page-${i}.md`, `page ${i}`);
    head = commit('src/late.ts', 'late code');
    // GitLab lists the 20 newest commits only; the one touching src/ is among them, but the payload is capped.
    const listed = Array.from({ length: 20 }, (_, i) => ({ id: i === 19 ? head : randomUUID(), message: 'm', added: [], removed: [], modified: ['docs/x.md'] }));
    const res = await post('gitlab', {
      object_kind: 'push', before, after: head, ref: 'refs/heads/main', checkout_sha: head, user_name: 'Ada', total_commits_count: 25, commits: listed,
      project: { git_http_url: `file://${bare}` }, repository: { git_http_url: `file://${bare}` },
    }, { 'X-Gitlab-Event': 'Push Hook', 'X-Gitlab-Token': SECRET, 'X-Gitlab-Event-UUID': randomUUID() });
    expect(res.status).toBe(202);
    expect(res.body.pending.map((p) => p.job)).toEqual(['paths-web']);
    const e = await decided('paths-web', head);
    expect(e.outcome).toBe('queued');
    const build = await master.api.getBuild(e.buildId!);
    expect(build.commitInfo?.changedFiles).toContain('src/late.ts');
    expect(build.commitInfo?.changedFiles).toHaveLength(25);
  }, 60_000);

  it('an unreachable repository builds anyway, with the reason in the trigger history', async () => {
    const sha = 'e'.repeat(40);
    const res = await generic(`file://${join(dir, 'gone.git')}`, sha, 'f'.repeat(40));
    expect(res.body.pending).toEqual([{ job: 'paths-lost', team: 'paths', reason: expect.any(String) }]);
    const e = await decided('paths-lost', sha);
    expect(e).toMatchObject({ outcome: 'queued', reason: expect.stringMatching(/could not be computed .*built without the path filter/) });
    expect((await master.api.getBuild(e.buildId!)).commit).toBe(sha);
  }, 60_000);

  it('a check pending when the master restarts is decided by the next start', async () => {
    const before = git(work, 'rev-parse', 'HEAD');
    rmSync(gate);
    const sha = commit('src/after-restart.ts', 'survives a restart');
    const res = await generic(`file://${bare}`, sha, before);
    expect(res.body.pending).toHaveLength(1);
    const pending = (await master.api.listTriggers('paths-web')).find((t) => t.sha === sha) as TriggerEventInfo;
    expect(pending).toMatchObject({ outcome: 'pending', buildId: null });
    const env = { SLIPWAY_URL: master.url, SLIPWAY_TOKEN: master.api.token!, SLIPWAY_CONFIG: join(dir, 'cli.json') };
    const table = await runCli(['triggers', 'paths-web', '-n', '1'], { env });
    expect(table.stdout).toMatch(new RegExp(`generic:push\\s+main\\s+${sha.slice(0, 12)}\\s+pending`));

    await master.restart();
    writeFileSync(gate, '');
    const e = await decided('paths-web', sha);
    expect(e).toMatchObject({ id: pending.id, outcome: 'queued' });
    expect((await master.api.getBuild(e.buildId!)).commitInfo?.changedFiles).toEqual(['src/after-restart.ts']);
    expect((await master.api.listBuilds('paths-web')).filter((b) => b.commit === sha)).toHaveLength(1);
  }, 90_000);
});
