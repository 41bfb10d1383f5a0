/**
 * The shell step: `sh -c <run>` (or config.shell) in the workspace, in its own process group so that cancel
 * and timeouts reach every process the step started (SIGTERM to the group, SIGKILL after the grace).
 * Exit code 0 is success, anything else failed. When the step's main process exits, whatever it left
 * running in its group is killed too, so no step outlives its build (Jenkins' ProcessTreeKiller does the same).
 */
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { killGroup } from '../../shared/node/plugin-host';
import { shellKind, type ShellConfig } from '../../shared/job/kinds/shell';
import { defineExecutor, type StepContext, type StepResult, type StopReason } from './types';

/**
 * A process that escaped the group (setsid) may keep the pipes open after the step exited. Once the log is
 * not paused for backpressure (unread data would be lost) and nothing arrived for a while, stop reading.
 */
function closeWhenIdle(ctx: StepContext, ...streams: Readable[]): NodeJS.Timeout {
  let idleTicks = 0;
  const onData = () => (idleTicks = 0);
  for (const s of streams) s.on('data', onData);
  return setInterval(() => {
    if (ctx.output.paused) idleTicks = 0;
    else if (++idleTicks >= 5) for (const s of streams) s.destroy();
  }, 1000);
}

export const shellExecutor = defineExecutor<ShellConfig>(shellKind, '1.1.0', runShell);

function runShell(ctx: StepContext, cfg: ShellConfig): Promise<StepResult> {
  if (ctx.signal.aborted) {
    const r = ctx.signal.reason as StopReason;
    return Promise.resolve({ status: r.status, exitCode: null, error: r.message });
  }
  return new Promise((resolve) => {
    const child = spawn(cfg.shell ?? 'sh', ['-c', cfg.run], {
      cwd: ctx.workspace,
      env: ctx.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      uid: ctx.runAs?.uid,
      gid: ctx.runAs?.gid,
    });
    let stopped: StopReason | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    const pid = child.pid;
    if (pid !== undefined) ctx.started(Date.now());

    const onAbort = () => {
      stopped = ctx.signal.reason as StopReason;
      if (pid === undefined) return;
      killGroup(pid, 'SIGTERM');
      killTimer = setTimeout(() => killGroup(pid, 'SIGKILL'), stopped.graceMs);
    };
    ctx.signal.addEventListener('abort', onAbort, { once: true });

    const reading = Promise.all([ctx.output.attach(child.stdout!), ctx.output.attach(child.stderr!)]);
    child.once('exit', (code, signal) => {
      // Leftover background processes of the step hold its pipes open; they go with the step.
      if (pid !== undefined) killGroup(pid, 'SIGKILL');
      const watchdog = closeWhenIdle(ctx, child.stdout!, child.stderr!);
      void reading.then(() => {
        clearInterval(watchdog);
        clearTimeout(killTimer);
        ctx.signal.removeEventListener('abort', onAbort);
        if (stopped) resolve({ status: stopped.status, exitCode: code, error: stopped.message });
        else if (code === 0) resolve({ status: 'success', exitCode: 0 });
        else if (code !== null) resolve({ status: 'failed', exitCode: code });
        else resolve({ status: 'failed', exitCode: null, error: `step killed by signal ${signal}` });
      });
    });
    if (pid === undefined) {
      // spawn failed (shell missing, bad cwd): 'error' fires, 'exit' never does.
      child.once('error', (e) => {
        ctx.signal.removeEventListener('abort', onAbort);
        resolve({ status: 'error', exitCode: null, error: `could not start ${cfg.shell ?? 'sh'} in ${ctx.workspace}: ${e.message}` });
      });
    }
  });
}
