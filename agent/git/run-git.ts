/**
 * Runs the `git` binary for the checkout executor. Plain child_process instead of simple-git for every
 * command that touches the network or the workspace: those need an environment built from scratch (no
 * agent variables, credentials only through GIT_CONFIG_* / GIT_SSH_COMMAND), their own process group so a
 * cancel kills git and its ssh/remote-helper children, and stdin for pack-objects. simple-git is used
 * where it fits: read-only queries of the private cache (see cache.ts).
 */
import { spawn } from 'node:child_process';
import type { StopReason } from '../executors/types';

export interface GitRun {
  /** Directory git runs in (`git -C` is not used so that the path is never parsed as an option). */
  cwd: string;
  /** The complete environment (see credentials.ts gitEnv). */
  env: Record<string, string>;
  signal?: AbortSignal;
  /** Written to git's stdin, then closed. */
  input?: string;
  /** Run as this user (the build user, for commands that write the workspace). */
  runAs?: { uid: number; gid: number };
}

export interface GitOutput {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Thrown for a git command that exited non-zero; the message carries git's (redacted) stderr. */
export class GitError extends Error {
  constructor(
    message: string,
    readonly output: GitOutput,
  ) {
    super(message);
    this.name = 'GitError';
  }
}

/** Thrown when the step's signal aborted the command. */
export class GitAborted extends Error {
  constructor(readonly reason: StopReason) {
    super(reason.message);
    this.name = 'GitAborted';
  }
}

const MAX_CAPTURE = 4 * 1024 * 1024;

/** Removes credentials written into URLs (`https://user:token@host`) from git's messages. */
export function redactUrls(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]+@/gi, '$1***@');
}

/** Runs git with args; resolves with its output whatever the exit code (rejects only on abort/spawn error). */
export function git(args: string[], run: GitRun): Promise<GitOutput> {
  return runCommand('git', args, run);
}

/** Like git() for another program (e.g. `rm` as the build user in a workspace). */
export function runCommand(command: string, args: string[], run: GitRun): Promise<GitOutput> {
  if (run.signal?.aborted) return Promise.reject(new GitAborted(run.signal.reason as StopReason));
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: run.cwd, env: run.env, detached: true, stdio: ['pipe', 'pipe', 'pipe'], uid: run.runAs?.uid, gid: run.runAs?.gid });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    child.stdout.on('data', (b: Buffer) => {
      if ((outBytes += b.length) <= MAX_CAPTURE) out.push(b);
    });
    child.stderr.on('data', (b: Buffer) => {
      if ((errBytes += b.length) <= MAX_CAPTURE) err.push(b);
    });
    let killTimer: NodeJS.Timeout | undefined;
    const kill = (sig: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, sig);
      } catch {
        // already gone
      }
    };
    const onAbort = () => {
      kill('SIGTERM');
      killTimer = setTimeout(() => kill('SIGKILL'), (run.signal!.reason as StopReason).graceMs ?? 1000);
    };
    run.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdin.on('error', () => {});
    child.stdin.end(run.input ?? '');
    child.once('error', (e) => {
      run.signal?.removeEventListener('abort', onAbort);
      reject(new Error(`could not start ${command}: ${e.message}`));
    });
    child.once('close', (code) => {
      clearTimeout(killTimer);
      run.signal?.removeEventListener('abort', onAbort);
      if (run.signal?.aborted) return reject(new GitAborted(run.signal.reason as StopReason));
      resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: redactUrls(Buffer.concat(err).toString('utf8')) });
    });
  });
}

/** Runs git and throws GitError naming `what` and git's last stderr lines when it exits non-zero. */
export async function gitOk(what: string, args: string[], run: GitRun): Promise<GitOutput> {
  const r = await git(args, run);
  if (r.code !== 0) {
    const tail = r.stderr.trim().split('\n').slice(-4).join('\n');
    throw new GitError(`${what} failed (git exit ${r.code})${tail ? `: ${tail}` : ''}`, r);
  }
  return r;
}
