/**
 * Pooled per-job workspaces with real git (as the build user when the tests run as root): the next build of
 * the job reuses the workspace and its checkout writes only changed files; nothing of the previous build
 * leaks (untracked, ignored, modified files); concurrent builds get ws-0 and ws-1; hooks and an fsmonitor
 * planted in .git never run; a broken workspace repository falls back to a fresh checkout; retention
 * removes workspaces unused for longer than the configured days.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, rmSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../agent/config';
import { BuildUsers } from '../../agent/build-users';
import { workspaceDaysFromEnv, Workspaces } from '../../agent/workspace';
import type { RunAs } from '../../agent/executors/types';
import { agentDir, prepareWorkspace, runCheckout, shAs, source, tempDir, TestRepo, TEST_JOB_ID } from './agent-git-fixtures';

const dirs: string[] = [];
let ws: Workspaces;
let repo: TestRepo;
let c1: string;
let c2: string;

let runAs: RunAs | undefined;

beforeAll(async () => {
  ws = await agentDir();
  runAs = await ws.userFor(TEST_JOB_ID);
  const root = tempDir('pool-repo');
  dirs.push(ws.workDir, root);
  repo = new TestRepo(join(root, 'app'));
  c1 = repo.commit('c1', {
    '.gitignore': 'dist/\n*.log\n',
    'keep.txt': 'unchanged\n',
    'src/a.ts': 'a1\n',
    'src/gone.ts': 'removed in c2\n',
  });
  c2 = repo.commit('c2', { 'src/a.ts': 'a2\n', 'src/new.ts': 'new\n' });
  rmSync(join(repo.dir, 'src/gone.ts'));
  c2 = repo.commit('c2 without gone.ts', {});
});

afterAll(() => {
  ws.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Runs a shell command in dir as a build step would (the build user when root). */
function step(dir: string, script: string): void {
  execFileSync('/bin/sh', ['-c', script], { cwd: dir, uid: runAs?.uid, gid: runAs?.gid, env: { PATH: process.env.PATH, HOME: dir }, stdio: 'pipe' });
}

/** One build of the job: acquire its pooled workspace, clean it, check out sha. */
async function build(key: string, sha: string, before?: (dir: string) => void) {
  const pooled = await ws.acquire(key, runAs);
  try {
    before?.(pooled.dir);
    const notes = await prepareWorkspace(ws, pooled.dir, repo.url);
    const run = await runCheckout(ws, source({ url: repo.url, sha, cacheKey: key }), { workspace: pooled.dir });
    return { ...run, notes, index: pooled.index };
  } finally {
    await pooled.release();
  }
}

describe('pooled job workspaces', () => {
  it('lives at jobs/<cacheKey>/ws-0, 0700 and the build user\'s, under 0711 parents', async () => {
    const b = await build('layout', c1);
    expect(b.result, b.log).toEqual({ status: 'success', exitCode: 0 });
    expect(b.workspace).toBe(join(ws.workDir, 'jobs', 'layout', 'ws-0'));
    expect(statSync(b.workspace).mode & 0o777).toBe(0o700);
    if (runAs) {
      expect(statSync(b.workspace).uid).toBe(runAs.uid);
      expect(statSync(join(ws.workDir, 'jobs')).mode & 0o777).toBe(0o711);
      expect(statSync(join(ws.workDir, 'jobs', 'layout')).mode & 0o777).toBe(0o711);
      expect(statSync(join(ws.workDir, 'jobs', 'layout')).uid).toBe(0);
    }
  });

  it('writes only the changed files on the next build and leaves nothing of the previous one', async () => {
    const b1 = await build('incremental', c1);
    expect(b1.result, b1.log).toEqual({ status: 'success', exitCode: 0 });
    const keep = statSync(join(b1.workspace, 'keep.txt'));
    const inPack = () => Number(/^in-pack: (\d+)$/m.exec(shAs(runAs, b1.workspace, 'count-objects', '-v'))?.[1]);
    const objectsBefore = inPack();
    const b2 = await build('incremental', c2, (dir) =>
      // What a build leaves behind: output, an ignored log, an untracked file, a local change, a nested repo.
      step(
        dir,
        'mkdir -p dist vendor/x/.git && echo built > dist/app.js && echo log > debug.log && echo u > untracked.txt && echo modified > src/gone.ts',
      ),
    );
    expect(b2.result, b2.log).toEqual({ status: 'success', exitCode: 0 });
    expect(b2.workspace).toBe(b1.workspace);
    expect(b2.log).toContain('workspace reused: only changed files written');
    // Only the new commit's objects came in (commit, root and src trees, two blobs), not the tree again.
    expect(inPack() - objectsBefore).toBeLessThanOrEqual(6);
    const after = statSync(join(b2.workspace, 'keep.txt'));
    expect(after.ino).toBe(keep.ino);
    expect(after.mtimeMs).toBe(keep.mtimeMs);
    expect(readFileSync(join(b2.workspace, 'src/a.ts'), 'utf8')).toBe('a2\n');
    expect(readFileSync(join(b2.workspace, 'src/new.ts'), 'utf8')).toBe('new\n');
    for (const p of ['dist', 'debug.log', 'untracked.txt', 'src/gone.ts', 'vendor']) expect(existsSync(join(b2.workspace, p)), p).toBe(false);
    expect(shAs(runAs, b2.workspace, 'status', '--porcelain', '--ignored')).toBe('');
    expect(shAs(runAs, b2.workspace, 'rev-parse', 'HEAD')).toBe(c2);
  });

  it('resets a tracked file hidden by assume-unchanged', async () => {
    await build('flags', c1);
    const b2 = await build('flags', c2, (dir) => step(dir, 'git update-index --assume-unchanged keep.txt && echo tampered > keep.txt'));
    expect(b2.result, b2.log).toEqual({ status: 'success', exitCode: 0 });
    expect(readFileSync(join(b2.workspace, 'keep.txt'), 'utf8')).toBe('unchanged\n');
  });

  it('gives concurrent builds of one job ws-0 and ws-1, and ws-0 again once free', async () => {
    const a = await ws.acquire('concurrent', runAs);
    const b = await ws.acquire('concurrent', runAs);
    expect([a.index, b.index]).toEqual([0, 1]);
    expect(b.dir).toBe(join(ws.workDir, 'jobs', 'concurrent', 'ws-1'));
    await a.release();
    const c = await ws.acquire('concurrent', runAs);
    expect(c.index).toBe(0);
    await Promise.all([b.release(), c.release()]);
    const runs = await Promise.all([build('concurrent-co', c1), build('concurrent-co', c2)]);
    expect(runs.map((r) => r.index).sort()).toEqual([0, 1]);
    runs.forEach((r, i) => expect(shAs(runAs, r.workspace, 'rev-parse', 'HEAD')).toBe([c1, c2][i]));
  });

  it('settles the index on release, so the next checkout does not re-read files as racily clean', async () => {
    // Held across the release: the release waits out git's one-second racy window, then rewrites the index.
    const first = await build('settle', c1);
    const pooled = await ws.acquire('settle', runAs);
    try {
      const index = statSync(join(pooled.dir, '.git', 'index')).mtimeMs;
      const newestFile = Math.max(...['keep.txt', 'src/a.ts', '.gitignore'].map((f) => statSync(join(pooled.dir, f)).mtimeMs));
      expect(Math.floor(index / 1000)).toBeGreaterThan(Math.floor(newestFile / 1000));
      // A racily clean entry is stored with size 0 ("smudged"); none may be left.
      const sizes = shAs(runAs, pooled.dir, 'ls-files', '--debug').split('\n').filter((l) => l.trim().startsWith('size:'));
      expect(sizes.length).toBeGreaterThan(0);
      expect(sizes.filter((l) => /size: 0\b/.test(l))).toEqual([]);
      expect(first.result.status).toBe('success');
    } finally {
      await pooled.release();
    }
  });

  it('waits for a workspace of the job that is still settling rather than taking a new number', async () => {
    await build('settle-wait', c1);
    const a = await ws.acquire('settle-wait', runAs);
    const releasing = a.release();
    const b = await ws.acquire('settle-wait', runAs);
    await releasing;
    expect(b.index).toBe(0);
    await b.release();
  });

  it('runs no hook, fsmonitor or config planted in .git by the previous build', async () => {
    await build('planted', c1);
    const marker = join(tempDir('planted'), 'ran');
    dirs.push(join(marker, '..'));
    chmodSync(join(marker, '..'), 0o777);
    const b2 = await build('planted', c2, (dir) =>
      step(
        dir,
        [
          'mkdir -p .git/hooks',
          `printf '#!/bin/sh\\necho "$0" >> ${marker}\\n' > .git/fsmonitor.sh`,
          'chmod 755 .git/fsmonitor.sh',
          'for h in post-checkout reference-transaction pre-auto-gc; do cp .git/fsmonitor.sh .git/hooks/$h; done',
          `printf '[core]\\n\\tfsmonitor = ${join(dir, '.git/fsmonitor.sh')}\\n\\thooksPath = .git/hooks\\n' > .git/config`,
        ].join(' && '),
      ),
    );
    expect(b2.result, b2.log).toEqual({ status: 'success', exitCode: 0 });
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(join(b2.workspace, '.git/hooks'))).toBe(false);
    expect(readFileSync(join(b2.workspace, '.git/config'), 'utf8')).not.toMatch(/fsmonitor|hooksPath/);
    expect(shAs(runAs, b2.workspace, 'rev-parse', 'HEAD')).toBe(c2);
  });

  it('falls back to a fresh checkout, said in the log, when the workspace repository is broken', async () => {
    const b1 = await build('broken', c1);
    // Objects gone, and no clean before the step: the checkout step finds out.
    rmSync(join(b1.workspace, '.git/objects/pack'), { recursive: true, force: true });
    const pooled = await ws.acquire('broken', runAs);
    try {
      const r = await runCheckout(ws, source({ url: repo.url, sha: c1, cacheKey: 'broken' }), { workspace: pooled.dir });
      expect(r.result, r.log).toEqual({ status: 'success', exitCode: 0 });
      expect(r.log).toMatch(/workspace repository not reusable \(.+\): wiped, checked out afresh/);
      expect(shAs(runAs, r.workspace, 'rev-parse', 'HEAD')).toBe(c1);
      expect(shAs(runAs, r.workspace, 'status', '--porcelain')).toBe('');
    } finally {
      await pooled.release();
    }
    // A HEAD that is not a commit is found while cleaning: the workspace is emptied and checked out afresh.
    step(b1.workspace, 'echo garbage > .git/HEAD && echo x > stale.txt');
    const b3 = await build('broken', c2);
    expect(b3.notes.join('\n')).toMatch(/not reused .*wiped, the checkout starts afresh/);
    expect(b3.result, b3.log).toEqual({ status: 'success', exitCode: 0 });
    expect(existsSync(join(b3.workspace, 'stale.txt'))).toBe(false);
    expect(shAs(runAs, b3.workspace, 'rev-parse', 'HEAD')).toBe(c2);
  });

  it('keeps only the checkout directories of the stage, removing the rest of the workspace', async () => {
    const pooled = await ws.acquire('paths', runAs);
    try {
      const r = await runCheckout(ws, source({ url: repo.url, sha: c1, cacheKey: 'paths' }), { workspace: pooled.dir, config: { path: 'app/src' } });
      expect(r.result, r.log).toEqual({ status: 'success', exitCode: 0 });
      step(pooled.dir, 'echo x > other.txt && echo x > app/x.txt');
      await prepareWorkspace(ws, pooled.dir, repo.url, ['app/src']);
      expect(existsSync(join(pooled.dir, 'other.txt'))).toBe(false);
      expect(existsSync(join(pooled.dir, 'app/x.txt'))).toBe(false);
      expect(readFileSync(join(pooled.dir, 'app/src/keep.txt'), 'utf8')).toBe('unchanged\n');
    } finally {
      await pooled.release();
    }
  });
});

describe('workspace retention', () => {
  it('removes pooled workspaces unused for longer than the retention, at open and by sweep, never one in use', async () => {
    const workDir = tempDir('retention');
    dirs.push(workDir);
    const users = BuildUsers.ifRoot();
    const first = await Workspaces.open(workDir, users, { retentionDays: 7 });
    const old = await first.acquire('old-job', runAs);
    await old.release();
    const held = await first.acquire('held-job', runAs);
    const recent = await first.acquire('recent-job', runAs);
    await recent.release();
    const eightDaysAgo = new Date(Date.now() - 8 * 24 * 3600 * 1000);
    utimesSync(old.dir, eightDaysAgo, eightDaysAgo);
    utimesSync(held.dir, eightDaysAgo, eightDaysAgo);
    expect(await first.sweep()).toEqual([old.dir]);
    expect(existsSync(old.dir)).toBe(false);
    expect(existsSync(join(workDir, 'jobs', 'old-job'))).toBe(false);
    expect(existsSync(held.dir)).toBe(true);
    expect(existsSync(recent.dir)).toBe(true);
    await held.release();
    first.close();
    utimesSync(held.dir, eightDaysAgo, eightDaysAgo);
    // At agent start: the sweep runs in open().
    const swept: string[] = [];
    const second = await Workspaces.open(workDir, users, { retentionDays: 7, onSweep: (removed) => swept.push(...removed) });
    second.close();
    expect(swept).toEqual([held.dir]);
    expect(existsSync(recent.dir)).toBe(true);
  });

  it('refuses a retention that is not a positive number of days', async () => {
    await expect(Workspaces.open(tempDir('retention-bad'), undefined, { retentionDays: 0 })).rejects.toThrow(/retention must be > 0 days/);
    expect(() => workspaceDaysFromEnv({ SLIPWAY_WORKSPACE_DAYS: 'soon' })).toThrow(/SLIPWAY_WORKSPACE_DAYS must be a number of days > 0, got "soon"/);
    const base = { url: 'http://127.0.0.1:1', token: 't', name: 'a', environment: 'ci' };
    expect(() => resolveConfig({ ...base, workspaceDays: -1 }, {})).toThrow(/agent option --workspace-days: must be a number of days > 0/);
  });

  it('takes the retention from --workspace-days, else SLIPWAY_WORKSPACE_DAYS, else 7 days', () => {
    const base = { url: 'http://127.0.0.1:1', token: 't', name: 'a', environment: 'ci' };
    expect(resolveConfig({ ...base, workspaceDays: 3 }, { SLIPWAY_WORKSPACE_DAYS: '5' }).workspaceDays).toBe(3);
    expect(resolveConfig(base, { SLIPWAY_WORKSPACE_DAYS: '5' }).workspaceDays).toBe(5);
    expect(resolveConfig(base, {}).workspaceDays).toBe(7);
    expect(workspaceDaysFromEnv({})).toBe(7);
  });
});
