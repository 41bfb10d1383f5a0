/**
 * The one host for plugin code, used by the agent (step kinds, scanners, report formats: agent/plugins/
 * plugin-process.ts) and by the master (notifiers: master/plugins/notifier-process.ts). Each call is a fresh
 * `node` child in a process group of its own, with only the environment the caller passes (never the
 * host's), optionally as another user; it imports the plugin's entry module and answers one request over
 * the IPC channel. So plugin code that throws, crashes, calls process.exit, leaks an async exception or
 * hangs costs its one call, never the agent or the master.
 *
 * The contract between this module and the child (HOST below):
 * - the parent sends one request `{ mode, ... }`; the child answers once with a HostReply and exits;
 * - `describe` answers what the entry exports: `{ kinds, scanners, reportFormats, notifiers }`;
 * - `run` / `scan` / `convert` / `notify` call `executors[step.kind].run(step)`,
 *   `scanners[scan.kind].scan(scan)`, `reportFormats[convert.name].convert(convert)`,
 *   `notifiers[ctx.kind].send(ctx)` (run and scan get `env` and a `log(text)` that writes a line to stdout);
 * - a missing export or a failed import is `{ loadError }`, a throw `{ threw }`, an uncaught exception or
 *   unhandled rejection `{ crashed }` (then exit 70), a value `{ result }`.
 * Error texts are the first 6 lines of the stack (`errors: 'stack'`) or the first line of the message
 * (`errors: 'message'`, for texts users see in lists); every text that comes back (reply and stderr tail) has
 * the caller's `mask` values replaced by `***` before the caller sees it.
 *
 * After the child exits its whole group is killed, so whatever it left running goes with it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { SecretMasker } from './mask';

const HOST = `
import { pathToFileURL } from 'node:url';
const entry = process.argv[1];
const errors = process.argv[2];
const reply = (m) => new Promise((r) => process.send(m, () => r()));
const text = errors === 'message'
  ? (e) => String((e && e.message) || e).split('\\n')[0].slice(0, 500)
  : (e) => String((e && e.stack) || e).split('\\n').slice(0, 6).join('\\n');
for (const ev of ['uncaughtException', 'unhandledRejection']) {
  process.on(ev, async (e) => { await reply({ crashed: text(e) }); process.exit(70); });
}
const exported = (mod, name, fn) => {
  const o = mod[name] ?? (mod.default && mod.default[name]);
  const names = o && typeof o === 'object' ? Object.keys(o).filter((k) => o[k] && typeof o[k][fn] === 'function') : [];
  return { o, names };
};
const log = (t) => { const s = String(t); process.stdout.write(s.endsWith('\\n') ? s : s + '\\n'); };
const call = async (what, list, key, run) => {
  if (!list.names.includes(key)) { await reply({ loadError: 'the module exports no ' + what[0] + ' ' + JSON.stringify(key) + ' (export const ' + what[1] + ' = { ... })' }); return; }
  try { const r = await run(list.o[key]); await reply({ result: r === undefined ? null : r }); }
  catch (e) { await reply({ threw: text(e) }); }
};
process.once('message', async (req) => {
  let mod;
  try { mod = await import(pathToFileURL(entry).href); }
  catch (e) { await reply({ loadError: text(e) }); process.exit(0); }
  const executors = exported(mod, 'executors', 'run');
  const scanners = exported(mod, 'scanners', 'scan');
  const formats = exported(mod, 'reportFormats', 'convert');
  const notifiers = exported(mod, 'notifiers', 'send');
  if (req.mode === 'describe') await reply({ kinds: executors.names, scanners: scanners.names, reportFormats: formats.names, notifiers: notifiers.names });
  else if (req.mode === 'run') await call(['executor for step kind', 'executors'], executors, req.step.kind, (x) => x.run({ ...req.step, env: { ...process.env }, log }));
  else if (req.mode === 'scan') await call(['scanner', 'scanners'], scanners, req.scan.kind, (x) => x.scan({ ...req.scan, env: { ...process.env }, log }));
  else if (req.mode === 'convert') await call(['report format', 'reportFormats'], formats, req.convert.name, (x) => x.convert({ ...req.convert }));
  else if (req.mode === 'notify') await call(['notifier', 'notifiers'], notifiers, req.ctx.kind, (x) => x.send(req.ctx));
  else await reply({ loadError: 'unknown request ' + JSON.stringify(req.mode) });
  process.exit(0);
});
`;

/** What the child answers (texts already masked when they reach the caller). */
export type HostReply =
  | { result: unknown }
  | { threw: string }
  | { crashed: string }
  | { loadError: string }
  | { kinds: string[]; scanners: string[]; reportFormats: string[]; notifiers: string[] };

/** One request to the child; `mode` picks the export it calls (see the header). */
export type HostRequest =
  | { mode: 'describe' }
  | { mode: 'run'; step: { kind: string } & Record<string, unknown> }
  | { mode: 'scan'; scan: { kind: string } & Record<string, unknown> }
  | { mode: 'convert'; convert: { name: string } & Record<string, unknown> }
  | { mode: 'notify'; ctx: { kind: string } & Record<string, unknown> };

export interface PluginHostOptions {
  /** Absolute path of the plugin's entry module. */
  entry: string;
  cwd: string;
  /** The child's whole environment (the host's is never inherited). */
  env: Record<string, string>;
  runAs?: { uid: number; gid: number };
  request: HostRequest;
  /** 'pipe': the caller reads `child.stdout` (and stderr, see captureStderr); 'ignore': dropped. */
  stdout: 'pipe' | 'ignore';
  /** Keep the last 2000 bytes of stderr for the outcome (otherwise the caller reads child.stderr). */
  captureStderr: boolean;
  errors: 'stack' | 'message';
  /** Kill the group with SIGKILL after this long; the outcome then says timedOut. */
  timeoutMs?: number;
  /** Values replaced by *** in every text of the outcome. */
  mask?: string[];
}

export interface HostOutcome {
  /** The child's first answer, or undefined when it ended (or could not start) before answering. */
  reply?: HostReply;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** Set when node could not be started. */
  startError?: string;
  timedOut: boolean;
  /** The last line of captured stderr ('' when none or not captured). */
  stderrTail: string;
}

export interface PluginHost {
  child: ChildProcess;
  /** Undefined when node could not be started. */
  pid: number | undefined;
  /** Signals the child's whole process group (a group already gone is fine). */
  kill(signal: NodeJS.Signals): void;
  /** Settles once the child exited (its group killed) or could not start; never rejects. */
  done: Promise<HostOutcome>;
}

/** Signals process group `pid`; a group that is already gone is not an error. */
export function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}

/** Replaces every value of `values` (3 bytes or more) in `text` by ***. */
export function maskText(text: string, values: string[] | undefined): string {
  if (!values?.length) return text;
  const m = new SecretMasker(values);
  return Buffer.concat([m.push(Buffer.from(text)), m.flush()]).toString('utf8');
}

function maskReply(r: HostReply, values: string[] | undefined): HostReply {
  if (!values?.length) return r;
  if ('threw' in r) return { threw: maskText(r.threw, values) };
  if ('crashed' in r) return { crashed: maskText(r.crashed, values) };
  if ('loadError' in r) return { loadError: maskText(r.loadError, values) };
  return r;
}

/** Starts one child for `opts.request` (see the header). */
export function startPluginHost(opts: PluginHostOptions): PluginHost {
  const child = spawn(process.execPath, ['--input-type=module', '-e', HOST, opts.entry, opts.errors], {
    cwd: opts.cwd,
    env: opts.env,
    detached: true,
    stdio: ['ignore', opts.stdout, 'pipe', 'ipc'],
    uid: opts.runAs?.uid,
    gid: opts.runAs?.gid,
    serialization: 'json',
  });
  const pid = child.pid;
  const kill = (signal: NodeJS.Signals) => {
    if (pid !== undefined) killGroup(pid, signal);
  };
  let err = '';
  if (opts.captureStderr) child.stderr!.on('data', (b: Buffer) => (err = (err + b.toString('utf8')).slice(-2000)));
  const done = new Promise<HostOutcome>((resolve) => {
    let reply: HostReply | undefined;
    let timedOut = false;
    const timer =
      opts.timeoutMs !== undefined
        ? setTimeout(() => {
            timedOut = true;
            kill('SIGKILL');
          }, opts.timeoutMs)
        : undefined;
    const tail = () => maskText(err.trim().split('\n').pop() ?? '', opts.mask);
    child.on('message', (m: HostReply) => (reply ??= maskReply(m, opts.mask)));
    child.once('error', (e) => {
      clearTimeout(timer);
      // A child that never started has no 'exit'; one that did start reports through 'exit' below.
      if (pid === undefined) resolve({ exitCode: null, signal: null, startError: `could not start node: ${e.message}`, timedOut, stderrTail: '' });
    });
    child.once('exit', (exitCode, signal) => {
      clearTimeout(timer);
      kill('SIGKILL');
      resolve({ reply, exitCode, signal, timedOut, stderrTail: tail() });
    });
  });
  // A child that could not start has no channel: its 'error' handler above answers, not this callback.
  if (pid !== undefined) child.send(opts.request, () => undefined);
  return { child, pid, kill, done };
}

/** "exit 3" or "signal SIGKILL", for messages about a child that ended early. */
export function endedBy(o: HostOutcome): string {
  return o.exitCode !== null ? `exit ${o.exitCode}` : `signal ${o.signal}`;
}
