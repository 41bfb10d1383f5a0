/**
 * Puts exactly one commit of the repository cache into a workspace directory: a small git repository of
 * its own (so steps can run `git log`, `git describe` within the fetched depth) whose objects are one pack
 * written straight from the cache by `git pack-objects` (reusing the cache's compressed objects: no second
 * fetch, no index-pack), then the files of that commit, then submodules. The workspace never points into
 * the cache (no alternates, no worktree link), so the cache stays unreadable for build steps. Commands that
 * write the workspace run as the build user, so its files are the build user's without a chown pass;
 * only pack-objects (reads the cache) and submodules (need the credentials) run as the agent.
 */
import { copyFile, lchown, lstat, mkdir, readdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { RunAs } from '../executors/types';
import type { RepoCache } from './cache';
import { gitOk, type GitRun } from './run-git';

export interface WorkspaceCheckout {
  cache: RepoCache;
  /** The stage workspace. */
  workspace: string;
  /** Absolute directory to check out into: the workspace or a directory inside it. */
  target: string;
  sha: string;
  /** Repository URL recorded as the workspace's origin (without credentials). */
  originUrl: string;
  submodules: boolean;
  runAs?: RunAs;
}

/** The URL without user:password@, for .git/config on disk. */
export function withoutUserinfo(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1');
}

export async function checkoutIntoWorkspace(co: WorkspaceCheckout, run: Omit<GitRun, 'cwd'>): Promise<{ reused: boolean }> {
  const owner = co.runAs;
  await mkdir(co.target, { recursive: true, mode: 0o700 });
  if (owner) {
    // The target and the directories created on the way to a configured path belong to the build user.
    for (let d = co.target; d.startsWith(co.workspace) && d !== dirname(co.workspace); d = dirname(d)) await lchown(d, owner.uid, owner.gid);
  }
  // HOME: the agent's private git home is not readable by the build user.
  const asUser = { ...run, cwd: co.target, env: { ...run.env, HOME: co.target }, runAs: owner };
  const reused = await stat(join(co.target, '.git')).then(() => true, () => false);
  await gitOk('creating the workspace repository', ['init', '--quiet'], asUser);
  const packDir = join(co.target, '.git', 'objects', 'pack');
  await gitOk('copying the commit into the workspace', ['pack-objects', '--quiet', '--revs', '--delta-base-offset', join(packDir, 'pack')], {
    ...run,
    cwd: co.cache.dir,
    input: `${co.sha}\n`,
  });
  const shallow = join(co.target, '.git', 'shallow');
  if (await co.cache.isShallow()) await copyFile(join(co.cache.dir, 'shallow'), shallow);
  if (owner) {
    for (const f of await readdir(packDir)) await lchown(join(packDir, f), owner.uid, owner.gid);
    await lchown(shallow, owner.uid, owner.gid).catch(() => {});
  }
  await gitOk('setting the workspace HEAD', ['update-ref', '--no-deref', 'HEAD', co.sha], asUser);
  await gitOk('recording origin', ['config', 'remote.origin.url', withoutUserinfo(co.originUrl)], asUser);
  await gitOk('recording origin', ['config', 'remote.origin.fetch', '+refs/heads/*:refs/remotes/origin/*'], asUser);
  // --reset -u also deletes files of a previous checkout in this directory that the commit does not have.
  await gitOk('checking out the files', ['read-tree', '--reset', '-u', 'HEAD'], asUser);
  // Nothing of an earlier build may leak into this one when the directory was not fresh.
  if (reused) await gitOk('cleaning the workspace', ['clean', '-ffdxq'], asUser);
  if (co.submodules) {
    await gitOk('updating submodules', ['submodule', '--quiet', 'update', '--init', '--recursive', '--force'], { ...run, cwd: co.target });
    if (owner) await chownTree(co.target, owner);
  }
  return { reused };
}

/** Gives a directory tree to the build user (lchown: symlinks of the checkout are not followed). */
export async function chownTree(dir: string, owner: RunAs): Promise<void> {
  const walk = async (p: string): Promise<void> => {
    await lchown(p, owner.uid, owner.gid);
    const st = await lstat(p);
    if (!st.isDirectory()) return;
    const entries = await readdir(p);
    // Bounded parallelism: a 20 MB tree has thousands of files.
    for (let i = 0; i < entries.length; i += 64) await Promise.all(entries.slice(i, i + 64).map((e) => walk(join(p, e))));
  };
  await walk(dir);
}
