/**
 * The scan step: runs the listed scanners one after the other over the workspace and writes
 * their runs into one SARIF 2.1.0 file (shared/job/kinds/scan.ts SCAN_REPORT_PATH), which the runner then
 * attaches like any report; the master stores the findings, marks the new ones and answers the counts the
 * step's quality gate is checked against. The step itself fails only when a scanner cannot run (a missing
 * tool, a crash); findings fail it only through the gate. The scanners are those of the stage's executor
 * registry (ctx.scanners): the built-ins (agent/scanners) and the plugins' (agent/plugins, each run in a child
 * node process as the build user), so a plugin updated mid-stage does not change what this stage runs.
 */
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { createScanKind, SCAN_REPORT_PATH, type ScanConfig } from '../../shared/job/kinds/scan';
import { ScannerKinds } from '../../shared/job/scanner-kinds';
import { builtinScanners, ScannerUnavailableError, type SarifRun } from '../scanners';
import { defineExecutor, type ScannerSource, type StepContext, type StepResult, type StopReason } from './types';

/**
 * The agent's scan kind accepts any tool name and settings: the master validated them against the enabled
 * plugins' scanners; here the tools are checked against the scanners this stage has, and a plugin scanner
 * checks its settings with its own schema.
 */
const agentScanKind = createScanKind(ScannerKinds.anyKind());

/** A scan executor; `scanners` (tests) replaces the stage's registry. */
export function createScanExecutor(scanners?: ScannerSource) {
  return defineExecutor<ScanConfig>(agentScanKind, '1.0.0', (ctx, cfg) => runScan(ctx, cfg, scanners ?? ctx.scanners ?? builtinScanners()));
}

export const scanExecutor = createScanExecutor();

async function runScan(ctx: StepContext, cfg: ScanConfig, scanners: ScannerSource): Promise<StepResult> {
  const stopped = () => {
    const r = ctx.signal.reason as StopReason;
    return { status: r.status, exitCode: null, error: r.message } satisfies StepResult;
  };
  if (ctx.signal.aborted) return stopped();
  const unknown = cfg.tools.filter((t) => !scanners.scanner(t));
  if (unknown.length) return { status: 'error', exitCode: null, error: `scan: no scanner '${unknown[0]}' on this agent (has: ${scanners.scannerNames().join(', ')})` };
  ctx.started(Date.now());
  const root = resolve(ctx.workspace, cfg.path);
  if (root !== ctx.workspace && !root.startsWith(ctx.workspace + sep)) return { status: 'error', exitCode: null, error: `scan: path '${cfg.path}' leaves the workspace` };

  const runs: SarifRun[] = [];
  for (const name of cfg.tools) {
    if (ctx.signal.aborted) return stopped();
    const scanner = scanners.scanner(name)!;
    try {
      runs.push(
        await scanner.run({
          workspace: ctx.workspace,
          root,
          exclude: cfg.exclude,
          allowList: join(ctx.workspace, cfg.allowList),
          config: cfg.config[name] ?? {},
          env: ctx.env,
          runAs: ctx.runAs,
          signal: ctx.signal,
          log: (line) => ctx.output.write(`${line}\n`),
        }),
      );
    } catch (e) {
      if (ctx.signal.aborted) return stopped();
      const why = e instanceof ScannerUnavailableError ? e.message : `${name} failed: ${(e as Error).message}`;
      ctx.output.write(`scan: ${why}\n`);
      return { status: 'error', exitCode: null, error: `scan: ${why}` };
    }
  }

  const written = await writeReport(ctx, JSON.stringify({ $schema: 'https://json.schemastore.org/sarif-2.1.0.json', version: '2.1.0', runs }));
  if (written) {
    ctx.output.write(`scan: ${written}\n`);
    return { status: 'error', exitCode: null, error: `scan: ${written}` };
  }
  const counts = { findings: 0, high: 0, medium: 0, low: 0 };
  for (const run of runs) {
    for (const r of run.results) {
      counts.findings++;
      counts[r.level === 'error' ? 'high' : r.level === 'warning' ? 'medium' : 'low']++;
    }
  }
  return { status: 'success', exitCode: 0, outputs: counts };
}

/**
 * Writes the report into the workspace with the build user's rights: the workspace is theirs, so anything in
 * it (a `.slipway-scan` link to /etc planted by the repository) must not make the agent write or chown as
 * root. As root, a `sh` of the build user creates the directory and takes the report on stdin. Returns why
 * it failed, or undefined.
 */
async function writeReport(ctx: StepContext, text: string): Promise<string | undefined> {
  const file = join(ctx.workspace, SCAN_REPORT_PATH);
  if (!ctx.runAs) {
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, text);
    return undefined;
  }
  return new Promise((done) => {
    const child = spawn('sh', ['-c', 'mkdir -p "$(dirname "$1")" && cat > "$1"', 'sh', SCAN_REPORT_PATH], {
      cwd: ctx.workspace,
      env: { PATH: '/usr/bin:/bin' },
      uid: ctx.runAs!.uid,
      gid: ctx.runAs!.gid,
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err = (err + b.toString('utf8')).slice(-2000)));
    child.once('error', (e) => done(`could not write ${SCAN_REPORT_PATH}: ${e.message}`));
    child.once('close', (code) => done(code === 0 ? undefined : `could not write ${SCAN_REPORT_PATH} (exit ${code}): ${err.trim()}`));
    child.stdin.on('error', () => undefined);
    child.stdin.end(text);
  });
}
