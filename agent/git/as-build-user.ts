/**
 * File operations inside a workspace, done by a process running as the build user (when the agent is root).
 * A workspace is the build user's: a step (even one left running in the background) may have replaced any
 * directory in it with a symlink to a place only root may write. The agent never writes, removes or chowns
 * there with its own privileges; these helpers run `rm` and `cat` as the build user instead, so a planted
 * symlink can at most reach what the build user could reach anyway.
 */
import { spawn } from 'node:child_process';
import { open } from 'node:fs/promises';
import type { RunAs } from '../executors/types';
import { GitError, runCommand } from './run-git';

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Removes names (relative to dir, recursively) as the build user; throws naming dir when rm fails. */
export async function removeAs(dir: string, names: string[], runAs: RunAs | undefined, signal?: AbortSignal): Promise<void> {
  if (!names.length) return;
  // './' prefix: a name starting with '-' stays a path.
  const r = await runCommand('rm', ['-rf', '--', ...names.map((n) => `./${n}`)], { cwd: dir, env: { PATH, LANG: 'C' }, runAs, signal });
  if (r.code !== 0) throw new GitError(`removing files in ${dir} failed: ${r.stderr.trim().split('\n').slice(-2).join('\n')}`, r);
}

/**
 * Copies a file the agent can read (e.g. in its root-only cache) to dest, written by the build user:
 * the agent opens the source and hands the descriptor to `cat` running as the build user.
 */
export async function copyInAs(src: string, dest: string, runAs: RunAs | undefined): Promise<void> {
  const fh = await open(src, 'r');
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn('/bin/sh', ['-c', 'exec cat > "$1"', 'sh', dest], {
        stdio: [fh.fd, 'ignore', 'pipe'],
        env: { PATH, LANG: 'C' },
        uid: runAs?.uid,
        gid: runAs?.gid,
      });
      let err = '';
      child.stderr!.on('data', (b: Buffer) => {
        if (err.length < 4096) err += b.toString();
      });
      child.once('error', (e) => reject(new Error(`could not start cat: ${e.message}`)));
      child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`writing ${dest} failed: ${err.trim() || `exit ${code}`}`))));
    });
  } finally {
    await fh.close();
  }
}
