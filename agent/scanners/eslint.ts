/**
 * Adapter for ESLint, the project's own: it runs only when the scanned directory has ESLint installed
 * (node_modules/.bin/eslint), with the project's ESLint config, as the build user. With the SARIF formatter
 * installed (@microsoft/eslint-formatter-sarif) its SARIF run is taken as it is; otherwise ESLint's json
 * output is converted (severity 2 -> error, 1 -> warning). File URIs become workspace-relative either way.
 * Without ESLint in the workspace the scanner reports that it skipped, and finds nothing.
 */
import { access } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { result, sarifRun, type SarifResult, type SarifRun, type Scanner } from './types';
import { runTool } from './tool-process';

const SARIF_FORMATTER = '@microsoft/eslint-formatter-sarif';

interface EslintFile {
  filePath: string;
  messages: { ruleId: string | null; severity: 1 | 2; message: string; line?: number; column?: number }[];
}

const exists = (p: string) => access(p).then(() => true, () => false);

/** ESLint's json formatter output -> SARIF results with workspace-relative paths. */
export function eslintResults(json: string, workspace: string): SarifResult[] {
  const out: SarifResult[] = [];
  for (const f of JSON.parse(json) as EslintFile[]) {
    const file = relative(workspace, f.filePath).split(sep).join('/');
    for (const m of f.messages) out.push(result(m.ruleId ?? 'eslint-fatal', m.severity === 2 ? 'error' : 'warning', m.message, file, m.line, m.column));
  }
  return out;
}

/** `file:///abs/...` URIs of the SARIF formatter -> workspace-relative paths. */
function relativize(run: SarifRun, workspace: string): SarifRun {
  for (const r of run.results ?? []) {
    for (const l of r.locations ?? []) {
      const a = l.physicalLocation?.artifactLocation;
      if (a?.uri?.startsWith('file://')) a.uri = relative(workspace, decodeURI(a.uri.slice('file://'.length))).split(sep).join('/');
    }
  }
  return run;
}

export const eslintScanner: Scanner = {
  name: 'eslint',
  version: '1.0.0',
  async run(ctx) {
    const bin = join(ctx.root, 'node_modules', '.bin', 'eslint');
    if (!(await exists(bin))) {
      ctx.log('eslint: skipped (no node_modules/.bin/eslint in the scanned directory)');
      const run = sarifRun('eslint', 'none', [], []);
      run.invocations = [{ executionSuccessful: true, toolExecutionNotifications: [{ level: 'note', message: { text: 'ESLint is not installed in the workspace: skipped' } }] }];
      return run;
    }
    const sarif = await exists(join(ctx.root, 'node_modules', ...SARIF_FORMATTER.split('/')));
    const run = await runTool(ctx, bin, ['--format', sarif ? SARIF_FORMATTER : 'json', '.'], ctx.root);
    // 0: no problems, 1: problems found; 2: ESLint could not run (bad config...).
    if (run.code !== 0 && run.code !== 1) throw new Error(`eslint failed (exit ${run.code}): ${run.stderr.trim() || run.stdout.slice(0, 2000)}`);
    let out: SarifRun;
    if (sarif) {
      out = relativize((JSON.parse(run.stdout) as { runs: SarifRun[] }).runs[0], ctx.workspace);
      out.tool.driver.name = 'eslint';
    } else out = sarifRun('eslint', 'json', [], eslintResults(run.stdout, ctx.workspace));
    ctx.log(`eslint (${sarif ? 'SARIF formatter' : 'json output'}): ${out.results.length} findings`);
    return out;
  },
};
