/**
 * The CLI against a real master and a real agent: login, apply (invalid file refused locally with
 * file:line, valid file created), trigger, logs -f following the build to its end.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli';
import { startAgent, startMaster, type TestMaster } from '../helpers/cluster';

let master: TestMaster;
let dir: string;
let env: Record<string, string>;
const suffix = Math.random().toString(36).slice(2, 8);
const team = `cli-${suffix}`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'slipway-cli-'));
  // A private config path: the test must never touch the real ~/.config/slipway.
  env = { SLIPWAY_CONFIG: join(dir, 'config.json'), SLIPWAY_URL: '', SLIPWAY_TOKEN: '' };
  master = await startMaster();
  await master.api.createTeam(team);
  await startAgent(master, { environment: 'ci' });
});

afterAll(async () => {
  await master?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const jobYaml = (name: string, command: string) => `name: ${name}
team: ${team}
params:
  - name: WHO
    default: nobody
stages:
  - name: build
    environment: ci
    steps:
      - sh: ${command}
`;

describe('slipway CLI', () => {
  it('refuses a wrong password with one line and exit code 1, and stores nothing', async () => {
    const r = await runCli(['login', '--url', master.url, '--user', 'admin', '--password', 'wrong'], { env });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^error: /);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(() => statSync(env.SLIPWAY_CONFIG)).toThrow();
  });

  it('logs in with the password on stdin and stores url + token with mode 0600', async () => {
    const r = await runCli(['login', '--url', master.url, '--user', 'admin'], { env, input: `${master.adminPassword}\n` });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`logged in to ${master.url} as admin`);
    expect(statSync(env.SLIPWAY_CONFIG).mode & 0o777).toBe(0o600);
    const stored = JSON.parse(readFileSync(env.SLIPWAY_CONFIG, 'utf8'));
    expect(stored.url).toBe(master.url);
    expect(typeof stored.token).toBe('string');
  });

  it('apply -f of an invalid file prints file:line and creates nothing', async () => {
    const file = join(dir, 'broken.yml');
    writeFileSync(file, jobYaml(`broken-${suffix}`, 'echo hi').replace('environment: ci', 'environment: ci\n    timeout: soon'));
    const r = await runCli(['apply', '-f', file], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${file}:9:14: stages[0].timeout: not a duration: "soon"`);
    const jobs = await master.api.listJobs();
    expect(jobs.map((j) => j.name)).not.toContain(`broken-${suffix}`);
  });

  it('apply, trigger with a parameter and logs -f print the step output and exit 0', async () => {
    const name = `hello-${suffix}`;
    const file = join(dir, 'hello.yml');
    writeFileSync(file, jobYaml(name, 'echo "hello from $WHO"; echo second line'));
    const applied = await runCli(['apply', '-f', file], { env });
    expect(applied.stderr).toBe('');
    expect(applied.stdout).toContain(`job ${name} (team ${team}) applied: build@ci`);

    const trig = await runCli(['trigger', name, '-p', 'WHO=cli-test', '--json'], { env });
    expect(trig.code).toBe(0);
    const build = JSON.parse(trig.stdout);
    expect(build).toMatchObject({ job: name, number: 1, params: { WHO: 'cli-test' } });

    const logs = await runCli(['logs', String(build.id), '-f'], { env });
    expect(logs.stdout).toContain('hello from cli-test\nsecond line\n');
    expect(logs.stderr).toContain(`build ${build.id} success`);
    expect(logs.code).toBe(0);

    const list = await runCli(['builds', name], { env });
    expect(list.stdout).toMatch(new RegExp(`${build.id}\\s+${name}#1\\s+success`));
  });

  it('trigger --follow exits 1 when the build fails', async () => {
    const name = `fails-${suffix}`;
    const file = join(dir, 'fails.yml');
    writeFileSync(file, jobYaml(name, 'echo about to fail; exit 3'));
    expect((await runCli(['apply', '-f', file], { env })).code).toBe(0);
    const r = await runCli(['trigger', name, '--follow'], { env });
    expect(r.stdout).toContain('about to fail');
    expect(r.code).toBe(1);
    const detail = await runCli(['build', r.stdout.match(/^build (\d+)/)![1]], { env });
    expect(detail.stdout).toMatch(/build \d+: fails-\w+#1 failed/);
    expect(detail.stdout).toContain('exit 3');
  });

  it('rerun starts a new build of a failed one; approve refuses a build that is not waiting', async () => {
    const name = `rerun-${suffix}`;
    const file = join(dir, 'rerun.yml');
    writeFileSync(file, jobYaml(name, 'echo run; exit 2'));
    expect((await runCli(['apply', '-f', file], { env })).code).toBe(0);
    const first = await runCli(['trigger', name, '--follow'], { env });
    const id = first.stdout.match(/^build (\d+)/)![1];
    const rerun = await runCli(['rerun', id], { env });
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stdout).toMatch(new RegExp(`^build \\d+ \\(${name}#2\\) (queued|running)`));
    const approve = await runCli(['approve', id], { env });
    expect(approve.code).toBe(1);
    expect(approve.stderr.trim()).toMatch(/^error: build \d+ is not waiting for approval \(status failed\)$/);
  });

  it('agents lists the connected agent; an unknown job is one clear error line', async () => {
    const agents = await runCli(['agents'], { env });
    expect(agents.stdout).toMatch(/agent-\w+\s+ci\s+(connected|busy)/);
    const missing = await runCli(['trigger', `nope-${suffix}`], { env });
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toMatch(/^error: .*nope-\w+.*not found$/);
  });

  it('the master serves the web UI (built by npm test and npm run up) with its assets', async () => {
    const res = await fetch(`${master.url}/`);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('<title>Slipway</title>');
    const script = /<script type="module"[^>]* src="(\/assets\/[^"]+\.js)"/.exec(html);
    expect(script, html).not.toBeNull();
    const js = await fetch(`${master.url}${script![1]}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/javascript/);
  });
});
