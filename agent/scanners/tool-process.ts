/**
 * Runs an adapted tool (shellcheck, eslint) as the job's build user in the workspace, with the step's
 * environment, and collects its stdout (bounded) for conversion to SARIF. The step's abort signal kills it.
 */
import { spawn } from 'node:child_process';
import type { ScanContext } from './types';

/** More output than this is a tool gone wrong, not findings to keep. */
const MAX_STDOUT = 256 * 1024 * 1024;

export interface ToolRun {
  code: number | null;
  stdout: string;
  /** The last few KiB of stderr, for the error message. */
  stderr: string;
  /** spawn failed with ENOENT: the tool is not installed. */
  missing: boolean;
}

export function runTool(ctx: ScanContext, cmd: string, args: string[], cwd: string): Promise<ToolRun> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, env: ctx.env, uid: ctx.runAs?.uid, gid: ctx.runAs?.gid, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let size = 0;
    let err = '';
    child.stdout.on('data', (b: Buffer) => {
      size += b.length;
      if (size <= MAX_STDOUT) out.push(b);
      else child.kill('SIGKILL');
    });
    child.stderr.on('data', (b: Buffer) => (err = (err + b.toString('utf8')).slice(-4096)));
    const onAbort = () => child.kill('SIGKILL');
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    child.once('error', (e: NodeJS.ErrnoException) => {
      ctx.signal.removeEventListener('abort', onAbort);
      resolve({ code: null, stdout: '', stderr: e.message, missing: e.code === 'ENOENT' });
    });
    child.once('close', (code) => {
      ctx.signal.removeEventListener('abort', onAbort);
      if (size > MAX_STDOUT) err = `${cmd} wrote more than ${MAX_STDOUT} bytes`;
      resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: err, missing: false });
    });
  });
}
