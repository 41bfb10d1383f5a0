/**
 * The eslint-sarif plugin's agent entry: the scanner `eslint` of the scan step. The agent calls scan(ctx) in
 * a child node process running as the job's build user, with ctx.config already checked against the
 * manifest's JSON Schema. It runs the project's own ESLint (node_modules/.bin/eslint under ctx.root, with the
 * project's config): with the SARIF formatter (@microsoft/eslint-formatter-sarif) installed there, its SARIF
 * run is taken as it is; otherwise ESLint's json output is converted (severity 2 -> error, 1 -> warning).
 * File URIs become workspace-relative either way. A project without ESLint is skipped, saying so.
 */
import { spawn } from 'node:child_process';
import { access } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';

const SARIF_FORMATTER = '@microsoft/eslint-formatter-sarif';
/** More output than this is ESLint gone wrong, not findings to keep. */
const MAX_STDOUT = 256 * 1024 * 1024;
const exists = (p) => access(p).then(() => true, () => false);
const rel = (workspace, abs) => relative(workspace, abs).split(sep).join('/');

function run(cmd, args, cwd) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    let size = 0;
    let err = '';
    child.stdout.on('data', (b) => {
      size += b.length;
      if (size <= MAX_STDOUT) out.push(b);
      else child.kill('SIGKILL');
    });
    child.stderr.on('data', (b) => (err = (err + b).slice(-4096)));
    child.once('error', reject);
    child.once('close', (code) => {
      if (size > MAX_STDOUT) return reject(new Error(`eslint wrote more than ${MAX_STDOUT} bytes`));
      resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: err });
    });
  });
}

function result(ruleId, level, text, uri, line, column) {
  return { ruleId, level, message: { text }, locations: [{ physicalLocation: { artifactLocation: { uri }, ...(line ? { region: { startLine: line, ...(column ? { startColumn: column } : {}) } } : {}) } }] };
}

/** ESLint's json formatter output -> SARIF results with workspace-relative paths. */
export function eslintResults(json, workspace) {
  const out = [];
  for (const f of JSON.parse(json)) {
    for (const m of f.messages) out.push(result(m.ruleId ?? 'eslint-fatal', m.severity === 2 ? 'error' : 'warning', m.message, rel(workspace, f.filePath), m.line, m.column));
  }
  return out;
}

/** `file:///abs/...` URIs of the SARIF formatter -> workspace-relative paths. */
function relativize(sarifRun, workspace) {
  for (const r of sarifRun.results ?? []) {
    for (const l of r.locations ?? []) {
      const a = l.physicalLocation?.artifactLocation;
      if (a?.uri?.startsWith('file://')) a.uri = rel(workspace, decodeURI(a.uri.slice('file://'.length)));
    }
  }
  return sarifRun;
}

const driver = (version, rules = []) => ({ name: 'eslint', version, rules });

export const scanners = {
  eslint: {
    async scan(ctx) {
      const { config, workspace, root } = ctx;
      const bin = join(root, 'node_modules', '.bin', 'eslint');
      if (!(await exists(bin))) {
        ctx.log('eslint: skipped (no node_modules/.bin/eslint in the scanned directory)');
        return {
          tool: { driver: driver('none') },
          results: [],
          invocations: [{ executionSuccessful: true, toolExecutionNotifications: [{ level: 'note', message: { text: 'ESLint is not installed in the workspace: skipped' } }] }],
        };
      }
      const hasSarif = await exists(join(root, 'node_modules', ...SARIF_FORMATTER.split('/')));
      const format = config.format ?? 'auto';
      if (format === 'sarif' && !hasSarif) throw new Error(`format sarif: ${SARIF_FORMATTER} is not installed in the scanned directory (npm install -D ${SARIF_FORMATTER})`);
      const sarif = format !== 'json' && hasSarif;
      const r = await run(bin, ['--format', sarif ? SARIF_FORMATTER : 'json', ...(config.patterns ?? ['.'])], root);
      // 0: no problems, 1: problems found; 2: ESLint could not run (bad config...).
      if (r.code !== 0 && r.code !== 1) throw new Error(`eslint failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.slice(0, 2000)}`);
      let out;
      if (sarif) {
        out = relativize(JSON.parse(r.stdout).runs[0], workspace);
        out.tool.driver.name = 'eslint';
      } else out = { tool: { driver: driver('json') }, results: eslintResults(r.stdout, workspace) };
      ctx.log(`eslint (${sarif ? 'SARIF formatter' : 'json output'}): ${out.results.length} findings`);
      return out;
    },
  },
};
