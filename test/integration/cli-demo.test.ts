/**
 * The demo job as `npm run up` serves it: loaded from jobs/, its three image layers built and pushed on a ci
 * agent, the app digest deployed with 2 replicas by a pre agent, against the real engine and registry.
 * The job file is used as it is, except for the deployed app's name and the image repositories' first path
 * segment (both made unique, so a demo that `npm run up` keeps running on this host, and the containers test
 * running the same job on the same engine and registry, are not touched).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { dockerClient } from '../../agent/docker/engine';
import { down } from '../../agent/deploy/rollout';
import { runCli } from '../helpers/cli';
import { startAgent, startMaster, type TestMaster } from '../helpers/cluster';
import { removeImages, requireDocker, uniqueName, type DockerTestEnv } from '../helpers/docker';
import { REPO_ROOT } from '../helpers/process';
import { waitFor } from '../helpers/wait';

let master: TestMaster;
let env: DockerTestEnv;
let dir: string;
const app = uniqueName('demo');

beforeAll(async () => {
  env = await requireDocker();
  dir = mkdtempSync(join(tmpdir(), 'slipway-cli-demo-'));
  const jobs = join(dir, 'jobs');
  mkdirSync(jobs);
  const demo = readFileSync(join(REPO_ROOT, 'jobs', 'demo.yml'), 'utf8');
  expect(demo.match(/\n {10}app: demo\n/g)).toHaveLength(2);
  // Its own app and its own repositories: the containers test runs the same job against the same engine and
  // registry at the same time, and would otherwise share (and this file's cleanup remove) demo/app:b1.
  expect(demo.match(/name: demo\//g)).toHaveLength(3);
  writeFileSync(join(jobs, 'demo.yml'), demo.replace(/\n {10}app: demo\n/g, `\n          app: ${app}\n`).replace(/name: demo\//g, `name: ${app}/`));
  master = await startMaster({ jobsDir: jobs });
  await master.api.putRegistry({ name: 'local', url: env.registry, teams: ['demo'] });
  await startAgent(master, { environment: 'ci' });
  await startAgent(master, { environment: 'pre' });
  await startAgent(master, { environment: 'prod' });
}, 120_000);

afterAll(async () => {
  await master?.stop();
  if (env) {
    for (const e of ['pre', 'prod']) await down({ docker: dockerClient(), app, environment: e, host: '127.0.0.1', log: () => undefined });
    const built = await env.docker.listImages({ filters: { reference: [`${env.registry}/${app}/*`] } });
    await removeImages(env.docker, built.flatMap((i) => i.RepoTags ?? []));
  }
  rmSync(dir, { recursive: true, force: true });
});

it('builds the three layers on ci, deploys the app digest on pre, and after an approval promotes the same digest to prod', async () => {
  const cli = { SLIPWAY_CONFIG: join(dir, 'none.json'), SLIPWAY_URL: master.url, SLIPWAY_TOKEN: master.api.token! };
  const following = runCli(['trigger', 'demo', '-p', 'GREETING=bonjour', '--follow'], { env: cli, timeoutMs: 300_000 });
  const waiting = await waitFor('the prod stage waits for an approval', async () => {
    const [b] = await master.api.listBuilds('demo');
    return b?.status === 'waiting' ? b : undefined;
  }, { timeoutMs: 240_000 });
  const approved = await runCli(['approve', String(waiting.id)], { env: cli });
  expect(approved.code, approved.stdout + approved.stderr).toBe(0);
  const r = await following;
  expect(r.code, r.stdout + r.stderr).toBe(0);
  expect(r.stderr).toContain(`==> stage deploy-prod waits for approval: slipway approve ${waiting.id} --stage deploy-prod`);
  expect(r.stdout).toContain('compiling demo-app (greeting: bonjour)');
  expect(r.stdout).toMatch(new RegExp(`pushed ${env.registry}/${app}/app:b1: sha256:[0-9a-f]{64}`));
  expect(r.stdout).toContain(`${app} in pre: 2 instance(s) live`);

  const build = (await master.api.listBuilds('demo'))[0];
  expect(build.status).toBe('success');
  const outputs = await master.api.request<{ stepId: string; key: string; value: unknown }[]>('GET', `/api/v1/builds/${build.id}/outputs`);
  const out = (step: string, key: string) => outputs.find((o) => o.stepId === step && o.key === key)?.value;
  expect(out('os', 'layers')).toBe(1);
  expect(out('runtime', 'layers')).toBe(2);
  expect(out('image', 'layers')).toBe(3);
  expect(out('deploy', 'image')).toBe(out('image', 'reference'));
  // Promotion: prod runs the very digest pre runs, without a rebuild.
  expect(out('promote', 'image')).toBe(out('image', 'reference'));
  for (const addr of [...(out('deploy', 'instances') as string[]), ...(out('promote', 'instances') as string[])]) {
    expect(await fetch(`http://${addr}/`).then((x) => x.text())).toBe(`bonjour from demo-app, build 1, port ${addr.split(':')[1]}\n`);
  }
  const history = await master.api.request<{ environment: string; image: string; approvedBy: string | null }[]>('GET', `/api/v1/deployments?app=${app}`);
  expect(history.map((d) => [d.environment, d.image, d.approvedBy])).toEqual([
    ['prod', out('image', 'reference'), 'admin'],
    ['pre', out('image', 'reference'), null],
  ]);
});
