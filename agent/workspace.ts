/**
 * Workspaces and the build user. Each stage run gets a fresh directory `<workDir>/builds/<buildId>-<stageRunId>`
 * (mode 0700). When the agent runs as root, steps run as the unprivileged user `slipway-build` (created with
 * `useradd --system` when missing) who owns the workspace; workDir and builds/ are 0711 root, so the build user
 * can enter its own workspace but not list the others, and cannot read anything the agent keeps there.
 * Limit: all builds share that one user, so a step that learns another live workspace's path could read it;
 * the fresh-per-stage-run workspace, removed when the stage ends, keeps that window short.
 */
import { execFileSync } from 'node:child_process';
import { chmod, chown, lstat, mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunAs } from './executors/types';

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
  private constructor(
    readonly workDir: string,
    readonly runAs: RunAs | undefined,
  ) {}

  /** Creates workDir and builds/ (0711 when root, so builds cannot list each other). */
  static async open(workDir: string, runAs: RunAs | undefined): Promise<Workspaces> {
    const builds = join(workDir, 'builds');
    await mkdir(builds, { recursive: true, mode: 0o711 });
    await chmod(workDir, runAs ? 0o711 : 0o700);
    await chmod(builds, 0o711);
    return new Workspaces(workDir, runAs);
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
