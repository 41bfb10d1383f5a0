/**
 * The checkout executor against real repositories (file:// URLs): the exact commit while the branch moved
 * on, incremental fetches through the per-job cache, commit metadata, changed files against the previous
 * build, the workspace handed to the build user, submodules, and the config override of depth and path.
 */
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Workspaces } from '../../agent/workspace';
import type { RunAs } from '../../agent/executors/types';
import { agentDir, runCheckout, sh, shAs, source, tempDir, TestRepo, TEST_JOB_ID } from './agent-git-fixtures';

const dirs: string[] = [];
let ws: Workspaces;
let repo: TestRepo;
let first: string;
let second: string;
let head: string;

let runAs: RunAs | undefined;

beforeAll(async () => {
  ws = await agentDir();
  runAs = await ws.userFor(TEST_JOB_ID);
  const root = tempDir('repo');
  dirs.push(ws.workDir, root);
  repo = new TestRepo(join(root, 'app'));
  first = repo.commit('first commit', { 'README.md': 'v1\n', 'src/a.ts': 'export const a = 1;\n' });
  second = repo.commit('second: change a\n\nLonger body\nline two', { 'src/a.ts': 'export const a = 2;\n', 'docs/x.md': 'x\n' });
  head = repo.commit('third', { 'README.md': 'v3\n' });
});
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('checkout executor', () => {
  it('checks out the exact older sha although the branch has moved on', async () => {
    const r = await runCheckout(ws, source({ url: repo.url, sha: second, cacheKey: 'exact' }));
    expect(r.result).toEqual({ status: 'success', exitCode: 0 });
    expect(shAs(runAs, r.workspace, 'rev-parse', 'HEAD')).toBe(second);
    expect(readFileSync(join(r.workspace, 'README.md'), 'utf8')).toBe('v1\n');
    expect(readFileSync(join(r.workspace, 'src/a.ts'), 'utf8')).toBe('export const a = 2;\n');
    expect(shAs(runAs, r.workspace, 'status', '--porcelain')).toBe('');
    expect(r.records).toEqual([{ sha: second, author: 'Ada Lovelace <ada@example.com>', message: 'second: change a\n\nLonger body\nline two' }]);
    expect(r.log).toContain(`@ ${second.slice(0, 7)} (refs/heads/main), depth 1`);
  });

  it('hands the checked-out files to the build user and keeps the cache root-only', async () => {
    const r = await runCheckout(ws, source({ url: repo.url, sha: head, cacheKey: 'owner' }));
    expect(r.result.status).toBe('success');
    if (runAs) {
      for (const p of ['README.md', 'src/a.ts', '.git', '.git/HEAD']) expect(statSync(join(r.workspace, p)).uid).toBe(runAs.uid);
    }
    expect(statSync(join(ws.workDir, 'git-cache')).mode & 0o777).toBe(0o700);
  });

  it('fetches incrementally on the next build: the cache is reused and gains only the new objects', async () => {
    const key = 'incr';
    const r1 = await runCheckout(ws, source({ url: repo.url, sha: first, cacheKey: key }));
    expect(r1.log).toMatch(/(\d+) objects fetched in [\d.]+ s \(cold cache\)/);
    const r2 = await runCheckout(ws, source({ url: repo.url, sha: second, cacheKey: key }));
    const m = /(\d+) objects fetched in [\d.]+ s \(incremental\)/.exec(r2.log);
    expect(m, r2.log).not.toBeNull();
    // second changes src/a.ts and adds docs/x.md: commit, root tree, src/ and docs/ trees, two blobs.
    expect(Number(m![1])).toBeLessThanOrEqual(6);
    expect(shAs(runAs, r2.workspace, 'rev-parse', 'HEAD')).toBe(second);
    // The same commit again needs no fetch at all.
    const r3 = await runCheckout(ws, source({ url: repo.url, sha: second, cacheKey: key }));
    expect(r3.log).toContain('already in the cache');
  });

  it('reports the files changed since the previous build when the master does not know them', async () => {
    const r = await runCheckout(ws, source({ url: repo.url, sha: head, previousSha: first, knowsChangedFiles: false, cacheKey: 'diff' }));
    expect(r.result.status).toBe('success');
    expect(r.records[0].changedFiles?.sort()).toEqual(['README.md', 'docs/x.md', 'src/a.ts']);
    // Known from the webhook: not computed again.
    const known = await runCheckout(ws, source({ url: repo.url, sha: head, previousSha: first, knowsChangedFiles: true, cacheKey: 'diff' }));
    expect(known.records[0].changedFiles).toBeUndefined();
  });

  it('honours depth and path from the step config', async () => {
    const r = await runCheckout(ws, source({ url: repo.url, sha: head, cacheKey: 'deep' }), { config: { depth: 0, path: 'sub/dir' } });
    expect(r.result.status).toBe('success');
    const dir = join(r.workspace, 'sub/dir');
    expect(shAs(runAs, dir, 'rev-list', '--count', 'HEAD')).toBe('3');
    expect(existsSync(join(r.workspace, 'README.md'))).toBe(false);
    if (runAs) expect(statSync(join(r.workspace, 'sub')).uid).toBe(runAs.uid);
  });

  it('checks out submodules at the commit the superproject records', async () => {
    const root = tempDir('sub');
    dirs.push(root);
    const lib = new TestRepo(join(root, 'lib'));
    const libSha = lib.commit('lib v1', { 'lib.txt': 'lib v1\n' });
    const app = new TestRepo(join(root, 'app'));
    sh(app.dir, '-c', 'protocol.file.allow=always', 'submodule', '--quiet', 'add', lib.url, 'vendor/lib');
    const appSha = app.commit('add lib', {});
    lib.commit('lib v2', { 'lib.txt': 'lib v2\n' });
    const r = await runCheckout(ws, source({ url: app.url, sha: appSha, submodules: true, cacheKey: 'submod' }));
    expect(r.result, r.log).toEqual({ status: 'success', exitCode: 0 });
    expect(readFileSync(join(r.workspace, 'vendor/lib/lib.txt'), 'utf8')).toBe('lib v1\n');
    expect(shAs(runAs, join(r.workspace, 'vendor/lib'), 'rev-parse', 'HEAD')).toBe(libSha);
    const without = await runCheckout(ws, source({ url: app.url, sha: appSha, cacheKey: 'submod' }));
    expect(existsSync(join(without.workspace, 'vendor/lib/lib.txt'))).toBe(false);
  });

  it('serialises concurrent builds of one job on its cache, each getting its own commit', async () => {
    const runs = await Promise.all([first, second, head, first].map((sha) => runCheckout(ws, source({ url: repo.url, sha, cacheKey: 'concurrent' }))));
    runs.forEach((r, i) => {
      expect(r.result, r.log).toEqual({ status: 'success', exitCode: 0 });
      expect(shAs(runAs, r.workspace, 'rev-parse', 'HEAD')).toBe([first, second, head, first][i]);
    });
  });

  it('checks out an older commit into a reused directory: files of the newer one go, tracked files are reset', async () => {
    const r1 = await runCheckout(ws, source({ url: repo.url, sha: second, cacheKey: 'reuse' }));
    writeFileSync(join(r1.workspace, 'src/a.ts'), 'locally modified\n');
    const r2 = await runCheckout(ws, source({ url: repo.url, sha: first, cacheKey: 'reuse' }), { workspace: r1.workspace });
    expect(r2.result.status).toBe('success');
    expect(r2.log).toContain('workspace reused: only changed files written');
    expect(readFileSync(join(r1.workspace, 'src/a.ts'), 'utf8')).toBe('export const a = 1;\n');
    expect(existsSync(join(r1.workspace, 'docs/x.md'))).toBe(false);
    expect(shAs(runAs, r1.workspace, 'status', '--porcelain')).toBe('');
    expect(shAs(runAs, r1.workspace, 'rev-parse', 'HEAD')).toBe(first);
  });

  it('fails with a clear error for a sha the repository does not have', async () => {
    const missing = 'deadbeef'.repeat(5);
    const r = await runCheckout(ws, source({ url: repo.url, sha: missing, cacheKey: 'missing' }));
    expect(r.result.status).toBe('error');
    expect(r.result.error).toMatch(/not reachable from source.ref 'refs\/heads\/main'/);
    expect(r.records).toEqual([]);
  });
});
