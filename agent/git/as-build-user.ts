/**
 * File operations inside a workspace, done by a process running as the job's build user (when the agent is
 * root; agent/build-users.ts). A workspace is that user's: a step (even one left running in the background,
 * or a concurrent build of the same job) may have replaced any directory in it with a symlink to a place only
 * root may read or write. The agent never reads, writes, removes or chowns there with its own privileges;
 * these helpers run `rm` and `cat` as the build user instead, so a planted symlink can at most reach what the
 * build user could reach anyway.
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { chmod, lstat, open, rm, rmdir } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { RunAs } from '../executors/types';
import { GitError, runCommand } from '../../shared/node/git/run';

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

/**
 * Removes a directory whose parent is root's (a workspace, a staging dir) with its whole content. When the
 * agent is root and the directory belongs to a build user, the content is removed by a process running as
 * that owner (`chmod -R u+rwX` first, so read-only directories a step left are removable too): root never
 * walks a tree a build process may be rearranging. Root only removes the emptied directory itself (rmdir, no
 * traversal). A missing directory is not an error; throws naming dir when it cannot be emptied.
 */
export async function removeOwnedTree(dir: string): Promise<void> {
  const self = typeof process.getuid === 'function' ? process.getuid() : -1;
  for (let attempt = 0; ; attempt++) {
    const st = await lstat(dir).catch(() => undefined);
    if (!st) return;
    if (!st.isDirectory() || st.uid === self || self !== 0) {
      await rm(dir, { recursive: true, force: true });
      return;
    }
    // The directory itself cannot be swapped (its parent is root's); make sure its owner can enter it.
    await chmod(dir, 0o700);
    const r = await runCommand('/bin/sh', ['-c', 'chmod -R u+rwX . 2>/dev/null; exec rm -rf -- ./* ./.[!.]* ./..?*'], {
      cwd: dir,
      env: { PATH, LANG: 'C' },
      runAs: { uid: st.uid, gid: st.gid },
    });
    try {
      await rmdir(dir);
      return;
    } catch (e) {
      // ENOTEMPTY: a leftover process of the owner wrote meanwhile; try again a few times.
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      if (attempt >= 2) {
        const why = r.code !== 0 ? r.stderr.trim().split('\n').slice(-2).join('; ') : (e as Error).message;
        throw new Error(`removing ${dir} as its owner (uid ${st.uid}) failed: ${why}`);
      }
    }
  }
}

/**
 * Copies `rel` (relative to `cwd`, a workspace) to `dest` (a new file in a root-only directory) by `cat` running
 * as the build user: a symlink swapped into the path after the agent looked can make the copy read only what
 * that user may read. Refuses (and removes dest) when more than maxBytes arrive. Resolves with the byte count.
 */
export async function copyOutAs(cwd: string, rel: string, dest: string, runAs: RunAs | undefined, maxBytes: number): Promise<number> {
  const child = spawn('cat', ['--', `./${rel}`], { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { PATH, LANG: 'C' }, uid: runAs?.uid, gid: runAs?.gid });
  let err = '';
  child.stderr!.on('data', (b: Buffer) => {
    if (err.length < 4096) err += b.toString();
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', (e) => reject(new Error(`could not start cat: ${e.message}`)));
    child.once('close', (code) => resolve(code));
  });
  let size = 0;
  const limit = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      size += chunk.length;
      if (size > maxBytes) cb(new Error(`${rel} grew to more than ${maxBytes} bytes while it was read`));
      else cb(null, chunk);
    },
  });
  try {
    await pipeline(child.stdout!, limit, createWriteStream(dest, { flags: 'wx', mode: 0o600 }));
    const code = await exited;
    if (code !== 0) throw new Error(`reading ${rel} as the build user failed: ${err.trim() || `cat exit ${code}`}`);
    return size;
  } catch (e) {
    child.kill('SIGKILL');
    await rm(dest, { force: true });
    throw e;
  }
}
