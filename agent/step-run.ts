/**
 * One step of a stage, the same for every kind: references to earlier outputs substituted into its config and
 * env, $SLIPWAY_OUTPUT set, the executor run under the step's timeout and the stage's signal, its outputs
 * read, checked against the kind's schema and masked, its reports uploaded (and the step failed on them only
 * when the job says so), then the agent:step-finished record.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gateProblems } from '../shared/job/gate';
import type { OutputsByStep, OutputValue } from '../shared/job/outputs';
import { substitute } from '../shared/job/outputs';
import type { AssignedStep, MasterAssign } from '../shared/protocol';
import { uploadReport, type UploadedReport } from './artifacts';
import type { RunAs, StepResult, StopReason } from './executors/types';
import { globFiles, type MatchedFile } from './glob';
import type { LogShipper } from './log-shipper';
import type { RecordLog } from './record-log';
import type { StageRunDeps } from './stage-run';
import { finalOutputs, maskOutputs, maskText, outputFileFor, readOutputFile } from './step-outputs';

/** What every step of one stage run shares. */
export interface StepRun {
  deps: StageRunDeps;
  assign: MasterAssign;
  workspace: string;
  runAs: RunAs | undefined;
  shipper: LogShipper;
  records: RecordLog;
  stageSignal: AbortSignal;
  /** Directory of the steps' $SLIPWAY_OUTPUT files (owned by runAs). */
  outputDir: string;
  /** Root-only directory for staged copies of workspace files. */
  stagingDir: string;
  secretValues: string[];
}

/** Env values are strings: a list output becomes one line per entry. */
function envString(v: OutputValue): string {
  return Array.isArray(v) ? v.join('\n') : String(v);
}

/** The step with references to earlier outputs replaced, or why that failed. */
function withReferences(raw: AssignedStep, outputs: OutputsByStep): AssignedStep | string {
  try {
    const env = Object.fromEntries(Object.entries(raw.env).map(([k, v]) => [k, envString(substitute(v, outputs))]));
    return { ...raw, config: substitute(raw.config, outputs), env };
  } catch (e) {
    return (e as Error).message;
  }
}

/** Runs step `index` of the stage to its step-finished record; resolves with its result (outputs included). */
export async function runStep(run: StepRun, index: number, baseEnv: Record<string, string>, outputs: OutputsByStep): Promise<StepResult> {
  const { deps, assign: a, shipper, records, stageSignal } = run;
  const raw = a.stage.steps[index];
  const controller = new AbortController();
  const forward = () => controller.abort(stageSignal.reason);
  if (stageSignal.aborted) forward();
  else stageSignal.addEventListener('abort', forward, { once: true });
  const timer = raw.timeoutMs
    ? setTimeout(
        () => controller.abort({ status: 'timeout', graceMs: deps.killGraceMs, message: `step '${raw.name}' timed out after ${raw.timeoutMs} ms` } satisfies StopReason),
        raw.timeoutMs,
      )
    : undefined;
  let startedAt: number | undefined;
  const started = (at: number) => {
    if (startedAt !== undefined) return;
    startedAt = at;
    records.appendEvent({ type: 'agent:step-started', stepIndex: index, at });
  };
  const executor = deps.executors.get(raw.kind);
  const outputFile = outputFileFor(run.outputDir, index);
  let result: StepResult;
  const step = withReferences(raw, outputs);
  if (typeof step === 'string') {
    result = { status: 'error', exitCode: null, error: step };
  } else if (!executor) {
    result = { status: 'error', exitCode: null, error: `no executor for step kind '${raw.kind}' on agent (has: ${deps.executors.list().filter((e) => !e.scanner).map((e) => e.kind).join(', ')})` };
  } else {
    result = await executor
      .run({
        step,
        workspace: run.workspace,
        env: { ...baseEnv, ...step.env, SLIPWAY_OUTPUT: outputFile },
        output: shipper,
        signal: controller.signal,
        runAs: run.runAs,
        started,
        source: a.source,
        secrets: a.secrets,
        workDir: deps.workspaces.workDir,
        settings: deps.executorSettings?.[raw.kind],
        host: deps.host ?? {},
        build: a.build,
        environment: deps.environment,
        agentName: deps.agentName,
        registries: a.registries ?? [],
        deployHooks: deps.deployHooks?.get(),
        leaseTtlMs: a.leaseTtlMs,
        deployPolicy: a.deployPolicy,
        masterSilentMs: deps.masterSilentMs ?? (() => 0),
        scanners: deps.executors,
      })
      .catch((e: unknown) => ({ status: 'error' as const, exitCode: null, error: `executor '${raw.kind}' failed: ${(e as Error).message}` }));
  }
  clearTimeout(timer);
  stageSignal.removeEventListener('abort', forward);

  let published: Record<string, OutputValue> | undefined;
  if (!controller.signal.aborted) {
    try {
      const checked = finalOutputs(executor?.def, await readOutputFile(outputFile, run.runAs), result.outputs);
      if ('error' in checked) {
        shipper.write(`${checked.error}\n`);
        if (result.status === 'success') result = { status: 'error', exitCode: result.exitCode, error: checked.error };
      } else if (Object.keys(checked.outputs).length) {
        published = maskOutputs(checked.outputs, run.secretValues);
        // A record the master refuses as too large would be replayed forever: refuse the outputs here instead.
        const bytes = Buffer.byteLength(JSON.stringify(published));
        if (bytes > deps.maxFrameBytes - 8192) {
          const error = `step outputs refused: ${bytes} bytes of JSON do not fit the master's frame limit (${deps.maxFrameBytes} bytes)`;
          shipper.write(`${error}\n`);
          published = undefined;
          if (result.status === 'success') result = { status: 'error', exitCode: result.exitCode, error };
        }
      }
    } catch (e) {
      shipper.write(`${(e as Error).message}\n`);
      if (result.status === 'success') result = { status: 'error', exitCode: result.exitCode, error: (e as Error).message };
    }
    result = await attachReports(run, index, raw, result);
  }

  // An executor's error may quote what the step saw (a plugin's exception message): masked like its log, before
  // it reaches the step's record or the stage's.
  if (result.error !== undefined) result = { ...result, error: maskText(result.error, run.secretValues) };
  const now = Date.now();
  started(now);
  shipper.flush();
  records.appendEvent({
    type: 'agent:step-finished',
    stepIndex: index,
    exitCode: result.exitCode,
    status: result.status,
    durationMs: Math.max(0, now - (startedAt ?? now)),
    error: result.error?.slice(0, 4096),
    ...(published ? { outputs: published } : {}),
    at: now,
  });
  return { ...result, outputs: published };
}

/**
 * Uploads the step's reports (after a failing step too: failing tests are what a report is for) and writes
 * what the master found into the step log. A report fails the step only when its spec says failStep.
 */
async function attachReports(run: StepRun, index: number, step: AssignedStep, result: StepResult): Promise<StepResult> {
  const { shipper, assign: a } = run;
  const readAs = run.runAs && { workspace: run.workspace, runAs: run.runAs, stagingDir: run.stagingDir };
  for (const spec of step.reports ?? []) {
    // A glob (reports/*.xml) attaches every file it matches; nothing matched is one missing report.
    const files = await globFiles(run.workspace, spec.path).catch(() => []);
    for (const file of files.length ? files : [undefined]) {
      const path = file?.path ?? spec.path;
      let problem: string | undefined;
      try {
        const summary: UploadedReport = spec.from && file ? await uploadConverted(run, index, spec, spec.from, file) : await uploadReport(run.deps.endpoint, a.stageRunId, a.epoch, index, spec, file, readAs);
        shipper.write(`${describeReport(summary)}\n`);
        if (summary.status !== 'parsed') problem = `${spec.format} report ${path}: ${summary.error}`;
        else if (summary.failures + summary.errors > 0) problem = `${spec.format} report ${path}: ${summary.failures} failed, ${summary.errors} errors of ${summary.tests} tests`;
        // A quality gate fails the step whatever failStep says: that is what a gate is for.
        const gated = spec.gate && summary.status === 'parsed' ? gateProblems(spec.gate, summary.findingsSummary ?? { total: ZERO, new: ZERO }) : [];
        if (gated.length) {
          const error = `quality gate failed (${path}): ${gated.join(', ')}`;
          shipper.write(`${error}\n`);
          if (result.status === 'success') result = { status: 'failed', exitCode: result.exitCode, error };
        } else if (spec.gate && summary.status === 'parsed') shipper.write(`quality gate passed (${path})\n`);
      } catch (e) {
        problem = `${spec.format} report ${path} not stored: ${(e as Error).message}`;
        shipper.write(`${problem}\n`);
      }
      if (problem && spec.failStep && result.status === 'success') result = { status: 'failed', exitCode: result.exitCode, error: problem };
    }
  }
  return result;
}

/**
 * A report written in a plugin's report format (`junit: { path, format: tap }`): the plugin converts it (as
 * the build user, reading the workspace file itself), the converted text is staged in an agent-owned file
 * and uploaded as `spec.format` under the file's own path. A conversion that fails is the report's problem.
 */
async function uploadConverted(run: StepRun, index: number, spec: { format: string; path: string }, from: string, file: MatchedFile): Promise<UploadedReport> {
  const converter = run.deps.executors.converter(from);
  if (!converter) throw new Error(`no converter for report format '${from}' on this agent (its plugin is not loaded here)`);
  if (converter.to !== spec.format) throw new Error(`report format '${from}' converts to ${converter.to}, not ${spec.format}`);
  const text = await converter.convert({ path: file.path, workspace: run.workspace, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', HOME: run.workspace }, runAs: run.runAs });
  const dir = await mkdtemp(join(tmpdir(), `slipway-report-${run.assign.stageRunId}-`));
  try {
    const abs = join(dir, 'report');
    await writeFile(abs, text);
    run.shipper.write(`${from} report ${file.path}: converted to ${spec.format} (report format ${from}@${converter.version})\n`);
    return await uploadReport(run.deps.endpoint, run.assign.stageRunId, run.assign.epoch, index, spec, { path: file.path, abs, size: Buffer.byteLength(text) });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const ZERO = { high: 0, medium: 0, low: 0 };

function describeReport(r: UploadedReport): string {
  if (r.status !== 'parsed') return `${r.format} report ${r.path}: ${r.status}: ${r.error}`;
  const f = r.findingsSummary;
  if (f) {
    const since = f.previousBuildId === null ? 'no successful build of the branch (all new)' : `build ${f.previousBuildId}`;
    const lines = [
      `${r.format} report ${r.path}: ${f.total.high} high, ${f.total.medium} medium, ${f.total.low} low findings; new since ${since}: ${f.new.high} high, ${f.new.medium} medium, ${f.new.low} low`,
    ];
    for (const x of f.top) lines.push(`  ${x.severity.toUpperCase()}${x.isNew ? ' NEW' : ''} ${x.ruleId} ${x.file ?? ''}${x.line ? `:${x.line}` : ''}: ${x.message.split('\n')[0].slice(0, 200)}`);
    return lines.join('\n');
  }
  const lines = [
    `${r.format} report ${r.path}: ${r.tests} tests, ${r.failures} failed, ${r.errors} errors, ${r.skipped} skipped (${(r.durationMs / 1000).toFixed(2)} s)`,
  ];
  for (const f of r.failed) lines.push(`  FAILED ${f.classname ? `${f.classname} > ` : ''}${f.name}${f.message ? `: ${f.message.split('\n')[0].slice(0, 200)}` : ''}`);
  return lines.join('\n');
}
