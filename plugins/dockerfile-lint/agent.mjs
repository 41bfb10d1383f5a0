/**
 * The dockerfile-lint plugin's agent entry: one executor for the step kind `dockerfile-lint`.
 * The agent calls run(step) in a child process running as the job's build user, with the step's config
 * already checked against the manifest's JSON Schema; stdout/stderr (and step.log) go to the build log.
 */
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { lint, RULES } from './rules.mjs';

const REPORT = '.slipway-plugins/dockerfile-lint.sarif';
const SKIP = new Set(['.git', 'node_modules', '.slipway-plugins']);
const isDockerfile = (name) => name === 'Dockerfile' || name.startsWith('Dockerfile.') || name.endsWith('.Dockerfile') || name.endsWith('.dockerfile');

async function find(path, out) {
  const st = await stat(path).catch(() => undefined);
  if (!st) return;
  if (st.isFile()) return void out.push(path);
  if (!st.isDirectory()) return;
  for (const e of await readdir(path, { withFileTypes: true })) {
    if (SKIP.has(e.name) || e.isSymbolicLink()) continue;
    if (e.isDirectory()) await find(join(path, e.name), out);
    else if (e.isFile() && isDockerfile(e.name)) out.push(join(path, e.name));
  }
}

export const executors = {
  'dockerfile-lint': {
    async run(step) {
      const { config, workspace, plugin } = step;
      const files = [];
      for (const p of config.paths ?? ['.']) {
        const abs = join(workspace, p);
        if (relative(workspace, abs).startsWith('..')) return { status: 'failed', error: `paths: '${p}' leaves the workspace` };
        await find(abs, files);
      }
      const results = [];
      for (const file of files.sort()) {
        const rel = relative(workspace, file);
        for (const f of lint(await readFile(file, 'utf8'), config.ignore ?? [])) {
          step.log(`${rel}:${f.line}: ${f.rule} ${f.level}: ${f.message}`);
          results.push({
            ruleId: f.rule,
            level: f.level,
            message: { text: f.message },
            locations: [{ physicalLocation: { artifactLocation: { uri: rel }, region: { startLine: f.line } } }],
          });
        }
      }
      const sarif = {
        $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
        version: '2.1.0',
        runs: [{ tool: { driver: { name: 'dockerfile-lint', version: plugin.version, rules: Object.entries(RULES).map(([id, r]) => ({ id, shortDescription: { text: r.text } })) } }, results }],
      };
      await mkdir(join(workspace, '.slipway-plugins'), { recursive: true });
      await writeFile(join(workspace, REPORT), JSON.stringify(sarif));
      step.log(`dockerfile-lint ${plugin.version}: ${results.length} finding(s) in ${files.length} Dockerfile(s)`);
      const failing = config.failOn === 'none' ? [] : results.filter((r) => r.level === 'error' || (config.failOn === 'warning' && r.level === 'warning'));
      return {
        status: failing.length ? 'failed' : 'success',
        outputs: { findings: results.length, files: files.length },
        ...(failing.length ? { error: `dockerfile-lint: ${failing.length} finding(s) at level ${config.failOn} or above` } : {}),
      };
    },
  },
};
