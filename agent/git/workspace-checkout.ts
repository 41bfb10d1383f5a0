/**
 * Puts exactly one commit of the repository cache into a workspace directory: a small git repository of
 * its own (so steps can run `git log`, `git describe` within the fetched depth) whose objects come straight
 * from the cache as one pack written by `git pack-objects` (reusing the cache's compressed objects: no second
 * fetch, no index-pack), then the files of that commit, then submodules.
 * In a reused directory (a pooled workspace, cleaned by workspace-reuse.ts) the pack holds only the objects
 * the workspace lacks (`^<old HEAD>`) and `git checkout --force` writes only the files that changed; a
 * repository that fails there in any way is wiped and checked out afresh (the reason goes to the log).
 * The workspace never points into the cache (no alternates, no worktree link), so the cache stays unreadable
 * for build steps. Everything that writes the workspace runs as the build user (pack files are written by
 * `cat` as that user from a root-only temp dir), so its files are the build user's without a chown pass and
 * a planted symlink cannot make root write elsewhere; only pack-objects (reads the cache) and submodules
 * (need the credentials) run as the agent.
 */
import { chmod, lchown, lstat, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { RunAs } from '../executors/types';
import { copyInAs, removeAs } from './as-build-user';
import type { RepoCache } from './cache';
import { GitAborted, git, gitOk, runCommand, type GitRun } from '../../shared/node/git/run';
import { hardenRepo } from './workspace-reuse';
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
  /**
   * Set for a local repository (cache.ts uploadPackAs): its submodules are then updated as the build user,
   * since git would clone local ones with the agent's rights otherwise.
   */
  uploadPack?: string;
}

/** The URL without user:password@, for .git/config on disk. */
export function withoutUserinfo(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1');
}

/** How the checkout went: into a reused repository (incremental), or afresh (wiped: why the reused one was dropped). */
export interface CheckoutOutcome {
  reused: boolean;
  wiped?: string;
}

export async function checkoutIntoWorkspace(co: WorkspaceCheckout, run: Omit<GitRun, 'cwd'>): Promise<CheckoutOutcome> {
  const owner = co.runAs;
  await mkdir(co.target, { recursive: true, mode: 0o700 });
  if (owner) {
    // The target and the directories created on the way to a configured path belong to the build user.
    for (let d = co.target; d.startsWith(co.workspace) && d !== dirname(co.workspace); d = dirname(d)) await lchown(d, owner.uid, owner.gid);
  }
  // HOME: the agent's private git home is not readable by the build user.
  const asUser: GitRun = { ...run, cwd: co.target, env: { ...run.env, HOME: co.target }, runAs: owner };
  const dotGit = await lstat(join(co.target, '.git')).catch(() => undefined);
  let wiped: string | undefined;
  if (dotGit?.isDirectory()) {
    try {
      await checkoutReused(co, run, asUser);
      return { reused: true };
    } catch (e) {
      if (e instanceof GitAborted) throw e;
      wiped = (e as Error).message.split('\n')[0];
      await removeAs(co.target, await readdir(co.target), owner, run.signal);
    }
  } else if (dotGit) {
    await removeAs(co.target, ['.git'], owner, run.signal);
  }
  await checkoutFresh(co, run, asUser);
  return { reused: false, wiped };
}

async function checkoutFresh(co: WorkspaceCheckout, run: Omit<GitRun, 'cwd'>, asUser: GitRun): Promise<void> {
  await gitOk('creating the workspace repository', ['init', '--quiet', '--template='], asUser);
  await copyObjects(co, run, asUser, undefined);
  await gitOk('setting the workspace HEAD', ['update-ref', '--no-deref', 'HEAD', co.sha], asUser);
  await recordOrigin(co, asUser);
  // --reset -u also replaces files already in the directory (e.g. input artifacts the commit has too).
  await gitOk('checking out the files', ['read-tree', '--reset', '-u', 'HEAD'], asUser);
  await updateSubmodules(co, run);
}

/** Incremental: new objects only, then a two-tree checkout that rewrites only what differs. */
async function checkoutReused(co: WorkspaceCheckout, run: Omit<GitRun, 'cwd'>, asUser: GitRun): Promise<void> {
  await hardenRepo(co.target, asUser);
  const old = (await gitOk('reading the workspace HEAD', ['rev-parse', '--quiet', '--verify', 'HEAD^{commit}'], asUser)).stdout.trim();
  const present = (await git(['cat-file', '-e', '--end-of-options', `${co.sha}^{commit}`], asUser)).code === 0;
  if (!present) await copyObjects(co, run, asUser, (await co.cache.has(old, run)) ? old : undefined);
  await recordOrigin(co, asUser);
  await gitOk('checking out the files', ['checkout', '--quiet', '--force', '--no-recurse-submodules', '--detach', co.sha, '--'], asUser);
  await updateSubmodules(co, run);
}

/**
 * Copies the objects of co.sha (minus those reachable from `since`, which the workspace has) from the cache:
 * pack-objects writes the pack and its index into a root-only temp dir next to the cache, the build user copies them in.
 */
async function copyObjects(co: WorkspaceCheckout, run: Omit<GitRun, 'cwd'>, asUser: GitRun, since: string | undefined): Promise<void> {
  const tmp = await mkdtemp(join(dirname(co.cache.dir), '.pack-'));
  try {
    const out = await gitOk('copying the commit into the workspace', [
      // No fsync: the temp pack is copied right away, and a workspace is disposable.
      '-c',
      'core.fsync=none',
      'pack-objects',
      '--quiet',
      '--revs',
      '--delta-base-offset',
      join(tmp, 'pack'),
    ], {
      ...run,
      cwd: co.cache.dir,
      // ^<tree> too: in a shallow cache the new commit has no parent, so `^<commit>` alone would not mark the
      // old tree's objects as present and the whole tree would be packed again.
      input: since ? `${co.sha}\n^${since}\n^${since}^{tree}\n` : `${co.sha}\n`,
    });
    const name = `pack-${out.stdout.trim()}`;
    const packDir = join(co.target, '.git', 'objects', 'pack');
    await mkdirAs(packDir, asUser);
    // The index last: git only sees a pack once its .idx is there.
    await copyInAs(join(tmp, `${name}.pack`), join(packDir, `${name}.pack`), co.runAs);
    await copyInAs(join(tmp, `${name}.idx`), join(packDir, `${name}.idx`), co.runAs);
    if (await co.cache.isShallow()) await copyInAs(join(co.cache.dir, 'shallow'), join(co.target, '.git', 'shallow'), co.runAs);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

async function mkdirAs(dir: string, asUser: GitRun): Promise<void> {
  const r = await runCommand('mkdir', ['-p', '--', dir], asUser);
  if (r.code !== 0) throw new Error(`creating ${dir} failed: ${r.stderr.trim()}`);
}

async function recordOrigin(co: WorkspaceCheckout, asUser: GitRun): Promise<void> {
  await gitOk('recording origin', ['config', 'remote.origin.url', withoutUserinfo(co.originUrl)], asUser);
  await gitOk('recording origin', ['config', 'remote.origin.fetch', '+refs/heads/*:refs/remotes/origin/*'], asUser);
}

async function updateSubmodules(co: WorkspaceCheckout, run: Omit<GitRun, 'cwd'>): Promise<void> {
  if (!co.submodules) return;
  if (co.uploadPack && co.runAs) {
    // Submodules of a local repository may be local too, and git clones them with its own rights: run the
    // whole update as the build user (its workspace already), so it reads only what that user may read.
    // SSH submodules of a local repository then fail: the key and known_hosts stay root-only.
    // The submodules' repositories belong to someone else (safe.directory), and git drops GIT_CONFIG_* for
    // the upload-pack of a local transport: only a global config file reaches it.
    const cfgDir = await mkdtemp(join(tmpdir(), 'slipway-subcfg-'));
    try {
      await chmod(cfgDir, 0o755);
      await writeFile(join(cfgDir, 'gitconfig'), '[safe]\n\tdirectory = *\n', { mode: 0o644 });
      const env = { ...run.env, HOME: co.target, GIT_CONFIG_GLOBAL: join(cfgDir, 'gitconfig') };
      await gitOk('updating submodules', ['submodule', '--quiet', 'update', '--init', '--recursive', '--force'], { ...run, env, cwd: co.target, runAs: co.runAs });
    } finally {
      await rm(cfgDir, { recursive: true, force: true });
    }
    return;
  }
  await gitOk('updating submodules', ['submodule', '--quiet', 'update', '--init', '--recursive', '--force'], { ...run, cwd: co.target });
  if (co.runAs) await chownTree(co.target, co.runAs);
}

/**
 * Gives a directory tree (written by root: submodules) to the job's build user. GNU `chown -R -P` walks with
 * descriptors and never follows symlinks, so a directory swapped for a symlink during the walk cannot make
 * root give away files outside the tree (a path-based lstat-then-readdir walk could be raced that way).
 */
export async function chownTree(dir: string, owner: RunAs): Promise<void> {
  const r = await runCommand('chown', ['-R', '-P', '--no-dereference', '--', `${owner.uid}:${owner.gid}`, dir], { cwd: '/', env: { PATH: '/usr/bin:/bin', LANG: 'C' } });
  if (r.code !== 0) throw new Error(`giving ${dir} to the build user failed: ${r.stderr.trim().split('\n').slice(-2).join('; ')}`);
}
