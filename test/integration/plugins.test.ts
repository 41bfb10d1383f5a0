/**
 * Plugins end to end with a real master, real agent processes (as root: steps as the job's build user) and
 * real SQLite: the sample plugin (plugins/dockerfile-lint) is installed with the CLI, a job using its step kind
 * runs on an agent with that version (the log and the SARIF findings prove it), an update makes the next
 * build run the new version and the agent report it, disabling refuses apply and trigger with the reason.
 * Also: a protocol-incompatible or invalid manifest is refused at install naming the field; a non-admin
 * cannot install; a package whose bytes do not match the recorded sha256 is refused by the agent; a plugin
 * that throws, crashes or exits fails its step while the agent keeps running other builds.
 * Scanner plugins: plugins/eslint-sarif gives the scan step its eslint scanner (real ESLint and its SARIF
 * formatter, in a child node process as the build user); before it is installed and while it is disabled a
 * job naming the scanner is refused at apply (file:line:col, naming the plugin), and a queued stage waits.
 * Report-format plugins: plugins/tap-junit converts the TAP a real `node --test --test-reporter=tap` writes
 * into JUnit on the agent; the master stores the test results.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentInfo, BuildDetail } from '../../shared/api';
import { SlipwayError } from '../../shared/errors';
import { PROTOCOL_VERSION } from '../../shared/protocol';
import { runCli } from '../helpers/cli';
import { startAgent, startMaster, type TestAgent, type TestMaster } from '../helpers/cluster';
import { waitFor } from '../helpers/wait';

const REPO = join(import.meta.dirname, '..', '..');
const SAMPLE = join(REPO, 'plugins', 'dockerfile-lint');
const FAILING = join(REPO, 'test', 'fixtures', 'plugins', 'failing');
const ESLINT_PLUGIN = join(REPO, 'plugins', 'eslint-sarif');
const ESLINT_PROJECT = join(REPO, 'test', 'fixtures', 'quality', 'eslint-project');
const suffix = Math.random().toString(36).slice(2, 8);
const team = `pl-${suffix}`;
let master: TestMaster;
let agent: TestAgent;
let root: string;
let cliEnv: Record<string, string>;

/** A copy of a plugin folder with its manifest edited. */
function pluginCopy(src: string, file: 'package.json' | 'slipway-plugin.json', edit: (m: Record<string, any>) => void): string {
  const dir = mkdtempSync(join(root, 'plugin-'));
  cpSync(src, dir, { recursive: true });
  const m = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Record<string, any>;
  edit(m);
  writeFileSync(join(dir, file), JSON.stringify(m, null, 2));
  return dir;
}

/** `slipway plugin install PATH`: a .tgz, or a folder the CLI packs as npm pack does (package/...). */
async function install(path: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runCli(['plugin', 'install', path], { env: cliEnv });
}

async function finished(id: number): Promise<BuildDetail> {
  return waitFor(`build ${id} finished`, async () => {
    const b = await master.api.getBuild(id);
    return b.status !== 'queued' && b.status !== 'running' ? b : undefined;
  }, { timeoutMs: 90_000 });
}

async function agentPlugins(name: string): Promise<NonNullable<AgentInfo['plugins']>> {
  const a = (await master.api.listAgents()).find((x) => x.name === name);
  return a?.plugins ?? [];
}

const lintJob = (name: string, step = 'dockerfile-lint: { failOn: none }') => `name: ${name}
team: ${team}
stages:
  - name: lint
    environment: ci
    steps:
      - sh: printf 'FROM node:latest\\nADD src /app\\nUSER root\\nCMD node /app/server.js\\n' > Dockerfile
      - ${step}
`;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'slipway-plugins-'));
  master = await startMaster();
  await master.api.createTeam(team);
  agent = await startAgent(master, { environment: 'ci', name: `ci-${suffix}`, capacity: 2 });
  cliEnv = { SLIPWAY_URL: master.url, SLIPWAY_TOKEN: master.api.token!, SLIPWAY_CONFIG: join(root, 'cli.json') };
}, 60_000);

afterAll(async () => {
  await master?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe('plugin install, run, update, disable', () => {
  it('refuses a plugin incompatible with the protocol, and an invalid manifest, naming the field', async () => {
    const future = pluginCopy(SAMPLE, 'package.json', (m) => (m.slipway.protocol = '>=99'));
    const r = await install(future);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`plugin package refused: plugin dockerfile-lint@1.0.0: protocol: '>=99' does not include this master's protocol version ${PROTOCOL_VERSION}`);

    const bad = pluginCopy(SAMPLE, 'package.json', (m) => {
      m.slipway.provides.stepKinds[0].kind = 'Bad Kind';
      m.slipway.provides.stepKinds[0].config.type = 'array';
    });
    const r2 = await install(bad);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toContain('package.json: provides.stepKinds[0].kind: step kinds are lower-case letters');
    expect(r2.stderr).toContain('package.json: provides.stepKinds[0].config: the config JSON Schema must have "type": "object"');
    expect(await master.api.listPluginPackages()).toEqual([]);
  });

  it('lets only admins install', async () => {
    await master.api.createUser({ username: `dev-${suffix}`, password: 'dev-password-123' });
    await master.api.setMember(team, `dev-${suffix}`, 'maintainer');
    const dev = await master.login(`dev-${suffix}`, 'dev-password-123');
    const err = await dev.installPlugin(readFileSync(join(SAMPLE, 'package.json'))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SlipwayError);
    expect((err as SlipwayError).code).toBe('forbidden');
    await expect(dev.listPluginPackages()).rejects.toMatchObject({ code: 'forbidden' });
    expect(await master.api.listPluginPackages()).toEqual([]);
  });

  it('installs v1, runs it on the agent, updates to v2 which the next build runs, and disables it', async () => {
    const job = `lint-${suffix}`;
    // Before the install the kind is unknown, at its line and column.
    const file = join(root, 'lint.yml');
    writeFileSync(file, lintJob(job));
    const unknown = await runCli(['apply', '-f', file], { env: cliEnv });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/lint\.yml:8:26: stages\[0\]\.steps\[1\]\.dockerfile-lint: unknown step kind 'dockerfile-lint'/);

    // v1 as npm pack makes it (the real npm client, offline: pack reads the folder only).
    execFileSync('npm', ['pack', SAMPLE, '--pack-destination', root, '--silent'], { stdio: 'ignore' });
    const r1 = await install(join(root, 'dockerfile-lint-1.0.0.tgz'));
    expect(r1.stderr).toBe('');
    expect(r1.stdout).toBe('plugin dockerfile-lint@1.0.0 installed: step kinds dockerfile-lint\n');
    await waitFor('agent runs dockerfile-lint 1.0.0', async () => (await agentPlugins(agent.name)).some((p) => p.name === 'dockerfile-lint' && p.version === '1.0.0' && p.state === 'loaded'));
    const agents = await runCli(['agents'], { env: cliEnv });
    expect(agents.stdout).toContain('dockerfile-lint@1.0.0');

    // A bad value for the plugin's config is named at file:line:col, locally and by the master.
    const badFile = join(root, 'bad.yml');
    writeFileSync(badFile, lintJob(`bad-${suffix}`, 'dockerfile-lint: { failOn: sometimes }'));
    const bad = await runCli(['apply', '-f', badFile], { env: cliEnv });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/bad\.yml:8:36: stages\[0\]\.steps\[1\]\.dockerfile-lint\.failOn: /);
    await expect(master.api.applyJob(lintJob(`bad-${suffix}`, 'dockerfile-lint: { failOn: sometimes }'))).rejects.toThrow(/job\.yml:8:36: stages\[0\]\.steps\[1\]\.dockerfile-lint\.failOn/);

    const applied = await runCli(['apply', '-f', file], { env: cliEnv });
    expect(applied.stderr).toBe('');
    const b1 = await finished((await master.api.trigger(job)).id);
    const log1 = await master.api.buildLog(b1.id);
    expect(b1.status, log1).toBe('success');
    expect(log1).toContain('dockerfile-lint 1.0.0: 4 finding(s) in 1 Dockerfile(s)');
    expect(log1).toContain('Dockerfile:2: DL3020 error: Use COPY instead of ADD');
    expect(b1.stages[0].steps[1].outputs).toEqual({ findings: 4, files: 1 });
    // The SARIF report went through the report channel: the master holds the findings.
    const findings = await master.api.buildFindings(b1.id);
    expect(findings.findings.map((f) => `${f.ruleId}@${f.file}:${f.line}`).sort()).toEqual(['DL3002@Dockerfile:3', 'DL3007@Dockerfile:1', 'DL3020@Dockerfile:2', 'DL3025@Dockerfile:4']);
    expect(findings.findings.every((f) => f.tool === 'dockerfile-lint')).toBe(true);

    // Update: the same plugin at 1.1.0 replaces 1.0.0; the agent loads it and the next build runs it.
    const v2 = pluginCopy(SAMPLE, 'package.json', (m) => (m.version = '1.1.0'));
    const r2 = await install(v2);
    expect(r2.stdout).toBe('plugin dockerfile-lint@1.1.0 updated (was 1.0.0): step kinds dockerfile-lint\n');
    await waitFor('agent runs dockerfile-lint 1.1.0', async () => (await agentPlugins(agent.name)).some((p) => p.name === 'dockerfile-lint' && p.version === '1.1.0' && p.state === 'loaded'));
    const b2 = await finished((await master.api.trigger(job)).id);
    const log2 = await master.api.buildLog(b2.id);
    expect(b2.status, log2).toBe('success');
    expect(log2).toContain('dockerfile-lint 1.1.0: 4 finding(s)');
    const listed = await master.api.listPluginPackages();
    expect(listed).toMatchObject([{ name: 'dockerfile-lint', version: '1.1.0', previousVersion: '1.0.0', enabled: true, kinds: ['dockerfile-lint'] }]);
    expect(listed[0].agents).toEqual([{ agent: agent.name, environment: 'ci', version: '1.1.0', state: 'loaded' }]);
    const table = await runCli(['plugin', 'list'], { env: cliEnv });
    expect(table.stdout).toMatch(new RegExp(`^dockerfile-lint +1\\.1\\.0 +yes +dockerfile-lint +>=11 +${agent.name}:1\\.1\\.0 `, 'm'));
    // The step kinds list names the plugin's kind with the version each agent runs.
    expect((await master.api.listPlugins()).find((k) => k.kind === 'dockerfile-lint')?.agents).toEqual([{ agent: agent.name, version: '1.1.0' }]);
    // Installing the same bytes again changes nothing; the same version with other bytes is refused.
    expect((await install(v2)).stdout).toMatch(/dockerfile-lint@1\.1\.0 unchanged/);
    appendFileSync(join(v2, 'README.md'), '\nchanged\n');
    expect((await install(v2)).stderr).toMatch(/dockerfile-lint@1\.1\.0 is installed with other content .*give the new package a new version/);

    // Disable: agents unload it; apply and trigger are refused with the reason, at the step's line and column.
    const off = await runCli(['plugin', 'disable', 'dockerfile-lint'], { env: cliEnv });
    expect(off.stdout).toBe('plugin dockerfile-lint@1.1.0 disabled\n');
    await waitFor('agent unloaded dockerfile-lint', async () => !(await agentPlugins(agent.name)).some((p) => p.name === 'dockerfile-lint'));
    await expect(master.api.applyJob(lintJob(`other-${suffix}`))).rejects.toThrow(
      "job.yml:8:26: stages[0].steps[1].dockerfile-lint: step kind 'dockerfile-lint' is provided by plugin 'dockerfile-lint', which is disabled (slipway plugin enable dockerfile-lint)",
    );
    await expect(master.api.trigger(job)).rejects.toThrow(`job '${job}' cannot start: stage 'lint': step kind 'dockerfile-lint' is provided by plugin 'dockerfile-lint', which is disabled`);
    // The job stays listed; removing the plugin is refused while the job uses it.
    expect((await master.api.listJobs()).map((j) => j.name)).toContain(job);
    const rm = await runCli(['plugin', 'remove', 'dockerfile-lint'], { env: cliEnv });
    expect(rm.stderr).toContain(`plugin 'dockerfile-lint' is used by job '${job}'`);

    // Enabled again, the job runs again on the version installed last, also after a master restart.
    await runCli(['plugin', 'enable', 'dockerfile-lint'], { env: cliEnv });
    await waitFor('agent runs dockerfile-lint 1.1.0 again', async () => (await agentPlugins(agent.name)).some((p) => p.name === 'dockerfile-lint' && p.state === 'loaded'));

    // A stage queued while the plugin is disabled waits, saying why, and runs once it is enabled again.
    const twoStages = `name: two-${suffix}
team: ${team}
stages:
  - name: first
    environment: ci
    steps: [ { sh: 'sleep 2' } ]
  - name: lint
    environment: ci
    steps:
      - sh: printf 'FROM node:20\\n' > Dockerfile
      - dockerfile-lint: {}
`;
    await master.api.applyJob(twoStages);
    const queuedBuild = (await master.api.trigger(`two-${suffix}`)).id;
    await waitFor('first stage running', async () => (await master.api.getBuild(queuedBuild)).stages[0].status === 'running');
    await runCli(['plugin', 'disable', 'dockerfile-lint'], { env: cliEnv });
    const reason = "waiting: no agent of environment ci with step kind dockerfile-lint (step kind 'dockerfile-lint' is provided by plugin 'dockerfile-lint', which is disabled (slipway plugin enable dockerfile-lint))";
    await waitFor('the waiting reason', async () => (await master.api.getBuild(queuedBuild)).stages[1].waiting === reason, { timeoutMs: 30_000 });
    await runCli(['plugin', 'enable', 'dockerfile-lint'], { env: cliEnv });
    const two = await finished(queuedBuild);
    expect(two.status, await master.api.buildLog(queuedBuild)).toBe('success');
    expect(await master.api.buildLog(queuedBuild)).toContain('dockerfile-lint 1.1.0: 0 finding(s) in 1 Dockerfile(s)');

    const b3 = await finished((await master.api.trigger(job)).id);
    expect(await master.api.buildLog(b3.id)).toContain('dockerfile-lint 1.1.0: 4 finding(s)');
    const schema = (await master.api.request<{ stepKeys: Record<string, unknown> }>('GET', '/api/v1/plugins/schema')).stepKeys;
    expect(schema['dockerfile-lint']).toEqual(JSON.parse(readFileSync(join(SAMPLE, 'package.json'), 'utf8')).slipway.provides.stepKinds[0].config);
    await master.restart();
    cliEnv.SLIPWAY_TOKEN = master.api.token!;
    const b4 = await finished((await master.api.trigger(job)).id);
    expect(b4.status).toBe('success');
    expect(await master.api.buildLog(b4.id)).toContain('dockerfile-lint 1.1.0: 4 finding(s)');
  }, 240_000);
});

describe('scanner plugins', () => {
  /** A job that puts the ESLint fixture project (with the repository's ESLint and SARIF formatter) in its workspace and scans it. */
  const eslintJob = (name: string, first = '') => `name: ${name}
team: ${team}
stages:${first}
  - name: quality
    environment: ci
    steps:
      - sh: cp -r ${ESLINT_PROJECT}/. . && ln -s ${join(REPO, 'node_modules')} node_modules
      - scan: { tools: [secrets, eslint], config: { eslint: { patterns: [src] } }, gate: { high: 5 } }
`;

  it('runs the eslint scanner of the eslint-sarif plugin in the scan step; refuses it at apply while no enabled plugin provides it', async () => {
    const job = `eslint-${suffix}`;
    const file = join(root, 'eslint.yml');
    writeFileSync(file, eslintJob(job));
    const missing = "no enabled plugin provides scanner 'eslint' (known: dockerfile, secrets); the plugin 'eslint-sarif' provides it (slipway plugin install plugins/eslint-sarif)";
    const local = await runCli(['apply', '-f', file], { env: cliEnv });
    expect(local.code).toBe(1);
    expect(local.stderr).toContain(`eslint.yml:8:34: stages[0].steps[1].scan.tools[1]: ${missing}`);
    await expect(master.api.applyJob(eslintJob(job))).rejects.toThrow(`job.yml:8:34: stages[0].steps[1].scan.tools[1]: ${missing}`);

    const installed = await install(ESLINT_PLUGIN);
    expect(installed.stderr).toBe('');
    expect(installed.stdout).toBe('plugin eslint-sarif@1.0.0 installed: scanners eslint\n');
    await waitFor('agent runs eslint-sarif 1.0.0', async () => (await agentPlugins(agent.name)).some((p) => p.name === 'eslint-sarif' && p.state === 'loaded'));
    // Settings are checked with the plugin's JSON Schema, at their line and column.
    await expect(master.api.applyJob(eslintJob(job).replace('patterns: [src]', 'format: xml'))).rejects.toThrow(/job\.yml:8:71: stages\[0\]\.steps\[1\]\.scan\.config\.eslint\.format: /);
    expect((await runCli(['apply', '-f', file], { env: cliEnv })).stderr).toBe('');

    const b1 = await finished((await master.api.trigger(job)).id);
    const log1 = await master.api.buildLog(b1.id);
    expect(b1.status, log1).toBe('success');
    expect(log1).toContain('eslint (SARIF formatter): 3 findings');
    const findings = await master.api.buildFindings(b1.id);
    expect(findings.findings.filter((f) => f.tool === 'eslint').map((f) => `${f.ruleId}@${f.file}:${f.line}`).sort()).toEqual(['eqeqeq@src/app.js:3', 'no-eval@src/app.js:3', 'no-unused-vars@src/app.js:1']);
    const listed = (await master.api.listPluginPackages()).find((p) => p.name === 'eslint-sarif');
    expect(listed).toMatchObject({ version: '1.0.0', kinds: [], scanners: ['eslint'] });
    const table = await runCli(['plugin', 'list'], { env: cliEnv });
    expect(table.stdout).toMatch(/^eslint-sarif +1\.0\.0 +yes +scan:eslint /m);

    // Disabled: apply and trigger are refused naming the plugin; a stage queued meanwhile waits for the scanner.
    await runCli(['plugin', 'disable', 'eslint-sarif'], { env: cliEnv });
    const disabled = "scanner 'eslint' is provided by plugin 'eslint-sarif', which is disabled (slipway plugin enable eslint-sarif)";
    await expect(master.api.applyJob(eslintJob(`other-${suffix}`))).rejects.toThrow(`job.yml:8:34: stages[0].steps[1].scan.tools[1]: ${disabled}`);
    await expect(master.api.trigger(job)).rejects.toThrow(`job '${job}' cannot start: stage 'quality': ${disabled}`);
    const rm = await runCli(['plugin', 'remove', 'eslint-sarif'], { env: cliEnv });
    expect(rm.stderr).toContain(`plugin 'eslint-sarif' is used by job '${job}'`);
    await runCli(['plugin', 'enable', 'eslint-sarif'], { env: cliEnv });
    await waitFor('agent runs eslint-sarif again', async () => (await agentPlugins(agent.name)).some((p) => p.name === 'eslint-sarif' && p.state === 'loaded'));

    const twoStages = `\n  - name: first\n    environment: ci\n    steps: [ { sh: 'sleep 2' } ]`;
    await master.api.applyJob(eslintJob(`two-eslint-${suffix}`, twoStages));
    const queued = (await master.api.trigger(`two-eslint-${suffix}`)).id;
    await waitFor('first stage running', async () => (await master.api.getBuild(queued)).stages[0].status === 'running');
    await runCli(['plugin', 'disable', 'eslint-sarif'], { env: cliEnv });
    const reason = `waiting: no agent of environment ci with scanner eslint (${disabled})`;
    await waitFor('the waiting reason', async () => (await master.api.getBuild(queued)).stages[1].waiting === reason, { timeoutMs: 30_000 });
    await runCli(['plugin', 'enable', 'eslint-sarif'], { env: cliEnv });
    const two = await finished(queued);
    expect(two.status, await master.api.buildLog(queued)).toBe('success');
    expect(await master.api.buildLog(queued)).toContain('eslint (SARIF formatter): 3 findings');
  }, 180_000);
});

describe('report-format plugins', () => {
  it('converts a step report written as TAP by node --test with the tap-junit plugin; refuses the format before it is installed', async () => {
    const name = `tap-${suffix}`;
    const tapJob = `name: ${name}
team: ${team}
stages:
  - name: test
    environment: ci
    steps:
      - sh: cp -r ${join(REPO, 'test', 'fixtures', 'quality', 'tap-project')}/. .
      - test: { run: "node --test --test-reporter=tap test/ > out.tap || true", junit: { path: out.tap, format: tap } }
`;
    await expect(master.api.applyJob(tapJob)).rejects.toThrow(
      "job.yml:8:113: stages[0].steps[1].test.junit.format: unknown report format 'tap' (no plugin converts to junit; plugins/tap-junit converts tap)",
    );
    await expect(master.api.applyJob(tapJob.replace('junit: { path', 'sarif: { path'))).rejects.toThrow(/steps\[1\]\.test\.sarif\.format: unknown report format 'tap'/);
    const installed = await install(join(REPO, 'plugins', 'tap-junit'));
    expect(installed.stdout, installed.stderr).toBe('plugin tap-junit@1.0.0 installed: report formats tap\n');
    await waitFor('agent runs tap-junit', async () => (await agentPlugins(agent.name)).some((p) => p.name === 'tap-junit' && p.state === 'loaded'));
    await expect(master.api.applyJob(tapJob.replace('junit: { path', 'sarif: { path'))).rejects.toThrow(/test\.sarif\.format: report format 'tap' \(plugin 'tap-junit'\) converts to junit, not sarif/);
    await master.api.applyJob(tapJob);

    const b = await finished((await master.api.trigger(name)).id);
    const log = await master.api.buildLog(b.id);
    expect(log).toContain('tap report out.tap: converted to junit (report format tap@1.0.0)');
    expect(log).toMatch(/junit report out\.tap: 4 tests, 1 failed, 0 errors, 1 skipped/);
    const tests = await master.api.buildTests(b.id);
    expect(tests.map((t) => `${t.classname} > ${t.name}: ${t.status}`).sort()).toEqual([
      'math > adds: passed',
      'math > divides later: skipped',
      'math > multiplies: failed',
      'out.tap > top-level ok: passed',
    ]);
    expect(tests.find((t) => t.name === 'multiplies')?.message).toBe('two times three');

    // A file that is not TAP: the conversion fails, said in the log; the report is not stored.
    await master.api.applyJob(tapJob.replace('> out.tap || true', '> out.tap || true; echo hello > out.tap'));
    const bad = await finished((await master.api.trigger(name)).id);
    expect(await master.api.buildLog(bad.id)).toMatch(/junit report out\.tap not stored: plugin tap-junit@1\.0\.0: the 'tap' converter threw: Error: out\.tap is not TAP output/);
  }, 120_000);
});

describe('failing plugins', () => {
  it('a plugin that throws, crashes or exits fails its step with the reason; the agent keeps running builds', async () => {
    expect((await install(FAILING)).stdout).toContain('plugin failing@1.0.0 installed');
    await waitFor('agent runs failing 1.0.0', async () => (await agentPlugins(agent.name)).some((p) => p.name === 'failing' && p.state === 'loaded'));
    const job = (how: string) => `name: fail-${how}-${suffix}
team: ${team}
stages:
  - name: s
    environment: ci
    steps:
      - fail-how: { how: ${how} }
`;
    const expected: Record<string, RegExp> = {
      throw: /plugin failing@1\.0\.0: the 'fail-how' executor threw: Error: boom from the plugin/,
      crash: /plugin failing@1\.0\.0: the 'fail-how' executor crashed: Error: async boom from the plugin/,
      exit: /plugin failing@1\.0\.0: its process ended \(exit 3\) before the 'fail-how' executor answered/,
    };
    for (const how of Object.keys(expected)) await master.api.applyJob(job(how));
    await master.api.applyJob(job('ok'));
    const builds = await Promise.all(Object.keys(expected).map(async (how) => [how, await finished((await master.api.trigger(`fail-${how}-${suffix}`)).id)] as const));
    for (const [how, b] of builds) {
      expect(b.status).toBe('failed');
      expect(b.stages[0].steps[0].error).toMatch(expected[how]);
    }
    // A secret in what a plugin throws is masked like in its log (regression: step errors were not masked).
    await master.api.setSecret(team, 'PLUGIN_TOKEN', 'tok-9f8e7d6c5b4a');
    await master.api.applyJob(`${job('leak')}secrets: [PLUGIN_TOKEN]\n`);
    const leak = await finished((await master.api.trigger(`fail-leak-${suffix}`)).id);
    expect(leak.stages[0].steps[0].error).toMatch(/the 'fail-how' executor threw: Error: the API refused token \*\*\*/);
    expect(JSON.stringify(leak)).not.toContain('tok-9f8e7d6c5b4a');
    // The same agent process is still there and runs the next build.
    expect(agent.process.exitCode).toBeNull();
    const ok = await finished((await master.api.trigger(`fail-ok-${suffix}`)).id);
    expect(ok.status).toBe('success');
    expect(ok.stages[0].steps[0].outputs).toEqual({ how: 'ok', version: '1.0.0' });

    // An update while a stage runs: the stage finishes on the version it started with, the next build runs the new one.
    await master.api.applyJob(`name: slow-${suffix}\nteam: ${team}\nstages:\n  - name: s\n    environment: ci\n    steps:\n      - { id: a, fail-how: { how: slow } }\n      - { id: b, fail-how: { how: ok } }\n`);
    const running = (await master.api.trigger(`slow-${suffix}`)).id;
    await waitFor('slow step started', async () => (await master.api.getBuild(running)).stages[0].steps[0]?.status === 'running');
    expect((await install(pluginCopy(FAILING, 'slipway-plugin.json', (m) => (m.version = '1.1.0')))).stdout).toContain('plugin failing@1.1.0 updated (was 1.0.0)');
    await waitFor('agent runs failing 1.1.0', async () => (await agentPlugins(agent.name)).some((p) => p.name === 'failing' && p.version === '1.1.0' && p.state === 'loaded'));
    const during = await finished(running);
    expect(during.status).toBe('success');
    expect(during.stages[0].steps.map((s) => s.outputs?.version)).toEqual(['1.0.0', '1.0.0']);
    const after = await finished((await master.api.trigger(`fail-ok-${suffix}`)).id);
    expect(after.stages[0].steps[0].outputs).toEqual({ how: 'ok', version: '1.1.0' });
  }, 120_000);

  it('a plugin that fails to load is reported failed, and its steps fail with the reason', async () => {
    const broken = pluginCopy(FAILING, 'slipway-plugin.json', (m) => {
      m.name = 'broken';
      m.provides.stepKinds[0].kind = 'broken-kind';
    });
    writeFileSync(join(broken, 'agent.mjs'), "import './missing-helper.mjs';\nexport const executors = {};\n");
    expect((await install(broken)).stdout).toContain('plugin broken@1.0.0 installed');
    const state = await waitFor('agent reports broken', async () => (await agentPlugins(agent.name)).find((p) => p.name === 'broken'));
    expect(state.state).toBe('failed');
    expect(state.error).toMatch(/^plugin broken@1\.0\.0 failed to load: Error \[ERR_MODULE_NOT_FOUND\]: Cannot find module '.*missing-helper\.mjs'/);
    await master.api.applyJob(`name: broken-${suffix}\nteam: ${team}\nstages:\n  - name: s\n    environment: ci\n    steps:\n      - broken-kind: { how: ok }\n`);
    const b = await finished((await master.api.trigger(`broken-${suffix}`)).id);
    expect(b.status).toBe('failed');
    expect(b.stages[0].steps[0].error).toMatch(/^plugin broken@1\.0\.0 failed to load: Error \[ERR_MODULE_NOT_FOUND\]/);
    expect(agent.process.exitCode).toBeNull();
    await master.api.deleteJob(`broken-${suffix}`);
    expect((await runCli(['plugin', 'remove', 'broken'], { env: cliEnv })).stdout).toBe('plugin broken removed\n');
    await waitFor('agent dropped broken', async () => !(await agentPlugins(agent.name)).some((p) => p.name === 'broken'));
  }, 90_000);

  it('an agent refuses a package whose bytes do not match the sha256 the master recorded', async () => {
    await install(FAILING); // failing@1.0.0 (back from 1.1.0 when the tests before ran)
    const tampered = pluginCopy(FAILING, 'slipway-plugin.json', (m) => {
      m.name = 'tampered';
      m.provides.stepKinds[0].kind = 'tampered-kind';
    });
    expect((await install(tampered)).stdout).toContain('plugin tampered@1.0.0 installed');
    // Someone changes the stored package behind the master's back; an agent that has not fetched it yet starts.
    appendFileSync(join(master.dataDir, 'plugins', 'tampered', '1.0.0.tgz'), Buffer.from('evil'));
    // Its work dir holds a version the master no longer names, from an earlier life: removed at the first sync.
    // (Not under root: that is 0700, and plugin code runs as the build user, who must reach the work dir.)
    const workDir = mkdtempSync(join(tmpdir(), 'slipway-agent-seeded-'));
    mkdirSync(join(workDir, 'plugins', 'failing@0.9.0'), { recursive: true });
    const fresh = await startAgent(master, { environment: 'ci', name: `fresh-${suffix}`, args: ['--work-dir', workDir] });
    const state = await waitFor('fresh agent reports tampered', async () => (await agentPlugins(fresh.name)).find((p) => p.name === 'tampered'));
    expect(state.state).toBe('failed');
    expect(state.error).toMatch(/^plugin tampered@1\.0\.0 failed to load: sha256 mismatch: the master announced [0-9a-f]{64}, the package downloaded \(\d+ bytes\) has [0-9a-f]{64}; refused$/);
    // It provides no kind there, so nothing of it is scheduled on that agent; the other plugins load fine.
    expect((await agentPlugins(fresh.name)).find((p) => p.name === 'failing')?.state).toBe('loaded');
    await waitFor('stale plugin version removed', () => !existsSync(join(workDir, 'plugins', 'failing@0.9.0')));
    expect(existsSync(join(workDir, 'plugins', 'failing@1.0.0', 'agent.mjs'))).toBe(true);
    const info = (await master.api.listAgents()).find((a) => a.name === fresh.name)!;
    expect(info.kinds).not.toContain('tampered-kind');
    await fresh.stop();
    rmSync(workDir, { recursive: true, force: true });
  }, 90_000);
});
