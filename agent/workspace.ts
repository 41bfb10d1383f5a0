/**
 * Workspaces. A stage run without a repository gets a fresh directory
 * `<workDir>/builds/<buildId>-<stageRunId>` (mode 0700), removed when the stage ends. A stage run with a
 * checkout (assign.source) gets a pooled workspace of its job, `<workDir>/jobs/<cacheKey>/ws-<n>`, reused by
 * the job's next build so that an incremental checkout writes only changed files (agent/git/workspace-reuse.ts
 * cleans it): ws-0 for the first build running, ws-1 for a concurrent second one (Jenkins' `@2`), each locked
 * while in use and kept afterwards. Pooled workspaces unused for more than `retentionDays` are removed at open
 * and daily after.
 * When the agent runs as root, each job has its own unprivileged build user (build-users.ts) who owns that
 * job's workspaces (0700); workDir, builds/, jobs/ and jobs/<cacheKey>/ are 0711 root, so a build user can
 * enter its own workspace but list none, and cannot read anything the agent keeps there. Builds of different
 * jobs cannot read each other's workspaces even when they guess the paths; builds of the same job share a
 * user (they share the pooled workspaces anyway).
 * The agent never walks a build user's tree with root's privileges: removals run as the directory's owner
 * (removeOwnedTree), and a fresh workspace stays root's until the input artifacts root wrote are handed over.
 */
import { chmod, chown, lchown, lstat, mkdir, readdir, rm, rmdir, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import type { BuildUsers } from './build-users';
import type { RunAs } from './executors/types';
import { removeOwnedTree } from './git/as-build-user';
import { settleIndex } from './git/workspace-reuse';

/** Default of --workspace-days / SLIPWAY_WORKSPACE_DAYS. */
export const DEFAULT_WORKSPACE_DAYS = 7;
const DAY_MS = 24 * 60 * 60 * 1000;
const CACHE_KEY_RE = /^[A-Za-z0-9._-]+$/;

/** A pooled workspace held by one stage run; release() frees it for the job's next build (it is not removed). */
export interface PooledWorkspace {
  dir: string;
  /** n of ws-<n>. */
  index: number;
  /** The job's build user who owns dir (undefined when the agent is not root). */
  owner: RunAs | undefined;
  /** Set when acquire found the workspace owned by another user and recreated it empty (the old owner's uid). */
  recreatedFrom?: number;
  release(): Promise<void>;
}

export interface WorkspacesOptions {
  /** Pooled workspaces unused for longer are removed (at open, then daily); default DEFAULT_WORKSPACE_DAYS. */
  retentionDays?: number;
  /** Called with what the retention sweep removed or failed to remove. */
  onSweep?: (removed: string[], error?: Error) => void;
}

/** SLIPWAY_WORKSPACE_DAYS as a number of days (> 0), or the default; throws naming the variable when malformed. */
export function workspaceDaysFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.SLIPWAY_WORKSPACE_DAYS;
  if (raw === undefined || raw === '') return DEFAULT_WORKSPACE_DAYS;
  const days = Number(raw);
  if (!(days > 0)) throw new Error(`SLIPWAY_WORKSPACE_DAYS must be a number of days > 0, got ${JSON.stringify(raw)}`);
  return days;
}

export class Workspaces {
  /** Pooled workspace directories held by a stage run of this agent (each agent has its own workDir). */
  private readonly inUse = new Set<string>();
  /** Pooled workspaces being released (index settling, see settleIndex), with the promise of that release. */
  private readonly settling = new Map<string, Promise<void>>();
  private sweepTimer: NodeJS.Timeout | undefined;

  private constructor(
    readonly workDir: string,
    /** The per-job build users when the agent runs as root; undefined otherwise. */
    readonly users: BuildUsers | undefined,
    readonly retentionDays: number,
  ) {}

  /**
   * Creates workDir, builds/ and jobs/ (0711 when root, so builds cannot list each other), removes pooled
   * workspaces older than the retention, and schedules that sweep daily (an unref'd timer; close() stops it).
   */
  static async open(workDir: string, users: BuildUsers | undefined, opts: WorkspacesOptions = {}): Promise<Workspaces> {
    const retentionDays = opts.retentionDays ?? workspaceDaysFromEnv();
    if (!(retentionDays > 0)) throw new Error(`workspace retention must be > 0 days, got ${retentionDays}`);
    const builds = join(workDir, 'builds');
    const jobs = join(workDir, 'jobs');
    await mkdir(builds, { recursive: true, mode: 0o711 });
    await mkdir(jobs, { recursive: true, mode: 0o711 });
    await chmod(workDir, users ? 0o711 : 0o700);
    await chmod(builds, 0o711);
    await chmod(jobs, 0o711);
    const ws = new Workspaces(workDir, users, retentionDays);
    const sweep = () =>
      ws.sweep().then(
        (removed) => opts.onSweep?.(removed),
        (e: Error) => opts.onSweep?.([], e),
      );
    await sweep();
    ws.sweepTimer = setInterval(() => void sweep(), DAY_MS);
    ws.sweepTimer.unref();
    return ws;
  }

  /** Stops the daily retention sweep. */
  close(): void {
    clearInterval(this.sweepTimer);
  }

  /** The build user of a job (created on first use) when the agent is root; undefined otherwise. */
  async userFor(jobId: number): Promise<RunAs | undefined> {
    return this.users?.forJob(jobId);
  }

  /**
   * The lowest-numbered free pooled workspace of the job, created (0700, owned by `owner`) when missing, held
   * until release(). Its content is whatever the job's previous build left: the caller cleans it before use.
   * A workspace owned by anyone but `owner` (another job's user, or `slipway-build` of older agents) is
   * removed as its owner and recreated empty: the job's user must not inherit or keep files of another user.
   */
  async acquire(cacheKey: string, owner: RunAs | undefined): Promise<PooledWorkspace> {
    if (!CACHE_KEY_RE.test(cacheKey) || cacheKey.startsWith('.')) throw new Error(`source.cacheKey '${cacheKey}' is not a safe directory name`);
    const jobDir = join(this.workDir, 'jobs', cacheKey);
    // A workspace of this job still settling after its build is worth the wait: another number would mean
    // a full checkout instead of an incremental one.
    const settling = [...this.settling].find(([d]) => d.startsWith(`${jobDir}/`));
    if (settling) await settling[1];
    let index = 0;
    while (this.inUse.has(join(jobDir, `ws-${index}`))) index++;
    const dir = join(jobDir, `ws-${index}`);
    // Claimed before the first await: a concurrent acquire of the same job takes the next number.
    this.inUse.add(dir);
    let recreatedFrom: number | undefined;
    try {
      await mkdir(jobDir, { recursive: true, mode: 0o711 });
      await chmod(jobDir, 0o711);
      let st = await lstat(dir).catch(() => undefined);
      // jobs/<cacheKey> is root's, so only the agent itself could have put something else there.
      if (st && !st.isDirectory()) await rm(dir, { force: true });
      else if (st && owner && (st.uid !== owner.uid || st.gid !== owner.gid)) {
        recreatedFrom = st.uid;
        await removeOwnedTree(dir);
        st = undefined;
      }
      if (!st?.isDirectory()) await mkdir(dir, { mode: 0o700 });
      await chmod(dir, 0o700);
      if (owner) await chown(dir, owner.uid, owner.gid);
      await this.touch(dir);
    } catch (e) {
      this.inUse.delete(dir);
      throw e;
    }
    let released = false;
    return {
      dir,
      index,
      owner,
      recreatedFrom,
      release: async () => {
        if (released) return;
        released = true;
        const done = (async () => {
          await settleIndex(dir, owner).catch(() => {});
          await this.touch(dir).catch(() => {});
        })();
        this.settling.set(dir, done);
        try {
          await done;
        } finally {
          this.settling.delete(dir);
          this.inUse.delete(dir);
        }
      },
    };
  }

  /**
   * Empties a pooled workspace the build user could not clean (e.g. files it cannot remove): removed as its
   * owner (never walked by root), then recreated for pooled.owner; its parent is root's, so the path cannot be
   * redirected.
   */
  async wipe(pooled: PooledWorkspace): Promise<void> {
    await removeOwnedTree(pooled.dir);
    await mkdir(pooled.dir, { mode: 0o700 });
    await chmod(pooled.dir, 0o700);
    if (pooled.owner) await chown(pooled.dir, pooled.owner.uid, pooled.owner.gid);
  }

  /** The retention clock: a pooled workspace's own mtime, set by the agent on acquire and release. */
  private async touch(dir: string): Promise<void> {
    const now = new Date();
    await utimes(dir, now, now);
  }

  /** Removes pooled workspaces not in use whose last use is older than the retention; returns their paths. */
  async sweep(now = Date.now()): Promise<string[]> {
    const jobs = join(this.workDir, 'jobs');
    const removed: string[] = [];
    for (const key of await readdir(jobs).catch(() => [] as string[])) {
      const jobDir = join(jobs, key);
      const entries = await readdir(jobDir).catch(() => [] as string[]);
      let left = entries.length;
      for (const name of entries) {
        const dir = join(jobDir, name);
        if (!/^ws-\d+$/.test(name) || this.inUse.has(dir)) continue;
        const st = await lstat(dir).catch(() => undefined);
        if (!st || now - st.mtimeMs <= this.retentionDays * DAY_MS || this.inUse.has(dir)) continue;
        // Held while it is removed: an acquire meanwhile takes another number.
        this.inUse.add(dir);
        try {
          await removeOwnedTree(dir);
        } finally {
          this.inUse.delete(dir);
        }
        removed.push(dir);
        left--;
      }
      const held = [...this.inUse].some((d) => d.startsWith(`${jobDir}/`));
      if (left === 0 && !held) await rmdir(jobDir).catch(() => {});
    }
    return removed;
  }

  pathFor(buildId: number, stageRunId: number): string {
    return join(this.workDir, 'builds', `${buildId}-${stageRunId}`);
  }

  /**
   * A fresh, empty workspace (a stale one from a crashed run is removed first), mode 0700 and still root's
   * when the agent is root: the agent writes input artifacts into it, then handOver() gives it to the job's
   * user. Until then no build user can reach it, so nothing can be planted where root writes.
   */
  async create(buildId: number, stageRunId: number): Promise<string> {
    const dir = this.pathFor(buildId, stageRunId);
    await removeOwnedTree(dir);
    await mkdir(dir, { mode: 0o700 });
    await chmod(dir, 0o700);
    return dir;
  }

  /**
   * Gives a directory the agent filled itself (fresh workspace, staging dir) to the build user: children
   * first, dir itself last, with lchown, so the user gets no access before the walk is over.
   */
  async handOver(dir: string, owner: RunAs | undefined): Promise<void> {
    if (!owner) return;
    const { uid, gid } = owner;
    const walk = async (p: string): Promise<void> => {
      const st = await lstat(p);
      if (st.isDirectory()) for (const e of await readdir(p)) await walk(join(p, e));
      await lchown(p, uid, gid);
    };
    await walk(dir);
  }

  /** Removes a workspace (as its owner, see removeOwnedTree); a missing one is not an error. */
  async remove(dir: string): Promise<void> {
    await removeOwnedTree(dir);
  }
}
