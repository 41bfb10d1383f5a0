/**
 * Cleaning a pooled workspace (agent/workspace.ts) between builds of its job, before anything of the new
 * build lands in it (input artifacts, steps): everything outside the checkout directories is removed, and
 * each checkout directory keeps only its repository and the files tracked at its HEAD (`clean -ffdx`);
 * the checkout step's `checkout --force` then resets modified tracked files while writing only the files
 * that changed: nothing of the previous build leaks. (No `reset --hard` here: it would re-read the whole
 * tree a second time, and the checkout step resets anyway.) A repository that is not sound (any git error) is wiped: the
 * checkout step then makes a fresh one.
 * The previous build could write .git: hardenRepo drops everything there but objects, refs, HEAD, index and
 * shallow, and lets git write a fresh config; every git command runs with hooks off and no fsmonitor
 * (credentials.ts gitEnv) and as the build user (as-build-user.ts explains why).
 */
import { lstat, readdir } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { RunAs } from '../executors/types';
import { removeAs } from './as-build-user';
import { gitEnv } from '../../shared/node/git/env';
import { GitAborted, gitOk, type GitRun } from '../../shared/node/git/run';

/** What stays of a reused .git; the rest (hooks, config, info, modules, logs, locks...) is the previous build's. */
const KEEP_IN_GIT = new Set(['HEAD', 'objects', 'refs', 'packed-refs', 'index', 'shallow']);

export interface PrepareOptions {
  workspace: string;
  /** The stage's checkout directories, relative to the workspace ('' = the workspace itself). */
  targets: string[];
  runAs?: RunAs;
  /** Environment for git (credentials.ts gitEnv, no credentials needed). */
  env: Record<string, string>;
  signal?: AbortSignal;
}

/** A checkout step's `path` as a normalised relative directory ('' for the workspace); undefined when unusable. */
export function checkoutTarget(path: unknown): string | undefined {
  if (path === undefined) return '';
  if (typeof path !== 'string' || path.startsWith('/')) return undefined;
  const norm = posix.normalize(path).replace(/\/+$/, '');
  if (norm === '.' || norm === '') return '';
  if (norm.split('/').includes('..')) return undefined;
  return norm;
}

/**
 * Cleans a reused workspace for the next build (see the file comment). Returns log lines worth showing
 * the user (a repository wiped, and why). Throws only for failures to remove files or an abort.
 */
export async function prepareReusedWorkspace(o: PrepareOptions): Promise<string[]> {
  const notes: string[] = [];
  await scrub(o.workspace, o.targets, '', o, notes);
  return notes;
}

async function scrub(dir: string, targets: string[], rel: string, o: PrepareOptions, notes: string[]): Promise<void> {
  if (targets.includes('')) return cleanCheckoutDir(dir, rel, o, notes);
  const keep = new Map<string, string[]>();
  for (const t of targets) {
    const [head, ...rest] = t.split('/');
    keep.set(head, [...(keep.get(head) ?? []), rest.join('/')]);
  }
  const doomed: string[] = [];
  for (const name of await readdir(dir)) {
    const sub = keep.get(name);
    // A symlink is never followed: it is removed like any other file outside the checkout directories.
    if (sub && (await lstat(join(dir, name))).isDirectory()) await scrub(join(dir, name), sub, rel ? `${rel}/${name}` : name, o, notes);
    else doomed.push(name);
  }
  await removeAs(dir, doomed, o.runAs, o.signal);
}

async function cleanCheckoutDir(dir: string, rel: string, o: PrepareOptions, notes: string[]): Promise<void> {
  const where = rel ? `'${rel}'` : 'the workspace';
  const gitDir = await lstat(join(dir, '.git')).catch(() => undefined);
  if (gitDir?.isDirectory()) {
    try {
      const run: GitRun = { cwd: dir, env: { ...o.env, HOME: dir }, runAs: o.runAs, signal: o.signal };
      if (await lstat(join(dir, '.git', 'modules')).then(() => true, () => false)) throw new Error('it has submodules, which are checked out afresh');
      await hardenRepo(dir, run);
      await gitOk('reading HEAD', ['rev-parse', '--quiet', '--verify', 'HEAD^{commit}'], run);
      await gitOk('removing untracked files', ['clean', '-ffdxq'], run);
      return;
    } catch (e) {
      if (e instanceof GitAborted) throw e;
      notes.push(`workspace repository in ${where} not reused (${(e as Error).message.split('\n')[0]}): wiped, the checkout starts afresh`);
    }
  }
  await removeAs(dir, await readdir(dir), o.runAs, o.signal);
}

/**
 * Makes a reused repository's .git safe to run git in: only objects, refs, HEAD, index and shallow are
 * kept (no hooks, alternates, info/attributes, stale locks), a fresh config is written by `git init`, and
 * index flags that would hide local changes (assume-unchanged, skip-worktree) are cleared. run: as the build user.
 */
export async function hardenRepo(dir: string, run: GitRun): Promise<void> {
  const gitDir = join(dir, '.git');
  await removeAs(gitDir, (await readdir(gitDir)).filter((n) => !KEEP_IN_GIT.has(n)), run.runAs, run.signal);
  // objects/info/alternates could borrow objects from elsewhere; pack/ and the loose object dirs are all git needs.
  await removeAs(join(gitDir, 'objects'), ['info'], run.runAs, run.signal);
  await gitOk('resetting the workspace repository config', ['init', '--quiet', '--template='], run);
  const listed = await gitOk('reading the index', ['ls-files', '-v', '-z'], run);
  // Tag 'S' is skip-worktree, a lower-case tag is assume-unchanged.
  const flagged = listed.stdout
    .split('\0')
    .filter((e) => e.length > 2 && (e[0] === 'S' || (e[0] >= 'a' && e[0] <= 'z')))
    .map((e) => e.slice(2));
  if (flagged.length) {
    await gitOk('clearing index flags', ['update-index', '--no-assume-unchanged', '--no-skip-worktree', '-z', '--stdin'], { ...run, input: flagged.join('\0') });
  }
}

/**
 * git's racy-index rule: an index entry whose file was modified in the same second as the index was written
 * is not trusted, so the next checkout re-reads all such files (a whole fresh checkout of 20 MB: ~180 ms
 * instead of ~10 ms). When a pooled workspace is released, this rewrites its index once that second has
 * passed (waiting for the rest of it when the build was that short), as the build user in a hardened
 * repository, so the job's next checkout only stats the files. Best effort: any failure is left to the next
 * build's clean, which checks the repository anyway.
 */
export async function settleIndex(dir: string, runAs: RunAs | undefined): Promise<void> {
  const index = await lstat(join(dir, '.git', 'index')).catch(() => undefined);
  if (!index?.isFile()) return;
  const wait = index.mtimeMs + RACY_WINDOW_MS - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, Math.min(wait, RACY_WINDOW_MS)));
  const g = await gitEnv({ url: `file://${dir}` });
  try {
    const run: GitRun = { cwd: dir, env: { ...g.env, HOME: dir }, runAs, signal: AbortSignal.timeout(60_000) };
    await hardenRepo(dir, run);
    await gitOk('refreshing the index', ['update-index', '-q', '--refresh'], run);
  } finally {
    await g.cleanup();
  }
}

/** Timestamps in the index have one-second granularity on this git build. */
const RACY_WINDOW_MS = 1100;
