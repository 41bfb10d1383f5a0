/**
 * The agent's per-job repository cache: a bare repository at `<workDir>/git-cache/<cacheKey>` (root-only
 * 0700 dir: build steps never read it) that keeps the objects of earlier builds, so the next build of the job
 * fetches only new objects. Commands on one cache run one at a time (withLock): git's own locks would fail a
 * concurrent fetch ("shallow.lock exists") instead of waiting. The lock is per agent process; each agent has
 * its own workDir.
 */
import { chmod, mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { git, gitOk, type GitRun } from '../../shared/node/git/run';

const locks = new Map<string, Promise<unknown>>();
const STALE_LOCKS = ['shallow.lock', 'packed-refs.lock', 'config.lock', 'refs/slipway/last.lock', 'refs/slipway/ref.lock', 'refs/slipway/previous.lock'];

/** How fetchExact got the commit. */
export interface FetchOutcome {
  how: 'cached' | 'sha' | 'ref';
  /** Objects the cache gained (loose plus packed). */
  objects: number;
  /** Whether the cache already held objects of this job before (an incremental fetch). */
  warm: boolean;
}

export interface FetchRequest {
  url: string;
  sha: string;
  ref: string;
  /** 0 = whole history. */
  depth: number;
  /**
   * For a local repository: the upload-pack command that reads it (uploadPackAs: as the build user), so the
   * repository is read with the build user's rights while the cache is written by the agent.
   */
  uploadPack?: string;
}

/**
 * The `--upload-pack` command that serves a local repository to a fetch as `runAs` (setpriv, util-linux):
 * git runs upload-pack itself for path and file:// URLs, so without this the agent (root) would read any
 * repository on the host. safe.directory: the repository belongs to someone else; git drops GIT_CONFIG_*
 * for local transports, so it is given on upload-pack's own command line. HOME: the agent's private git
 * home is not readable by the build user.
 */
export function uploadPackAs(runAs: { uid: number; gid: number }): string {
  if (!Number.isInteger(runAs.uid) || !Number.isInteger(runAs.gid)) throw new Error('build user ids must be integers');
  return `setpriv --reuid=${runAs.uid} --regid=${runAs.gid} --clear-groups env HOME=/nonexistent git -c safe.directory='*' upload-pack`;
}

/** The ref that keeps the last fetched commit (and so its objects) alive in the cache. */
const KEEP_REF = 'refs/slipway/last';

export class RepoCache {
  private constructor(
    readonly dir: string,
    private readonly env: Record<string, string>,
  ) {}

  /** The cache of one job under workDir; the repository itself is created by the first withLock. */
  static async open(workDir: string, cacheKey: string, env: Record<string, string>): Promise<RepoCache> {
    if (!/^[A-Za-z0-9._-]+$/.test(cacheKey) || cacheKey.startsWith('.')) throw new Error(`source.cacheKey '${cacheKey}' is not a safe directory name`);
    const root = join(workDir, 'git-cache');
    await mkdir(root, { recursive: true, mode: 0o700 });
    await chmod(root, 0o700);
    return new RepoCache(join(root, cacheKey), env);
  }

  /** Creates the bare repository when missing (called holding the lock: concurrent inits collide). */
  private async ensure(): Promise<void> {
    if (await stat(join(this.dir, 'HEAD')).then(() => true, () => false)) return;
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    // No template: sample hooks are of no use in a cache.
    await gitOk('creating the repository cache', ['init', '--quiet', '--bare', '--template='], { cwd: this.dir, env: this.env });
  }

  /** Runs fn with this cache to itself (other builds of the same job wait). */
  async withLock<T>(fn: () => Promise<T>): Promise<T> {
    const previous = locks.get(this.dir) ?? Promise.resolve();
    const mine = previous
      .catch(() => {})
      .then(async () => {
        // Holding the lock, any git lock file left in the cache is from a process killed mid-fetch.
        await Promise.all(STALE_LOCKS.map((f) => rm(join(this.dir, f), { force: true })));
        await this.ensure();
        return fn();
      });
    const tail = mine.catch(() => {});
    locks.set(this.dir, tail);
    try {
      return await mine;
    } finally {
      if (locks.get(this.dir) === tail) locks.delete(this.dir);
    }
  }

  async has(sha: string, run: Omit<GitRun, 'cwd'>): Promise<boolean> {
    const r = await git(['cat-file', '-e', '--end-of-options', `${sha}^{commit}`], { ...run, cwd: this.dir });
    return r.code === 0;
  }

  async isShallow(): Promise<boolean> {
    return stat(join(this.dir, 'shallow')).then(() => true, () => false);
  }

  async objectCount(run: Omit<GitRun, 'cwd'>): Promise<number> {
    const r = await gitOk('counting cache objects', ['count-objects', '-v'], { ...run, cwd: this.dir });
    const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(r.stdout)?.[1] ?? 0);
    return field('count') + field('in-pack');
  }

  /**
   * Makes exactly req.sha present in the cache: fetch it by sha (shallow when depth > 0); when the server
   * refuses wants of unadvertised commits (uploadpack.allowReachableSHA1InWant off), fetch req.ref and
   * deepen until the sha is there. Never checks out "whatever the branch is now": the result is req.sha or an error.
   */
  async fetchExact(req: FetchRequest, run: Omit<GitRun, 'cwd'>, onFallback: (why: string) => void): Promise<FetchOutcome> {
    const r = { ...run, cwd: this.dir };
    const before = await this.objectCount(run);
    const warm = before > 0;
    if (await this.has(req.sha, run)) {
      await this.keep(req.sha, run);
      return { how: 'cached', objects: 0, warm };
    }
    const depthArgs = req.depth > 0 ? ['--depth', String(req.depth)] : (await this.isShallow()) ? ['--unshallow'] : [];
    const base = ['fetch', '--quiet', '--no-tags', '--no-write-fetch-head', '--no-recurse-submodules', ...(req.uploadPack ? ['--upload-pack', req.uploadPack] : [])];
    const bySha = await git([...base, ...depthArgs, '--end-of-options', req.url, `+${req.sha}:${KEEP_REF}`], r);
    if (bySha.code === 0 && (await this.has(req.sha, run))) {
      return { how: 'sha', objects: (await this.objectCount(run)) - before, warm };
    }
    const lines = bySha.stderr.trim().split('\n');
    onFallback(lines.find((l) => /^(fatal|error):/.test(l)) ?? (lines.pop() || `git exit ${bySha.code}`));
    await gitOk(`fetching source.ref '${req.ref}'`, [...base, ...depthArgs, '--end-of-options', req.url, `+${req.ref}:refs/slipway/ref`], r);
    // Deepen in growing steps until the build's commit is reached (it may be older than the ref's tip).
    for (let step = Math.max(req.depth, 1) * 8; !(await this.has(req.sha, run)); step *= 4) {
      if (!(await this.isShallow())) throw new Error(`source.sha ${req.sha} is not reachable from source.ref '${req.ref}' of the repository`);
      const deepen = step > 4096 ? ['--unshallow'] : [`--deepen=${step}`];
      await gitOk(`deepening source.ref '${req.ref}'`, [...base, ...deepen, '--end-of-options', req.url, `+${req.ref}:refs/slipway/ref`], r);
    }
    await this.keep(req.sha, run);
    return { how: 'ref', objects: (await this.objectCount(run)) - before, warm };
  }

  /** Fetches one more commit (depth 1) by sha, for diffs against the previous build; false when the server refuses. */
  async fetchOne(url: string, sha: string, run: Omit<GitRun, 'cwd'>, uploadPack?: string): Promise<boolean> {
    if (await this.has(sha, run)) return true;
    const r = await git(
      ['fetch', '--quiet', '--no-tags', '--no-write-fetch-head', '--depth', '1', ...(uploadPack ? ['--upload-pack', uploadPack] : []), '--end-of-options', url, `+${sha}:refs/slipway/previous`],
      { ...run, cwd: this.dir },
    );
    return r.code === 0 && (await this.has(sha, run));
  }

  private async keep(sha: string, run: Omit<GitRun, 'cwd'>): Promise<void> {
    await gitOk('keeping the commit in the cache', ['update-ref', '--no-deref', KEEP_REF, sha], { ...run, cwd: this.dir });
  }

  /** Author ("Name <email>") and full message of a commit in the cache. */
  async commitInfo(sha: string): Promise<{ author: string; message: string }> {
    const out = (await gitOk('reading the commit', ['log', '-1', '--no-show-signature', '--format=%an <%ae>%x00%B', '--end-of-options', sha, '--'], { cwd: this.dir, env: this.env })).stdout;
    const nul = out.indexOf('\0');
    return { author: out.slice(0, nul).slice(0, 512), message: out.slice(nul + 1).replace(/\n+$/, '').slice(0, 65536) };
  }

  /** Paths that differ between two commits present in the cache (both trees are there even when shallow). */
  async changedFiles(from: string, to: string): Promise<string[]> {
    const out = (await gitOk('listing changed files', ['diff', '--name-only', '--no-renames', '-z', '--end-of-options', from, to, '--'], { cwd: this.dir, env: this.env })).stdout;
    return out.split('\0').filter((p) => p && p.length <= 4096).slice(0, 100_000);
  }
}
