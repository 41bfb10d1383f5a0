/**
 * Adapter for shellcheck (Debian's package): `shellcheck -f json1` over the workspace's shell scripts (*.sh,
 * *.bash), converted to SARIF. shellcheck levels map error -> error, warning -> warning, info and style ->
 * note; rules are SC<code>. shellcheck missing from the agent's PATH fails the step, saying so.
 */
import { result, sarifRun, ScannerUnavailableError, type SarifResult, type Scanner } from './types';
import { runTool } from './tool-process';
import { walkFiles } from './walk';

/** Files per shellcheck call (argv length). */
const BATCH = 200;
const LEVEL = { error: 'error', warning: 'warning', info: 'note', style: 'note' } as const;

interface Json1 {
  comments: { file: string; line: number; column: number; level: keyof typeof LEVEL; code: number; message: string }[];
}

/** shellcheck's json1 output -> SARIF results (files as given, workspace-relative). */
export function shellcheckResults(json: string): SarifResult[] {
  const doc = JSON.parse(json) as Json1;
  return (doc.comments ?? []).map((c) => result(`SC${c.code}`, LEVEL[c.level] ?? 'warning', c.message, c.file, c.line, c.column));
}

export const shellcheckScanner: Scanner = {
  name: 'shellcheck',
  version: '1.0.0',
  async run(ctx) {
    const files: string[] = [];
    for await (const f of walkFiles(ctx.workspace, ctx.root, ctx.exclude, (p) => /\.(sh|bash)$/.test(p))) files.push(f.path);
    const results: SarifResult[] = [];
    const v = await runTool(ctx, 'shellcheck', ['--version'], ctx.workspace);
    if (v.missing) throw new ScannerUnavailableError('shellcheck is not installed on this agent (Debian: apt-get install shellcheck)');
    const version = /version:\s*(\S+)/.exec(v.stdout)?.[1] ?? 'unknown';
    for (let i = 0; i < files.length; i += BATCH) {
      const run = await runTool(ctx, 'shellcheck', ['-f', 'json1', '--', ...files.slice(i, i + BATCH)], ctx.workspace);
      // 0: clean, 1: findings; anything else is shellcheck failing.
      if (run.code !== 0 && run.code !== 1) throw new Error(`shellcheck failed (exit ${run.code}): ${run.stderr.trim()}`);
      results.push(...shellcheckResults(run.stdout));
    }
    ctx.log(`shellcheck ${version}: ${files.length} scripts, ${results.length} findings`);
    const rules = [...new Set(results.map((r) => r.ruleId))].map((id) => ({ id, description: `ShellCheck ${id} (https://www.shellcheck.net/wiki/${id})`, level: 'warning' as const }));
    const run = sarifRun('shellcheck', version, rules, results);
    run.tool.driver.informationUri = 'https://www.shellcheck.net';
    return run;
  },
};
