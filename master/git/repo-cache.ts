/**
 * The master's bare cache of each repository (`<dataDir>/git-cache/<sha256 of the normalised URL>`), used
 * to list the files a push changed when its payload does not say (generic pushes without files, polls,
 * GitLab pushes over 20 commits). Fetches are incremental (the cache keeps what earlier fetches got) and
 * serialised per repository: two diffs of one repository never run git in the same directory at once.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { assertSafeRef, assertSafeRepoUrl, normalizeRepoUrl, SHA_RE, ZERO_SHA_RE } from '../../shared/git';
import { badRequest } from '../../shared/errors';
import { gitEnv, type GitEnv } from '../../shared/node/git/env';
import { git, GitError, gitOk, type GitRun } from '../../shared/node/git/run';

/**
 * Git of the master's caches: the shared runner, bounded in time (a remote that does not answer must not
 * keep a diff forever); errors on one line (they end up in one-line trigger reasons and logs).
 */
export async function runGit(args: string[], auth: Pick<GitEnv, 'env' | 'secrets'>, opts: Pick<GitRun, 'cwd' | 'timeoutMs'> = {}): Promise<string> {
  try {
    return (await gitOk(`git ${args[0]}`, args, { env: auth.env, secrets: auth.secrets, timeoutMs: 60_000, ...opts })).stdout;
  } catch (e) {
    if (e instanceof GitError) throw new GitError(e.message.replace(/\s*\n\s*/g, ' | '), e.output);
    throw e;
  }
}

export interface DiffRequest {
  url: string;
  credential?: string;
  /** known_hosts lines trusted for SSH URLs (the job's repo.knownHosts). */
  knownHosts?: string;
  /** Full ref of the push (refs/heads/main): fetched as a fallback when the server refuses a sha. */
  ref: string;
  sha: string;
  /** Commit to diff against: the push's `before`, or the job's previous built commit; none -> null. */
  base?: string | null;
}

/**
 * One git operation at a time per cache directory, across every RepoCache of the process: the poller, the
 * webhook path checks and head resolution each hold their own MasterGit, but share the directories.
 */
const locks = new Map<string, Promise<unknown>>();

export class RepoCache {
  constructor(private readonly root: string) {}

  /** Where the bare cache of `url` lives. */
  dirFor(url: string): string {
    return join(this.root, createHash('sha256').update(normalizeRepoUrl(url)).digest('hex').slice(0, 32));
  }

  /**
   * Files changed between `base` and `sha` (`git diff --name-only`, renames as delete + add), or null when
   * that cannot be known: no base, an all-zero base (new branch) or a base the remote no longer has
   * (force push). Callers treat null as "every file changed". Throws on an unsafe URL, ref or sha, and when
   * the remote cannot be reached.
   */
  changedFiles(req: DiffRequest): Promise<string[] | null> {
    assertSafeRepoUrl(req.url);
    assertSafeRef(req.ref);
    if (!SHA_RE.test(req.sha)) throw badRequest(`sha '${req.sha}' is not a full commit id`);
    const base = req.base && !ZERO_SHA_RE.test(req.base) ? req.base : null;
    if (base && !SHA_RE.test(base)) throw badRequest(`base '${base}' is not a full commit id`);
    if (!base) return Promise.resolve(null);
    const dir = this.dirFor(req.url);
    return this.serialised(dir, async () => {
      const auth = await gitEnv({ url: req.url, credential: req.credential, knownHosts: req.knownHosts });
      try {
        await this.ensureRepo(dir, auth);
        await this.fetch(dir, auth, req, [req.sha, base]);
        if (!(await this.hasCommit(dir, auth, base))) return null;
        const out = await runGit(['diff', '--name-only', '--no-renames', '-z', base, req.sha, '--'], auth, { cwd: dir });
        return out.split('\0').filter(Boolean);
      } finally {
        await auth.cleanup();
      }
    });
  }

  private async ensureRepo(dir: string, auth: GitEnv): Promise<void> {
    if (existsSync(join(dir, 'HEAD'))) return;
    mkdirSync(dir, { recursive: true });
    await runGit(['init', '--bare', '--quiet', dir], auth);
  }

  /**
   * Fetches the commits by sha (GitHub, GitLab and git >= 2.x over protocol v2 allow it); when the server
   * refuses, fetches the ref instead, which brings the head and, usually, the base.
   */
  private async fetch(dir: string, auth: GitEnv, req: DiffRequest, shas: string[]): Promise<void> {
    const missing: string[] = [];
    for (const s of shas) if (!(await this.hasCommit(dir, auth, s))) missing.push(s);
    if (!missing.length) return;
    const opts = { cwd: dir, timeoutMs: 120_000 };
    try {
      await runGit(['fetch', '--quiet', '--no-tags', '--no-write-fetch-head', '--', req.url, ...missing], auth, opts);
    } catch {
      const local = `refs/slipway/${req.ref.replace(/^refs\//, '')}`;
      await runGit(['fetch', '--quiet', '--no-tags', '--no-write-fetch-head', '--', req.url, `+${req.ref}:${local}`], auth, opts);
      if (!(await this.hasCommit(dir, auth, req.sha))) throw badRequest(`commit ${req.sha} is not on ${req.ref} of ${normalizeRepoUrl(req.url)}`);
    }
  }

  private async hasCommit(dir: string, auth: GitEnv, sha: string): Promise<boolean> {
    return (await git(['cat-file', '-e', `${sha}^{commit}`], { cwd: dir, env: auth.env, secrets: auth.secrets, timeoutMs: 60_000 })).code === 0;
  }

  private serialised<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = locks.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    locks.set(key, tail);
    void tail.then(() => {
      if (locks.get(key) === tail) locks.delete(key);
    });
    return next;
  }
}
