/**
 * Runs the git binary for the master (ls-remote, fetch, diff) without a shell: arguments are passed as an
 * array, the environment is built by credentials.ts, and a timeout kills a hanging transfer. Errors carry
 * git's stderr with every credential value masked, so they can be logged and shown as they are.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { maskSecrets } from './credentials';

export class GitError extends Error {
  constructor(
    message: string,
    readonly exitCode: number | null,
  ) {
    super(message);
    this.name = 'GitError';
  }
}

export interface RunGitOptions {
  cwd?: string;
  env: NodeJS.ProcessEnv;
  /** Values to mask in error messages (tokens, keys). */
  secrets: string[];
  /** Default 60 s: a remote that does not answer must not keep a poll or a diff forever. */
  timeoutMs?: number;
}

/** git processes of this master still running (polls, path-check diffs, head lookups). */
const running = new Set<ChildProcess>();
let stopping = false;

/**
 * Master shutdown: kills every git process still running and refuses new ones, so no fetch outlives the
 * master (their callers see a GitError and leave their work for the next start).
 */
export function stopAllGit(): void {
  stopping = true;
  for (const child of running) child.kill('SIGKILL');
}

/** Resolves with stdout on exit code 0; rejects with a GitError naming the git command (not its URL). */
export function runGit(args: string[], opts: RunGitOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    if (stopping) return reject(new GitError(`git ${args[0]}: the master is stopping`, null));
    const child = spawn('git', args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    child.once('close', () => running.delete(child));
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let errBytes = 0;
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => {
      // Keep the first 16 KiB of stderr: enough for the reason, bounded for a chatty remote.
      if (errBytes < 16_384) err.push(b);
      errBytes += b.length;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new GitError(`git ${args[0]}: cannot run git (${e.message})`, null));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolve(Buffer.concat(out).toString('utf8'));
      const stderr = maskSecrets(Buffer.concat(err).toString('utf8').trim(), opts.secrets);
      const why = stopping ? 'the master is stopping' : signal === 'SIGKILL' ? `timed out after ${opts.timeoutMs ?? 60_000} ms` : `exit ${code}`;
      reject(new GitError(`git ${args[0]} failed (${why})${stderr ? `: ${stderr.split('\n').slice(-3).join(' | ')}` : ''}`, code));
    });
  });
}
