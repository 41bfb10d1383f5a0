/**
 * The shellcheck-sarif plugin's agent entry: the scanner `shellcheck` of the scan step. The agent calls
 * scan(ctx) in a child node process running as the job's build user, with ctx.config already checked against
 * the manifest's JSON Schema. It runs Debian's shellcheck (`-f json1`) over the *.sh / *.bash files under
 * ctx.root (symbolic links, .git, node_modules and ctx.exclude globs skipped) and returns one SARIF 2.1.0 run:
 * levels error/warning/info+style -> error/warning/note, rules SC<code>, files workspace-relative.
 */
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';

/** Files per shellcheck call (argv length). */
const BATCH = 200;
const SKIP = new Set(['.git', 'node_modules', '.slipway-scan']);
const LEVEL = { error: 'error', warning: 'warning', info: 'note', style: 'note' };

/** A workspace-relative glob (`**`, `*`, `?`) as a RegExp. */
export function globRe(glob) {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*' && glob[i + 1] === '*') {
      re += glob[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += glob[i + 2] === '/' ? 2 : 1;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

async function scripts(workspace, root, exclude) {
  const out = [];
  const stack = [root];
  while (stack.length) {
    const dir = stack.pop();
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      const abs = join(dir, e.name);
      const path = relative(workspace, abs).split(sep).join('/');
      if (exclude.some((re) => re.test(path))) continue;
      if (e.isDirectory()) {
        if (!SKIP.has(e.name)) stack.push(abs);
      } else if (e.isFile() && /\.(sh|bash)$/.test(e.name)) out.push(path);
    }
  }
  return out.sort();
}

function run(args, cwd) {
  return new Promise((resolve, reject) => {
    const child = spawn('shellcheck', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    let err = '';
    child.stdout.on('data', (b) => out.push(b));
    child.stderr.on('data', (b) => (err = (err + b).slice(-4096)));
    child.once('error', (e) => reject(e.code === 'ENOENT' ? new Error('shellcheck is not installed on this agent (Debian: apt-get install shellcheck)') : e));
    child.once('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: err }));
  });
}

/** shellcheck's json1 output -> SARIF results. */
export function shellcheckResults(json) {
  return (JSON.parse(json).comments ?? []).map((c) => ({
    ruleId: `SC${c.code}`,
    level: LEVEL[c.level] ?? 'warning',
    message: { text: c.message },
    locations: [{ physicalLocation: { artifactLocation: { uri: c.file }, region: { startLine: c.line, startColumn: c.column } } }],
  }));
}

export const scanners = {
  shellcheck: {
    async scan(ctx) {
      const { config, workspace, root } = ctx;
      const files = await scripts(workspace, root, (ctx.exclude ?? []).map(globRe));
      const v = await run(['--version'], workspace);
      const version = /version:\s*(\S+)/.exec(v.stdout)?.[1] ?? 'unknown';
      const opts = [
        ...(config.severity ? ['-S', config.severity] : []),
        ...(config.shell ? ['-s', config.shell] : []),
        ...(config.exclude?.length ? ['-e', config.exclude.join(',')] : []),
      ];
      const results = [];
      for (let i = 0; i < files.length; i += BATCH) {
        const r = await run(['-f', 'json1', ...opts, '--', ...files.slice(i, i + BATCH)], workspace);
        // 0: clean, 1: findings; anything else is shellcheck failing.
        if (r.code !== 0 && r.code !== 1) throw new Error(`shellcheck failed (exit ${r.code}): ${r.stderr.trim()}`);
        results.push(...shellcheckResults(r.stdout));
      }
      ctx.log(`shellcheck ${version}: ${files.length} scripts, ${results.length} findings`);
      const rules = [...new Set(results.map((r) => r.ruleId))].map((id) => ({
        id,
        shortDescription: { text: `ShellCheck ${id} (https://www.shellcheck.net/wiki/${id})` },
        defaultConfiguration: { level: 'warning' },
      }));
      return { tool: { driver: { name: 'shellcheck', version, informationUri: 'https://www.shellcheck.net', rules } }, results };
    },
  },
};
