/**
 * shared/node/plugin-host.ts, the one host the agent (steps, scanners, converters) and the master (notifiers)
 * run plugin code in, with real `node` children: what the entry exports, a result, a throw, a crash, an early
 * exit, a hang killed after the timeout (with what it left running), the environment it gets, and the
 * caller's values masked in every text that comes back.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { maskText, startPluginHost, type HostRequest, type PluginHostOptions } from '../../shared/node/plugin-host';

const dir = mkdtempSync(join(tmpdir(), 'slipway-plugin-host-'));
const entry = join(dir, 'entry.mjs');
writeFileSync(
  entry,
  `import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
export const executors = { echo: { async run(step) { step.log('from the step'); return { status: 'success', outputs: { env: Object.keys(step.env).sort().join(',') } }; } } };
export const notifiers = {
  ok: { async send(ctx) {} },
  leak: { async send(ctx) { throw new Error('refused ' + ctx.secrets.token + '\\nsecond line'); } },
  crash: { async send() { setTimeout(() => { throw new Error('late ' + 'tok-123456'); }, 1); await new Promise((r) => setTimeout(r, 1000)); } },
  exit: { async send() { process.stderr.write('bye tok-123456\\n'); process.exit(3); } },
  hang: { async send() { const p = spawn('sleep', ['30'], { stdio: 'ignore' }); writeFileSync('sleep.pid', String(p.pid)); await new Promise(() => setInterval(() => {}, 1000)); } },
};
export const reportFormats = { tap: { async convert() { return '<testsuite/>'; } } };
`,
);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (request: HostRequest, over: Partial<PluginHostOptions> = {}) =>
  startPluginHost({ entry, cwd: dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ONLY: 'this' }, request, stdout: 'ignore', captureStderr: true, errors: 'message', mask: ['tok-123456'], ...over }).done;
const notify = (kind: string) => ({ mode: 'notify' as const, ctx: { kind, secrets: { token: 'tok-123456' } } });

describe('plugin host', () => {
  it('describes the exports, runs an executor with only the given environment, and returns results', async () => {
    expect((await run({ mode: 'describe' })).reply).toEqual({ kinds: ['echo'], scanners: [], reportFormats: ['tap'], notifiers: ['ok', 'leak', 'crash', 'exit', 'hang'] });
    const step = await run({ mode: 'run', step: { kind: 'echo' } });
    expect(step.reply).toEqual({ result: { status: 'success', outputs: { env: 'ONLY,PATH' } } });
    expect(step.exitCode).toBe(0);
    expect((await run({ mode: 'convert', convert: { name: 'tap' } })).reply).toEqual({ result: '<testsuite/>' });
    expect((await run(notify('ok'))).reply).toEqual({ result: null });
    expect((await run({ mode: 'scan', scan: { kind: 'nope' } })).reply).toEqual({ loadError: 'the module exports no scanner "nope" (export const scanners = { ... })' });
  });

  it('masks the caller values in a throw, a crash and the stderr of an early exit', async () => {
    expect((await run(notify('leak'))).reply).toEqual({ threw: 'refused ***' });
    expect((await run(notify('crash'))).reply).toEqual({ crashed: 'late ***' });
    const exit = await run(notify('exit'));
    expect(exit).toMatchObject({ reply: undefined, exitCode: 3, timedOut: false, stderrTail: 'bye ***' });
    // Stack texts (the agent's steps) keep more than the first line.
    expect((await run(notify('leak'), { errors: 'stack' })).reply).toMatchObject({ threw: expect.stringMatching(/^Error: refused \*\*\*\nsecond line\n/) });
  });

  it('kills a hang after the timeout, with what it started in its group', async () => {
    const o = await run(notify('hang'), { timeoutMs: 500 });
    expect(o).toMatchObject({ reply: undefined, timedOut: true, signal: 'SIGKILL' });
    // The sleep it started is gone too (a zombie waiting for its reaper counts as gone).
    const pid = readFileSync(join(dir, 'sleep.pid'), 'utf8');
    const alive = () => existsSync(`/proc/${pid}/stat`) && !/^\d+ \(sleep\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    for (let i = 0; i < 20 && alive(); i++) await new Promise((r) => setTimeout(r, 50));
    expect(alive()).toBe(false);
  });

  it('maskText masks values of 3 bytes or more, longest first', () => {
    expect(maskText('a tok-123456 b tok', ['tok', 'tok-123456'])).toBe('a *** b ***');
    expect(maskText('ab', ['ab'])).toBe('ab');
    expect(maskText('x', undefined)).toBe('x');
  });
});
