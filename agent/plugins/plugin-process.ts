/**
 * Runs plugin code out of the agent's process: every step of a plugin kind runs in a fresh `node` child (as
 * the job's build user when the agent is root, in its own process group), which imports the plugin's agent
 * entry and calls its executor; the load check (describe) imports it the same way. So a plugin that throws,
 * crashes, calls process.exit or leaks an async exception fails its step and never the agent, and a
 * plugin's code gets the rights of the build it runs for, never the agent's (its token, other jobs). The
 * child and its contract are shared/node/plugin-host.ts, the same host the master runs notifiers in; this
 * file turns its outcomes into step results, scan runs and converted reports.
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
import { createInterface } from 'node:readline';
import type { SarifRun, ScanContext } from '../scanners/types';
import type { RunAs, StepContext, StepResult, StopReason } from '../executors/types';
import { endedBy, startPluginHost, type HostOutcome, type HostReply } from '../../shared/node/plugin-host';

export interface PluginCode {
  name: string;
  version: string;
  /** The unpacked package (agent work dir, keyed by name@version). */
  dir: string;
  /** Absolute path of the agent entry module. */
  entry: string;
}

/** The failure a reply (or its absence) stands for, as `${who}...` text; undefined for a result. */
function failure(who: string, what: string, o: HostOutcome): string | undefined {
  if (o.startError) return `${who}: ${o.startError}`;
  const r = o.reply;
  if (!r) return `${who}: its process ended (${endedBy(o)}) before ${what} answered${o.stderrTail ? `: ${o.stderrTail}` : ''}`;
  if ('loadError' in r) return `${who} failed to load: ${r.loadError}`;
  if ('threw' in r) return `${who}: ${what} threw: ${r.threw}`;
  if ('crashed' in r) return `${who}: ${what} crashed: ${r.crashed}`;
  if (!('result' in r)) return `${who}: unexpected answer`;
  return undefined;
}

/**
 * Imports the plugin's entry in a child (as `runAs`) and returns the step kinds it exports executors for.
 * Throws with the import's error. Bounded by `timeoutMs`.
 */
export async function describePlugin(code: PluginCode, runAs: RunAs | undefined, timeoutMs = 30_000): Promise<{ kinds: string[]; scanners: string[]; reportFormats: string[] }> {
  const o = await startPluginHost({
    entry: code.entry,
    cwd: code.dir,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8' },
    runAs,
    request: { mode: 'describe' },
    stdout: 'ignore',
    captureStderr: true,
    errors: 'stack',
    timeoutMs,
  }).done;
  if (o.startError) throw new Error(o.startError);
  const r: HostReply | undefined = o.reply;
  if (r && 'kinds' in r) return { kinds: r.kinds, scanners: r.scanners, reportFormats: r.reportFormats };
  if (!r) throw new Error(`importing ${code.entry} did not finish (${o.timedOut ? `killed after ${timeoutMs} ms` : endedBy(o)})${o.stderrTail ? `: ${o.stderrTail}` : ''}`);
  throw new Error('loadError' in r ? r.loadError : 'crashed' in r ? r.crashed : 'unexpected answer');
}

/** Runs one step of a plugin kind (see the header). Never rejects: every failure is a StepResult naming the plugin. */
export function runPluginStep(code: PluginCode, ctx: StepContext, config: Record<string, unknown>): Promise<StepResult> {
  const who = `plugin ${code.name}@${code.version}`;
  if (ctx.signal.aborted) {
    const r = ctx.signal.reason as StopReason;
    return Promise.resolve({ status: r.status, exitCode: null, error: r.message });
  }
  const step = { kind: ctx.step.kind, config, workspace: ctx.workspace, outputFile: ctx.env.SLIPWAY_OUTPUT, plugin: { name: code.name, version: code.version, dir: code.dir } };
  const host = startPluginHost({
    entry: code.entry,
    cwd: ctx.workspace,
    env: { ...ctx.env, SLIPWAY_PLUGIN_DIR: code.dir },
    runAs: ctx.runAs,
    request: { mode: 'run', step },
    stdout: 'pipe',
    captureStderr: false,
    errors: 'stack',
  });
  if (host.pid !== undefined) ctx.started(Date.now());
  let stopped: StopReason | undefined;
  let killTimer: NodeJS.Timeout | undefined;
  const onAbort = () => {
    stopped = ctx.signal.reason as StopReason;
    host.kill('SIGTERM');
    killTimer = setTimeout(() => host.kill('SIGKILL'), stopped.graceMs);
  };
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  const reading = host.pid !== undefined ? Promise.all([ctx.output.attach(host.child.stdout!), ctx.output.attach(host.child.stderr!)]) : Promise.resolve();
  return host.done.then(async (o) => {
    await reading;
    clearTimeout(killTimer);
    ctx.signal.removeEventListener('abort', onAbort);
    if (stopped) return { status: stopped.status, exitCode: null, error: stopped.message };
    return toResult(who, ctx.step.kind, o);
  });
}

/**
 * Runs scanner `kind` of a plugin over ctx's workspace in a child (as the build user), its output lines into
 * the step log, and returns its SARIF run. Throws an Error naming the plugin when the scanner throws, crashes,
 * exits early or returns something that is not a SARIF run; the step's signal kills its process group.
 */
export async function runPluginScanner(code: PluginCode, kind: string, ctx: ScanContext): Promise<SarifRun> {
  const who = `plugin ${code.name}@${code.version}`;
  const scan = { kind, config: ctx.config, workspace: ctx.workspace, root: ctx.root, exclude: ctx.exclude, plugin: { name: code.name, version: code.version, dir: code.dir } };
  const host = startPluginHost({
    entry: code.entry,
    cwd: ctx.workspace,
    env: { ...ctx.env, SLIPWAY_PLUGIN_DIR: code.dir },
    runAs: ctx.runAs,
    request: { mode: 'scan', scan },
    stdout: 'pipe',
    captureStderr: false,
    errors: 'stack',
  });
  const onAbort = () => host.kill('SIGKILL');
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  const lines = (s: NodeJS.ReadableStream) => new Promise<void>((done) => createInterface({ input: s }).on('line', (l) => ctx.log(l)).once('close', done));
  const reading = host.pid !== undefined ? Promise.all([lines(host.child.stdout!), lines(host.child.stderr!)]) : Promise.resolve();
  const o = await host.done;
  await reading;
  ctx.signal.removeEventListener('abort', onAbort);
  const failed = failure(who, `the '${kind}' scanner`, o);
  if (failed) throw new Error(failed);
  const run = (o.reply as { result: unknown }).result as SarifRun | null;
  if (!run || typeof run !== 'object' || typeof run.tool?.driver?.name !== 'string' || !Array.isArray(run.results)) {
    throw new Error(`${who}: the '${kind}' scanner returned no SARIF run ({ tool: { driver: { name } }, results: [] })`);
  }
  run.tool.driver.rules ??= [];
  return run;
}

/**
 * Converts a report file with a plugin's report format, in a child as the build user (it reads the workspace
 * file itself, so the agent never reads the build's files with its own rights), and returns the converted
 * text. Throws an Error naming the plugin on any failure, or after `timeoutMs`.
 */
export async function runPluginConverter(
  code: PluginCode,
  req: { name: string; to: string; path: string; workspace: string; env: Record<string, string>; runAs?: RunAs },
  timeoutMs = 120_000,
): Promise<string> {
  const who = `plugin ${code.name}@${code.version}`;
  const convert = { name: req.name, to: req.to, path: req.path, workspace: req.workspace, plugin: { name: code.name, version: code.version, dir: code.dir } };
  const o = await startPluginHost({
    entry: code.entry,
    cwd: req.workspace,
    env: { ...req.env, SLIPWAY_PLUGIN_DIR: code.dir },
    runAs: req.runAs,
    request: { mode: 'convert', convert },
    stdout: 'ignore',
    captureStderr: true,
    errors: 'stack',
    timeoutMs,
  }).done;
  const failed = failure(who, `the '${req.name}' converter`, o);
  if (failed) throw new Error(failed);
  const out = (o.reply as { result: unknown }).result;
  if (typeof out !== 'string') throw new Error(`${who}: the '${req.name}' converter returned no text (it returns the ${req.to} document as a string)`);
  return out;
}

function toResult(who: string, kind: string, o: HostOutcome): StepResult {
  const failed = failure(who, `the '${kind}' executor`, o);
  if (failed) return { status: 'error', exitCode: null, error: failed };
  const result = (o.reply as { result: unknown }).result;
  const r = (result && typeof result === 'object' ? result : {}) as { status?: unknown; outputs?: unknown; error?: unknown; exitCode?: unknown };
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
