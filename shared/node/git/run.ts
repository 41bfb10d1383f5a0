/**
 * The one way master and agent run git (and the few helper programs that must run like it): no shell,
 * arguments as an array, a complete environment the caller built (env.ts gitEnv: nothing of the process's
 * own environment, no system or user git config), its own process group so an abort or a timeout kills git
 * and its ssh/remote-helper children, bounded output, and stderr with credentials masked.
 *
 *   const r = await git(['ls-remote', '--', url], { env: g.env, secrets: g.secrets, timeoutMs: 60_000 });
 *   await gitOk('fetching the commit', ['fetch', ...], { cwd, env, signal, runAs });   // throws GitError
 *
 * An aborted signal rejects with GitAborted (the signal's reason); SIGTERM first, SIGKILL after its graceMs.
 * A timeout kills the group and resolves with code null (gitOk: a GitError saying "timed out").
 * stopAllGit() kills every git still running and refuses new ones: the master calls it at shutdown so no
 * poll or diff outlives it.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface GitRun {
  /** Directory git runs in (`git -C` is not used so that the path is never parsed as an option). Default '/'. */
  cwd?: string;
  /** The complete environment (env.ts gitEnv); nothing else is passed. */
  env: Record<string, string | undefined>;
  /** Aborting kills the process group and rejects with GitAborted. */
  signal?: AbortSignal;
  /** Written to stdin, then closed. */
  input?: string;
  /** Run as this user (the build user, for commands that write a workspace). */
  runAs?: { uid: number; gid: number };
  /** Kill after this long (no default: checkouts run under the step's own timeout). */
  timeoutMs?: number;
  /** Values masked (***) in stderr and messages: tokens, keys, Basic headers. */
  secrets?: string[];
}

export interface GitOutput {
  /** Exit code; null when killed (timeout, stopAllGit). */
  code: number | null;
  stdout: string;
  /** Masked: credentials in URLs and `secrets` replaced by ***. */
  stderr: string;
  /** Why the process was killed, when it was (timeout, master stopping). */
  killed?: string;
}

/** A git command that exited non-zero (or was killed); the message names it and carries git's masked stderr. */
export class GitError extends Error {
  constructor(
    message: string,
    readonly output: GitOutput,
  ) {
    super(message);
    this.name = 'GitError';
  }
  get exitCode(): number | null {
    return this.output.code;
  }
}

/** What a signal's reason must carry: a message, and optionally the grace before SIGKILL. */
export interface AbortReasonLike {
  message: string;
  graceMs?: number;
}

/** The signal aborted the command; `reason` is the signal's reason (the agent's StopReason). */
export class GitAborted extends Error {
  constructor(readonly reason: AbortReasonLike) {
    super(reason.message);
    this.name = 'GitAborted';
  }
}

const MAX_CAPTURE = 4 * 1024 * 1024;
const running = new Set<ChildProcess>();
let stopping = false;

/**
 * Kills every process started here and still running, and refuses new ones (their callers get a GitError
 * saying the process is stopping). Process-wide and final: for the master's shutdown.
 */
export function stopAllGit(): void {
  stopping = true;
  for (const child of running) killGroup(child, 'SIGKILL');
}

/** True once stopAllGit() ran: a git failure from then on says nothing about the repository. */
export function gitStopped(): boolean {
  return stopping;
}

/** Removes credentials written into URLs (`https://user:token@host`) and every secret value from text. */
export function maskSecrets(text: string, secrets: string[] = []): string {
  let out = text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]+@/gi, '$1***@');
  for (const s of secrets) if (s) out = out.split(s).join('***');
  return out;
}

/** Runs git; resolves with its output whatever the exit code (rejects only on abort or when it cannot start). */
export function git(args: string[], run: GitRun): Promise<GitOutput> {
  return runCommand('git', args, run);
}

function killGroup(child: ChildProcess, sig: NodeJS.Signals): void {
  try {
    if (child.pid) process.kill(-child.pid, sig);
  } catch {
    // already gone
  }
}

/** Like git() for another program (e.g. `rm` as the build user in a workspace). */
export function runCommand(command: string, args: string[], run: GitRun): Promise<GitOutput> {
  if (run.signal?.aborted) return Promise.reject(new GitAborted(run.signal.reason as AbortReasonLike));
  if (stopping) return Promise.resolve({ code: null, stdout: '', stderr: '', killed: 'the master is stopping' });
  return new Promise((resolve, reject) => {
    const env = Object.fromEntries(Object.entries(run.env).filter((e): e is [string, string] => e[1] !== undefined));
    const child = spawn(command, args, { cwd: run.cwd ?? '/', env, detached: true, stdio: ['pipe', 'pipe', 'pipe'], uid: run.runAs?.uid, gid: run.runAs?.gid });
    running.add(child);
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
    let killed: string | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    const timeout = run.timeoutMs
      ? setTimeout(() => {
          killed = `timed out after ${run.timeoutMs} ms`;
          killGroup(child, 'SIGKILL');
        }, run.timeoutMs)
      : undefined;
    const onAbort = () => {
      killGroup(child, 'SIGTERM');
      killTimer = setTimeout(() => killGroup(child, 'SIGKILL'), (run.signal!.reason as AbortReasonLike).graceMs ?? 1000);
    };
    run.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdin.on('error', () => {});
    child.stdin.end(run.input ?? '');
    const done = () => {
      running.delete(child);
      clearTimeout(timeout);
      clearTimeout(killTimer);
      run.signal?.removeEventListener('abort', onAbort);
    };
    child.once('error', (e) => {
      done();
      reject(new Error(`could not start ${command}: ${e.message}`));
    });
    child.once('close', (code) => {
      done();
      if (run.signal?.aborted) return reject(new GitAborted(run.signal.reason as AbortReasonLike));
      if (stopping && code !== 0) killed = 'the master is stopping';
      resolve({
        code,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: maskSecrets(Buffer.concat(err).toString('utf8'), run.secrets),
        ...(killed ? { killed } : {}),
      });
    });
  });
}

/** Runs git and throws GitError naming `what` (and why: exit code, timeout) with git's last stderr lines. */
export async function gitOk(what: string, args: string[], run: GitRun): Promise<GitOutput> {
  const r = await git(args, run);
  if (r.code !== 0 || r.killed) {
    const tail = r.stderr.trim().split('\n').slice(-4).join('\n');
    throw new GitError(`${what} failed (${r.killed ?? `git exit ${r.code}`})${tail ? `: ${tail}` : ''}`, r);
  }
  return r;
}
