/**
 * Workspaces and the build user. A stage run without a repository gets a fresh directory
 * `<workDir>/builds/<buildId>-<stageRunId>` (mode 0700), removed when the stage ends. A stage run with a
 * checkout (assign.source) gets a pooled workspace of its job, `<workDir>/jobs/<cacheKey>/ws-<n>`, reused by
 * the job's next build so that an incremental checkout writes only changed files (agent/git/workspace-reuse.ts
 * cleans it): ws-0 for the first build running, ws-1 for a concurrent second one (Jenkins' `@2`), each locked
 * while in use and kept afterwards. Pooled workspaces unused for more than `retentionDays` are removed at open
 * and daily after.
 * When the agent runs as root, steps run as the unprivileged user `slipway-build` (created with
 * `useradd --system` when missing) who owns the workspaces; workDir, builds/, jobs/ and jobs/<cacheKey>/ are
 * 0711 root, so the build user can enter a workspace but not list any, and cannot read anything the agent
 * keeps there. Limit: all builds share that one user, so a step that learns another workspace's path could
 * read it (pooled workspaces live longer than fresh ones, so that window is longer).
 */
import { execFileSync } from 'node:child_process';
import { chmod, chown, lstat, mkdir, readdir, rm, rmdir, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunAs } from './executors/types';

/** Default of --workspace-days / SLIPWAY_WORKSPACE_DAYS. */
export const DEFAULT_WORKSPACE_DAYS = 7;
const DAY_MS = 24 * 60 * 60 * 1000;
const CACHE_KEY_RE = /^[A-Za-z0-9._-]+$/;

/** A pooled workspace held by one stage run; release() frees it for the job's next build (it is not removed). */
export interface PooledWorkspace {
  dir: string;
  /** n of ws-<n>. */
  index: number;
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

export const BUILD_USER = 'slipway-build';

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** The build user's uid/gid when the agent runs as root (created if missing); undefined otherwise. */
export function ensureBuildUser(): RunAs | undefined {
  if (!isRoot()) return undefined;
  const lookup = (): RunAs | undefined => {
    try {
      const uid = Number(execFileSync('id', ['-u', BUILD_USER], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
      const gid = Number(execFileSync('id', ['-g', BUILD_USER], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
      return { uid, gid };
    } catch {
      return undefined;
    }
  };
  const found = lookup();
  if (found) return found;
  try {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', BUILD_USER], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  } catch (e) {
    // Another agent on this host may have created it at the same moment.
    if (!lookup()) throw new Error(`cannot create build user '${BUILD_USER}' with useradd: ${(e as Error).message}`);
  }
  const created = lookup();
  if (!created) throw new Error(`build user '${BUILD_USER}' missing after useradd`);
  return created;
}

export class Workspaces {
  /** Pooled workspace directories held by a stage run of this agent (each agent has its own workDir). */
  private readonly inUse = new Set<string>();
  private sweepTimer: NodeJS.Timeout | undefined;

  private constructor(
    readonly workDir: string,
    readonly runAs: RunAs | undefined,
    readonly retentionDays: number,
  ) {}

  /**
   * Creates workDir, builds/ and jobs/ (0711 when root, so builds cannot list each other), removes pooled
   * workspaces older than the retention, and schedules that sweep daily (an unref'd timer; close() stops it).
   */
  static async open(workDir: string, runAs: RunAs | undefined, opts: WorkspacesOptions = {}): Promise<Workspaces> {
    const retentionDays = opts.retentionDays ?? workspaceDaysFromEnv();
    if (!(retentionDays > 0)) throw new Error(`workspace retention must be > 0 days, got ${retentionDays}`);
    const builds = join(workDir, 'builds');
    const jobs = join(workDir, 'jobs');
    await mkdir(builds, { recursive: true, mode: 0o711 });
    await mkdir(jobs, { recursive: true, mode: 0o711 });
    await chmod(workDir, runAs ? 0o711 : 0o700);
    await chmod(builds, 0o711);
    await chmod(jobs, 0o711);
    const ws = new Workspaces(workDir, runAs, retentionDays);
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

  /**
   * The lowest-numbered free pooled workspace of the job, created (0700, build user) when missing, held until
   * release(). Its content is whatever the job's previous build left: the caller cleans it before use.
   */
  async acquire(cacheKey: string): Promise<PooledWorkspace> {
    if (!CACHE_KEY_RE.test(cacheKey) || cacheKey.startsWith('.')) throw new Error(`source.cacheKey '${cacheKey}' is not a safe directory name`);
    const jobDir = join(this.workDir, 'jobs', cacheKey);
    let index = 0;
    while (this.inUse.has(join(jobDir, `ws-${index}`))) index++;
    const dir = join(jobDir, `ws-${index}`);
    // Claimed before the first await: a concurrent acquire of the same job takes the next number.
    this.inUse.add(dir);
    try {
      await mkdir(jobDir, { recursive: true, mode: 0o711 });
      await chmod(jobDir, 0o711);
      const st = await lstat(dir).catch(() => undefined);
      // jobs/<cacheKey> is root's, so only the agent itself could have put something else there.
      if (st && !st.isDirectory()) await rm(dir, { force: true });
      if (!st?.isDirectory()) await mkdir(dir, { mode: 0o700 });
      await chmod(dir, 0o700);
      if (this.runAs) await chown(dir, this.runAs.uid, this.runAs.gid);
      await this.touch(dir);
    } catch (e) {
      this.inUse.delete(dir);
      throw e;
    }
    let released = false;
    return {
      dir,
      index,
      release: async () => {
        if (released) return;
        released = true;
        await this.touch(dir).catch(() => {});
        this.inUse.delete(dir);
      },
    };
  }

  /**
   * Empties a pooled workspace the build user could not clean (e.g. files it cannot remove): the agent removes
   * and recreates the directory itself; its parent is root's, so the path cannot be redirected.
   */
  async wipe(pooled: PooledWorkspace): Promise<void> {
    await rm(pooled.dir, { recursive: true, force: true });
    await mkdir(pooled.dir, { mode: 0o700 });
    await chmod(pooled.dir, 0o700);
    if (this.runAs) await chown(pooled.dir, this.runAs.uid, this.runAs.gid);
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
          await rm(dir, { recursive: true, force: true });
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

  /** A fresh, empty workspace (a stale one from a crashed run is removed first), mode 0700. */
  async create(buildId: number, stageRunId: number): Promise<string> {
    const dir = this.pathFor(buildId, stageRunId);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { mode: 0o700 });
    await chmod(dir, 0o700);
    if (this.runAs) await chown(dir, this.runAs.uid, this.runAs.gid);
    return dir;
  }

  /** Give everything under dir (files the agent wrote, e.g. input artifacts) to the build user. */
  async handOver(dir: string): Promise<void> {
    if (!this.runAs) return;
    const { uid, gid } = this.runAs;
    const walk = async (p: string): Promise<void> => {
      await chown(p, uid, gid);
      const st = await lstat(p);
      if (st.isDirectory()) for (const e of await readdir(p)) await walk(join(p, e));
    };
    await walk(dir);
  }

  async remove(dir: string): Promise<void> {
    await rm(dir, { recursive: true, force: true });
  }
}
