/**
 * Errors the master raises for a job sent as text name the file the client gave (`file` in the body of
 * POST /jobs, /jobs/validate and /jobs/:job/move), not `job.yml`: schema errors, local-repository refusals,
 * app-ownership collisions and push-grant refusals, through the API and through `slipway apply -f` with the path
 * as the user typed it. A bad `file` is invalid_request naming the field. Real master, real CLI process, and the
 * real registry for the push grant (the master pings it when a registry is added).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SlipwayError } from '../../shared/errors';
import { runCli } from '../helpers/cli';
import { startMaster, type TestMaster } from '../helpers/cluster';
import { requireDocker } from '../helpers/docker';
import { REPO_ROOT } from '../helpers/process';

let master: TestMaster;
const suffix = Math.random().toString(36).slice(2, 8);
const shop = `shop-${suffix}`;
const games = `games-${suffix}`;
const dir = mkdtempSync(join(tmpdir(), 'slipway-job-label-'));
const cliEnv = () => ({ SLIPWAY_URL: master.url, SLIPWAY_TOKEN: master.api.token!, SLIPWAY_CONFIG: join(dir, 'none.json') });

const deployJob = (name: string, team: string, app: string, repo = '') => `name: ${name}
team: ${team}
${repo}stages:
  - name: pre
    environment: pre
    steps:
      - deploy:
          app: ${app}
          composeInline: "services: { web: { image: x } }"
`;

/** Writes `text` to DIR/some/dir/rival.yml and returns that path as a user in the repository root would type it. */
function rivalFile(text: string): string {
  mkdirSync(join(dir, 'some', 'dir'), { recursive: true });
  const file = join(dir, 'some', 'dir', 'rival.yml');
  writeFileSync(file, text);
  return relative(REPO_ROOT, file);
}

async function failure(p: Promise<unknown>): Promise<SlipwayError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(SlipwayError);
  return err as SlipwayError;
}

/** The issues the CLI printed (`error: ISSUE` lines), each starting with `typed:`. */
function issueLines(stderr: string, typed: string): string[] {
  return stderr.split('\n').map((l) => l.replace(/^error: /, '').trim()).filter((l) => l.startsWith(`${typed}:`));
}

beforeAll(async () => {
  master = await startMaster();
  for (const t of [shop, games]) await master.api.createTeam(t);
  await master.api.applyJob(deployJob('web', shop, `web-${suffix}`));
}, 60_000);

afterAll(async () => {
  await master?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the master names the file the client gave', () => {
  it('schema errors through save and validate', async () => {
    const bad = deployJob('broken', games, `broken-${suffix}`).replace('environment: pre', 'environment: [pre]');
    for (const call of [() => master.api.applyJob(bad, 'some/dir/rival.yml'), () => master.api.validateJob(bad, 'some/dir/rival.yml')]) {
      const err = await failure(call());
      expect(err.code).toBe('invalid_job');
      expect(err.message).toMatch(/^some\/dir\/rival\.yml:5:18: stages\[0\]\.environment: /);
    }
    // Without a label the master keeps saying job.yml.
    expect((await failure(master.api.applyJob(bad))).message).toMatch(/^job\.yml:5:18: stages\[0\]\.environment: /);
  });

  it('a local-repository refusal through the CLI (the master alone knows its allowed directories)', async () => {
    const typed = rivalFile(deployJob('local', games, `local-${suffix}`, 'repo: { url: "file:///srv/elsewhere/local.git" }\n'));
    const cli = await runCli(['apply', '-f', typed], { env: cliEnv() });
    expect(cli.code).toBe(1);
    const lines = issueLines(cli.stderr, typed);
    expect(lines, cli.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^${escape(typed)}:3:14: repo\\.url: job 'local': repo\\.url 'file:///srv/elsewhere/local\\.git' is a local repository`));
  });

  it('an app-ownership collision through the CLI and on move', async () => {
    const typed = rivalFile(deployJob('rival', games, `web-${suffix}`));
    const cli = await runCli(['apply', '-f', typed], { env: cliEnv() });
    expect(cli.code).toBe(1);
    expect(issueLines(cli.stderr, typed), cli.stderr).toEqual([
      `${typed}:8:16: stages[0].steps[0].deploy.app: app 'web-${suffix}' is deployed by jobs of another team; choose another app name`,
    ]);

    // A typed path that cannot be a label (':' would read as file:line:col) is sent as its base name.
    const odd = join(dir, 'odd:dir');
    mkdirSync(odd);
    writeFileSync(join(odd, 'rival.yml'), deployJob('rival', games, `web-${suffix}`));
    const oddCli = await runCli(['apply', '-f', relative(REPO_ROOT, join(odd, 'rival.yml'))], { env: cliEnv() });
    expect(oddCli.code).toBe(1);
    expect(issueLines(oddCli.stderr, 'rival.yml'), oddCli.stderr).toEqual([
      `rival.yml:8:16: stages[0].steps[0].deploy.app: app 'web-${suffix}' is deployed by jobs of another team; choose another app name`,
    ]);

    await master.api.applyJob(deployJob('arcade', games, `arcade-${suffix}`));
    await master.api.applyJob(deployJob('arcade-2', shop, `arcade-${suffix}`).replace(`team: ${shop}`, `team: ${games}`));
    const err = await failure(master.api.moveJob(`${games}/arcade-2`, shop, 'arcade-2.yml'));
    expect([err.code, err.message]).toEqual([
      'invalid_job',
      `arcade-2.yml:8:16: stages[0].steps[0].deploy.app: app 'arcade-${suffix}' is deployed by jobs of another team; choose another app name`,
    ]);
  });

  it('a push-grant refusal through the CLI', async () => {
    const { registry } = await requireDocker();
    const reg = `reg-${suffix}`;
    await master.api.putRegistry({ name: reg, url: registry, teams: [shop, games] });
    const typed = rivalFile(`name: pusher
team: ${games}
stages:
  - name: build
    environment: ci
    steps:
      - compile: make
      - image:
          name: ${shop}/stolen
          dockerfile: Dockerfile
          context: dist
          registry: ${reg}
`);
    const cli = await runCli(['apply', '-f', typed], { env: cliEnv() });
    expect(cli.code).toBe(1);
    const lines = issueLines(cli.stderr, typed);
    expect(lines, cli.stderr).toHaveLength(1);
    expect(lines[0]).toContain(`${typed}:9:17: stages[0].steps[1].image.name: team '${games}' may not push '${shop}/stolen' to registry '${reg}'`);
  });

  it('a bad file label is invalid_request naming the field', async () => {
    const ok = deployJob('labelled', games, `labelled-${suffix}`);
    for (const [file, why] of [
      ['', 'file: must not be empty'],
      ['a'.repeat(256), 'file: at most 255 characters'],
      ['rival.yml\nforged: line', 'file: control and invisible formatting characters are not allowed'],
      ['lmy.\u202eyml', 'file: control and invisible formatting characters are not allowed'],
      ['C:rival.yml', "file: ':' is not allowed"],
    ] as const) {
      const err = await failure(master.api.applyJob(ok, file));
      expect([err.code, err.message.startsWith(why)], err.message).toEqual(['invalid_request', true]);
    }
    const err = await failure(master.api.request('POST', '/api/v1/jobs', { yaml: ok, file: 42 }));
    expect([err.code, err.message.split(' (')[0]]).toEqual(['invalid_request', 'file: must be a string naming the job file']);
    expect(await master.api.listJobs()).not.toContainEqual(expect.objectContaining({ name: 'labelled' }));
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
