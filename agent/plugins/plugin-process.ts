/**
 * Runs plugin code out of the agent's process: every step of a plugin kind runs in a fresh `node` child (as
 * the job's build user when the agent is root, in its own process group), which imports the plugin's agent
 * entry and calls its executor; the load check (describe) imports it the same way. So a plugin that throws,
 * crashes, calls process.exit or leaks an async exception fails its step and never the agent, and a
 * plugin's code gets the rights of the build it runs for, never the agent's (its token, other jobs).
 *
 * The plugin side of the contract (plugins/README.md): the entry module exports
 *   export const executors = { [kind]: { async run(step) { ...; return { status, outputs, error } } } }
 * where step = { kind, config, workspace, outputFile, env, plugin: { name, version, dir }, log(text) }.
 * Its stdout and stderr go to the step's log; `run` resolving with nothing is a success.
 * A plugin's scanners (for the scan step) are exported the same way and run the same way, one child per tool:
 *   export const scanners = { [kind]: { async scan(ctx) { ...; return sarifRun } } }
 * where ctx = { kind, config, workspace, root, exclude, env, plugin, log(text) } and the result is one SARIF
 * 2.1.0 run ({ tool: { driver: { name, rules } }, results }) with workspace-relative file URIs.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { SarifRun, ScanContext } from '../scanners/types';
import type { RunAs, StepContext, StepResult, StopReason } from '../executors/types';
import { killGroup } from '../executors/shell';

/** The host program of the child, run with `node --input-type=module -e HOST <entry file>`. */
const HOST = `
import { pathToFileURL } from 'node:url';
const entry = process.argv[1];
const reply = (m) => new Promise((r) => process.send(m, () => r()));
const text = (e) => String((e && e.stack) || e).split('\\n').slice(0, 6).join('\\n');
for (const ev of ['uncaughtException', 'unhandledRejection']) {
  process.on(ev, async (e) => { await reply({ crashed: text(e) }); process.exit(70); });
}
process.once('message', async (req) => {
  let mod;
  try { mod = await import(pathToFileURL(entry).href); }
  catch (e) { await reply({ loadError: text(e) }); process.exit(0); }
  const executors = mod.executors ?? (mod.default && mod.default.executors);
  const kinds = executors && typeof executors === 'object' ? Object.keys(executors).filter((k) => executors[k] && typeof executors[k].run === 'function') : [];
  const scanners = mod.scanners ?? (mod.default && mod.default.scanners);
  const scannerKinds = scanners && typeof scanners === 'object' ? Object.keys(scanners).filter((k) => scanners[k] && typeof scanners[k].scan === 'function') : [];
  const formats = mod.reportFormats ?? (mod.default && mod.default.reportFormats);
  const formatNames = formats && typeof formats === 'object' ? Object.keys(formats).filter((k) => formats[k] && typeof formats[k].convert === 'function') : [];
  if (req.mode === 'describe') { await reply({ kinds, scanners: scannerKinds, reportFormats: formatNames }); process.exit(0); }
  if (req.mode === 'convert') {
    if (!formatNames.includes(req.convert.name)) { await reply({ loadError: 'the module exports no report format ' + JSON.stringify(req.convert.name) + ' (export const reportFormats = { ... })' }); process.exit(0); }
    try {
      const r = await formats[req.convert.name].convert({ ...req.convert });
      await reply({ result: r });
    } catch (e) { await reply({ threw: text(e) }); }
    process.exit(0);
  }
  if (req.mode === 'scan') {
    if (!scannerKinds.includes(req.scan.kind)) { await reply({ loadError: 'the module exports no scanner ' + JSON.stringify(req.scan.kind) + ' (export const scanners = { ... })' }); process.exit(0); }
    try {
      const log = (t) => { const s = String(t); process.stdout.write(s.endsWith('\\n') ? s : s + '\\n'); };
      const r = await scanners[req.scan.kind].scan({ ...req.scan, env: { ...process.env }, log });
      await reply({ result: r ?? null });
    } catch (e) { await reply({ threw: text(e) }); }
    process.exit(0);
  }
  if (!kinds.includes(req.step.kind)) { await reply({ loadError: 'the module exports no executor for step kind ' + JSON.stringify(req.step.kind) + ' (export const executors = { ... })' }); process.exit(0); }
  try {
    const log = (t) => { const s = String(t); process.stdout.write(s.endsWith('\\n') ? s : s + '\\n'); };
    const r = await executors[req.step.kind].run({ ...req.step, env: { ...process.env }, log });
    await reply({ result: r ?? {} });
  } catch (e) { await reply({ threw: text(e) }); }
  process.exit(0);
});
`;

type HostReply = { result: unknown } | { threw: string } | { crashed: string } | { loadError: string } | { kinds: string[]; scanners?: string[]; reportFormats?: string[] };

export interface PluginCode {
  name: string;
  version: string;
  /** The unpacked package (agent work dir, keyed by name@version). */
  dir: string;
  /** Absolute path of the agent entry module. */
  entry: string;
}

function startHost(code: PluginCode, opts: { cwd: string; env: Record<string, string>; runAs?: RunAs }) {
  return spawn(process.execPath, ['--input-type=module', '-e', HOST, code.entry], {
    cwd: opts.cwd,
    env: opts.env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    uid: opts.runAs?.uid,
    gid: opts.runAs?.gid,
    serialization: 'json',
  });
}

/**
 * Imports the plugin's entry in a child (as `runAs`) and returns the step kinds it exports executors for.
 * Throws with the import's error. Bounded by `timeoutMs`.
 */
export function describePlugin(code: PluginCode, runAs: RunAs | undefined, timeoutMs = 30_000): Promise<{ kinds: string[]; scanners: string[]; reportFormats: string[] }> {
  return new Promise((resolve, reject) => {
    const child = startHost(code, { cwd: code.dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8' }, runAs });
    let err = '';
    child.stderr!.on('data', (b: Buffer) => (err = (err + b.toString('utf8')).slice(-2000)));
    child.stdout!.resume();
    let answered = false;
    const timer = setTimeout(() => child.pid && killGroup(child.pid, 'SIGKILL'), timeoutMs);
    child.on('message', (m: HostReply) => {
      answered = true;
      if ('kinds' in m) resolve({ kinds: m.kinds, scanners: m.scanners ?? [], reportFormats: m.reportFormats ?? [] });
      else reject(new Error('loadError' in m ? m.loadError : 'crashed' in m ? m.crashed : 'unexpected answer'));
    });
    child.once('error', (e) => reject(new Error(`could not start node: ${e.message}`)));
    child.once('exit', (c, s) => {
      clearTimeout(timer);
      if (!answered) reject(new Error(`importing ${code.entry} did not finish (exit ${c ?? s})${err ? `: ${err.trim()}` : ''}`));
    });
    // A child that could not start has no channel: its 'error'/'exit' handlers above answer, not this callback.
    child.send({ mode: 'describe' }, () => undefined);
  });
}

/** Runs one step of a plugin kind (see the header). Never rejects: every failure is a StepResult naming the plugin. */
export function runPluginStep(code: PluginCode, ctx: StepContext, config: Record<string, unknown>): Promise<StepResult> {
  const who = `plugin ${code.name}@${code.version}`;
  if (ctx.signal.aborted) {
    const r = ctx.signal.reason as StopReason;
    return Promise.resolve({ status: r.status, exitCode: null, error: r.message });
  }
  return new Promise((resolve) => {
    const child = startHost(code, { cwd: ctx.workspace, env: { ...ctx.env, SLIPWAY_PLUGIN_DIR: code.dir }, runAs: ctx.runAs });
    const pid = child.pid;
    if (pid !== undefined) ctx.started(Date.now());
    let reply: HostReply | undefined;
    let stopped: StopReason | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      stopped = ctx.signal.reason as StopReason;
      if (pid === undefined) return;
      killGroup(pid, 'SIGTERM');
      killTimer = setTimeout(() => killGroup(pid, 'SIGKILL'), stopped.graceMs);
    };
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    const reading = Promise.all([ctx.output.attach(child.stdout!), ctx.output.attach(child.stderr!)]);
    child.on('message', (m: HostReply) => (reply ??= m));
    child.once('error', (e) => {
      ctx.signal.removeEventListener('abort', onAbort);
      resolve({ status: 'error', exitCode: null, error: `${who}: could not start node: ${e.message}` });
    });
    child.once('exit', (code, signal) => {
      if (pid !== undefined) killGroup(pid, 'SIGKILL');
      void reading.then(() => {
        clearTimeout(killTimer);
        ctx.signal.removeEventListener('abort', onAbort);
        if (stopped) return resolve({ status: stopped.status, exitCode: null, error: stopped.message });
        resolve(toResult(who, ctx.step.kind, reply, code, signal));
      });
    });
    const step = { kind: ctx.step.kind, config, workspace: ctx.workspace, outputFile: ctx.env.SLIPWAY_OUTPUT, plugin: { name: code.name, version: code.version, dir: code.dir } };
    child.send({ mode: 'run', step }, () => undefined);
  });
}

/**
 * Runs scanner `kind` of a plugin over ctx's workspace in a child (as the build user), its output lines into
 * the step log, and returns its SARIF run. Throws an Error naming the plugin when the scanner throws, crashes,
 * exits early or returns something that is not a SARIF run; the step's signal kills its process group.
 */
export function runPluginScanner(code: PluginCode, kind: string, ctx: ScanContext): Promise<SarifRun> {
  const who = `plugin ${code.name}@${code.version}`;
  return new Promise((resolve, reject) => {
    const child = startHost(code, { cwd: ctx.workspace, env: { ...ctx.env, SLIPWAY_PLUGIN_DIR: code.dir }, runAs: ctx.runAs });
    const pid = child.pid;
    let reply: HostReply | undefined;
    const onAbort = () => pid !== undefined && killGroup(pid, 'SIGKILL');
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    const lines = (s: NodeJS.ReadableStream) => new Promise<void>((done) => createInterface({ input: s }).on('line', (l) => ctx.log(l)).once('close', done));
    const reading = Promise.all([lines(child.stdout!), lines(child.stderr!)]);
    child.on('message', (m: HostReply) => (reply ??= m));
    child.once('error', (e) => {
      ctx.signal.removeEventListener('abort', onAbort);
      reject(new Error(`${who}: could not start node: ${e.message}`));
    });
    child.once('exit', (exit, signal) => {
      if (pid !== undefined) killGroup(pid, 'SIGKILL');
      void reading.then(() => {
        ctx.signal.removeEventListener('abort', onAbort);
        if (!reply) return reject(new Error(`${who}: its process ended (${exit !== null ? `exit ${exit}` : `signal ${signal}`}) before the '${kind}' scanner answered`));
        if ('loadError' in reply) return reject(new Error(`${who} failed to load: ${reply.loadError}`));
        if ('threw' in reply) return reject(new Error(`${who}: the '${kind}' scanner threw: ${reply.threw}`));
        if ('crashed' in reply) return reject(new Error(`${who}: the '${kind}' scanner crashed: ${reply.crashed}`));
        const run = 'result' in reply ? (reply.result as SarifRun | null) : null;
        if (!run || typeof run !== 'object' || typeof run.tool?.driver?.name !== 'string' || !Array.isArray(run.results)) {
          return reject(new Error(`${who}: the '${kind}' scanner returned no SARIF run ({ tool: { driver: { name } }, results: [] })`));
        }
        run.tool.driver.rules ??= [];
        resolve(run);
      });
    });
    const scan = { kind, config: ctx.config, workspace: ctx.workspace, root: ctx.root, exclude: ctx.exclude, plugin: { name: code.name, version: code.version, dir: code.dir } };
    child.send({ mode: 'scan', scan }, () => undefined);
  });
}

/**
 * Converts a report file with a plugin's report format, in a child as the build user (it reads the workspace
 * file itself, so the agent never reads the build's files with its own rights), and returns the converted
 * text. Throws an Error naming the plugin on any failure, or after `timeoutMs`.
 */
export function runPluginConverter(
  code: PluginCode,
  req: { name: string; to: string; path: string; workspace: string; env: Record<string, string>; runAs?: RunAs },
  timeoutMs = 120_000,
): Promise<string> {
  const who = `plugin ${code.name}@${code.version}`;
  return new Promise((resolve, reject) => {
    const child = startHost(code, { cwd: req.workspace, env: { ...req.env, SLIPWAY_PLUGIN_DIR: code.dir }, runAs: req.runAs });
    let reply: HostReply | undefined;
    let err = '';
    child.stdout!.resume();
    child.stderr!.on('data', (b: Buffer) => (err = (err + b.toString('utf8')).slice(-2000)));
    const timer = setTimeout(() => child.pid && killGroup(child.pid, 'SIGKILL'), timeoutMs);
    child.on('message', (m: HostReply) => (reply ??= m));
    child.once('error', (e) => reject(new Error(`${who}: could not start node: ${e.message}`)));
    child.once('exit', (exit, signal) => {
      clearTimeout(timer);
      if (child.pid) killGroup(child.pid, 'SIGKILL');
      if (!reply) return reject(new Error(`${who}: its process ended (${exit !== null ? `exit ${exit}` : `signal ${signal}`}) before the '${req.name}' converter answered${err ? `: ${err.trim().split('\n').pop()}` : ''}`));
      if ('loadError' in reply) return reject(new Error(`${who} failed to load: ${reply.loadError}`));
      if ('threw' in reply) return reject(new Error(`${who}: the '${req.name}' converter threw: ${reply.threw}`));
      if ('crashed' in reply) return reject(new Error(`${who}: the '${req.name}' converter crashed: ${reply.crashed}`));
      const out = 'result' in reply ? reply.result : undefined;
      if (typeof out !== 'string') return reject(new Error(`${who}: the '${req.name}' converter returned no text (it returns the ${req.to} document as a string)`));
      resolve(out);
    });
    const convert = { name: req.name, to: req.to, path: req.path, workspace: req.workspace, plugin: { name: code.name, version: code.version, dir: code.dir } };
    child.send({ mode: 'convert', convert }, () => undefined);
  });
}

function toResult(who: string, kind: string, reply: HostReply | undefined, code: number | null, signal: NodeJS.Signals | null): StepResult {
  if (!reply) return { status: 'error', exitCode: null, error: `${who}: its process ended (${code !== null ? `exit ${code}` : `signal ${signal}`}) before the '${kind}' executor answered` };
  if ('loadError' in reply) return { status: 'error', exitCode: null, error: `${who} failed to load: ${reply.loadError}` };
  if ('threw' in reply) return { status: 'error', exitCode: null, error: `${who}: the '${kind}' executor threw: ${reply.threw}` };
  if ('crashed' in reply) return { status: 'error', exitCode: null, error: `${who}: the '${kind}' executor crashed: ${reply.crashed}` };
  if (!('result' in reply)) return { status: 'error', exitCode: null, error: `${who}: unexpected answer` };
  const r = (reply.result && typeof reply.result === 'object' ? reply.result : {}) as { status?: unknown; outputs?: unknown; error?: unknown; exitCode?: unknown };
  if (r.status !== undefined && r.status !== 'success' && r.status !== 'failed') {
    return { status: 'error', exitCode: null, error: `${who}: the '${kind}' executor returned status ${JSON.stringify(r.status)} (allowed: success, failed)` };
  }
  const status = r.status ?? 'success';
  const outputs = r.outputs && typeof r.outputs === 'object' && !Array.isArray(r.outputs) ? (r.outputs as StepResult['outputs']) : undefined;
  return {
    status,
    exitCode: typeof r.exitCode === 'number' ? r.exitCode : status === 'success' ? 0 : 1,
    ...(typeof r.error === 'string' ? { error: r.error.slice(0, 2000) } : {}),
    ...(outputs ? { outputs } : {}),
  };
}
