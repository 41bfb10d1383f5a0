/**
 * Spawning the real `slipway` CLI as a child process for tests: output is captured (for failure messages),
 * and every child still alive when the test worker exits is killed, so a failed test leaks no processes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (the CLI runs with it as cwd so `--import tsx` resolves). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = resolve(REPO_ROOT, 'bin', 'slipway.ts');

export interface Spawned {
  process: ChildProcess;
  /** Everything the process printed so far (stdout and stderr interleaved). */
  output(): string;
  /** Resolves with the exit code (or the signal name) once the process has exited. */
  exited: Promise<number | string>;
  /** Sends `signal` and waits for exit; SIGKILL after `graceMs` if it is still alive. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** The CLI as `npm run build` writes it (dist/bin/slipway.mjs, run from the repository for its node_modules). */
export const BUILT_CLI = resolve(REPO_ROOT, 'dist', 'bin', 'slipway.mjs');

/** Runs `node --import tsx bin/slipway.ts ...args` (with `built`, `node dist/bin/slipway.mjs ...args`) in the background. */
export function spawnCli(args: string[], env: Record<string, string> = {}, opts: { built?: boolean } = {}): Spawned {
  const child = spawn(process.execPath, [...(opts.built ? [BUILT_CLI] : ['--import', 'tsx', CLI]), ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let out = '';
  const keep = (d: Buffer) => {
    out += d.toString('utf8');
    // Keep the tail only: a chatty process must not grow the test's memory without bound.
    if (out.length > 1_000_000) out = out.slice(-500_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | string>((res) => {
    child.on('exit', (code, signal) => {
      live.delete(child);
      res(code ?? signal ?? -1);
    });
  });
  return {
    process: child,
    output: () => out,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
