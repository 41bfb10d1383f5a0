/**
 * The CD path end to end with a real master, a ci agent and a pre agent, the real Docker engine and registry:
 * an admin grants a registry to a team; a build compiles an app, builds its app layer FROM a runtime image in
 * that registry, pushes it, and a later stage on the pre agent deploys exactly that digest with 2 replicas
 * that answer on their ports. Registries are listed without passwords and browsed by members of granted teams
 * only; a team without a grant gets a build error that says how to fix it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerClient } from '../../agent/docker/engine';
import { pushImage } from '../../agent/docker/image-push';
import { down } from '../../agent/deploy/rollout';
import { runCli } from '../helpers/cli';
import { startAgent, startMaster, type TestMaster } from '../helpers/cluster';
import { buildTestApp, removeImages, requireDocker, uniqueName, type DockerTestEnv } from '../helpers/docker';
import { waitFor } from '../helpers/wait';

let env: DockerTestEnv;
let master: TestMaster;
let dir: string;
const ns = uniqueName('cd');
const team = `${ns}-team`;
const app = `${ns}-web`;
const images: string[] = [];

const jobYaml = (name: string, t: string, deployApp = app) => `name: ${name}
team: ${t}
stages:
  - name: build
    environment: ci
    steps:
      - compile: mkdir -p dist && cp /dev/null dist/.keep && printf '%s' "$APP_JS" > dist/server.js
        env:
          APP_JS: ${JSON.stringify(`const http = require('http'); const s = http.createServer((q, r) => { if (q.url === '/health') return r.end('ok'); r.end('v' + process.env.SLIPWAY_BUILD + ' on ' + process.env.PORT); }); s.listen(Number(process.env.PORT)); process.on('SIGTERM', () => s.close(() => process.exit(0)));`)}
      - id: image
        image:
          name: ${ns}/web
          from: ${ns}/node-runtime:1
          context: dist
          cmd: [node, /app/server.js]
  - name: deploy-pre
    environment: pre
    steps:
      - id: deploy
        deploy:
          app: ${deployApp}
          image: \${{ steps.image.outputs.reference }}
          replicas: 2
          values: { BUILD: "1" }
          composeInline: |
            services:
              web:
                image: \${IMAGE}
                environment: { SLIPWAY_BUILD: "\${BUILD}" }
                healthcheck: { http: /health, start_period: 1s, interval: 200ms, timeout: 1s, retries: 3, deadline: 30s }
                stop_grace_period: 5s
`;

beforeAll(async () => {
  env = await requireDocker();
  dir = mkdtempSync(join(tmpdir(), 'slipway-cd-'));
  // The runtime (middleware) image in the registry: busybox OS layer + Node.
  const runtimeRef = `${env.registry}/${ns}/node-runtime:1`;
  const made = await buildTestApp(env.docker, dir, `slipway-test/${ns}-unused:1`);
  images.push(...made);
  await env.docker.getImage(made[1]).tag({ repo: `${env.registry}/${ns}/node-runtime`, tag: '1' });
  images.push(runtimeRef);
  await pushImage(env.docker, runtimeRef, { log: () => undefined });
  master = await startMaster();
  await startAgent(master, { environment: 'ci' });
  await startAgent(master, { environment: 'pre' });
}, 180_000);

afterAll(async () => {
  await master?.stop();
  if (env) {
    await down({ docker: dockerClient(), app, environment: 'pre', host: '127.0.0.1', log: () => undefined });
    const built = await env.docker.listImages({ filters: { reference: [`*/${ns}/*`] } });
    await removeImages(env.docker, [...images, ...built.flatMap((i) => i.RepoTags ?? [])]);
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('build, push and deploy through the master', () => {
  it('deploys the digest the image step pushed, 2 replicas on pre', async () => {
    await master.api.createTeam(team);
    await master.api.applyJob(jobYaml(`${ns}-job`, team));
    const admin = { SLIPWAY_URL: master.url, SLIPWAY_TOKEN: master.api.token!, SLIPWAY_CONFIG: join(dir, 'none.json') };
    const add = await runCli(['registry', 'add', 'local', '--url', env.registry, '--teams', team], { env: admin });
    expect(add.stderr).toBe('');
    expect(add.stdout).toBe(`registry local (${env.registry}) granted to ${team}\n`);

    const r = await runCli(['trigger', `${ns}-job`, '--follow'], { env: admin });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`FROM ${env.registry}/${ns}/node-runtime:1`);
    expect(r.stdout).toMatch(/pushed .*:b1: sha256:[0-9a-f]{64} \(1 layer\(s\) uploaded, 2 already there\)/);
    expect(r.stdout).toContain(`${app} in pre: 2 instance(s) live`);

    const build = (await master.api.listBuilds(`${ns}-job`))[0];
    const detail = await master.api.getBuild(build.id);
    const outputs = await master.api.request<{ stepId: string; key: string; value: unknown }[]>('GET', `/api/v1/builds/${build.id}/outputs`);
    const out = (step: string, key: string) => outputs.find((o) => o.stepId === step && o.key === key)?.value;
    const digest = out('image', 'digest') as string;
    expect(digest, JSON.stringify(detail)).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(out('image', 'reference')).toBe(`${env.registry}/${ns}/web@${digest}`);
    expect(out('deploy', 'image')).toBe(`${env.registry}/${ns}/web@${digest}`);
    expect(out('deploy', 'compose')).toContain(`image: ${env.registry}/${ns}/web@${digest}`);
    const instances = out('deploy', 'instances') as string[];
    expect(instances).toHaveLength(2);
    for (const addr of instances) {
      const body = await waitFor('instance answers', async () => {
        const t = await fetch(`http://${addr}/`).then((x) => x.text(), () => '');
        return t || undefined;
      });
      expect(body).toBe(`v1 on ${addr.split(':')[1]}`);
    }
    // The deployed containers run exactly the pushed digest.
    const running = await env.docker.listContainers({ filters: { label: [`io.slipway.app=${app}`] } });
    expect(running).toHaveLength(2);
    for (const c of running) expect(c.Image).toBe(`${env.registry}/${ns}/web@${digest}`);

    // The master recorded the deployment from the deploy step's outputs.
    const history = await master.api.listDeployments({ app, environment: 'pre' });
    expect(history).toHaveLength(1);
    expect(history[0]).toMatchObject({ app, environment: 'pre', job: `${ns}-job`, buildId: build.id, stage: 'deploy-pre', digest, replicas: 2, triggeredBy: 'admin', approvedBy: null });
    expect(history[0].image).toBe(`${env.registry}/${ns}/web@${digest}`);
    expect([...history[0].instances].sort()).toEqual([...instances].sort());
    expect(history[0].compose).toBe(out('deploy', 'compose'));

    const imgs = await runCli(['images', 'local', '--prefix', `${ns}/`, '--json'], { env: admin });
    const repos = JSON.parse(imgs.stdout) as { name: string; tags: { tag: string; digest: string }[] }[];
    expect(repos.find((x) => x.name === `${ns}/web`)?.tags).toContainEqual({ tag: 'b1', digest });
  });

  it('scales the app through the CLI without touching the instances it keeps', async () => {
    const admin = { SLIPWAY_URL: master.url, SLIPWAY_TOKEN: master.api.token!, SLIPWAY_CONFIG: join(dir, 'none.json') };
    const before = (await env.docker.listContainers({ filters: { label: [`io.slipway.app=${app}`] } })).map((c) => c.Id).sort();
    expect(before).toHaveLength(2);
    const up = await runCli(['scale', app, '--environment', 'pre', '--replicas', '3', '--follow'], { env: admin });
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect(up.stdout).toContain(`${app} in pre: configuration unchanged, scaling 2 -> 3`);
    const after = (await env.docker.listContainers({ filters: { label: [`io.slipway.app=${app}`] } })).map((c) => c.Id);
    expect(after).toHaveLength(3);
    for (const id of before) expect(after).toContain(id);
    const down1 = await runCli(['scale', app, '--environment', 'pre', '--replicas', '1', '--follow'], { env: admin });
    expect(down1.code, down1.stdout + down1.stderr).toBe(0);
    const left = (await env.docker.listContainers({ filters: { label: [`io.slipway.app=${app}`] } })).map((c) => c.Id);
    expect(left).toHaveLength(1);
    expect(before).toContain(left[0]);
    const bad = await runCli(['scale', app, '--environment', 'pre', '--replicas', '500'], { env: admin });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('replicas: a whole number from 0 to 100');
  });

  it('keeps a failed deploy in the history with why, and the app on what ran before', async () => {
    const running = (await env.docker.listContainers({ filters: { label: [`io.slipway.app=${app}`] } })).map((c) => c.Id);
    await master.api.applyJob(`name: ${ns}-broken
team: ${team}
stages:
  - name: deploy-pre
    environment: pre
    steps:
      - deploy:
          app: ${app}
          image: ${env.registry}/${ns}/node-runtime:1
          composeInline: |
            services:
              web:
                image: \${IMAGE}
                command: ["node", "-e", "require('http').createServer((q, r) => { r.statusCode = 500; r.end('broken on purpose'); }).listen(Number(process.env.PORT))"]
                healthcheck: { http: /health, start_period: 1s, interval: 200ms, timeout: 1s, retries: 3, deadline: 20s }
                deploy: { replicas: 1 }
`);
    const b = await master.api.trigger(`${ns}-broken`);
    const done = await waitFor('broken deploy ends', async () => {
      const x = await master.api.getBuild(b.id);
      return ['success', 'failed'].includes(x.status) ? x : undefined;
    }, { timeoutMs: 60_000 });
    expect(done.status).toBe('failed');
    const [last] = await master.api.request<{ job: string; failure: string | null; instances: string[] }[]>('GET', `/api/v1/deployments?app=${app}&environment=pre`);
    expect(last.job).toBe(`${ns}-broken`);
    expect(last.failure).toMatch(/failed and was rolled back/);
    expect(last.failure).toContain('HTTP 500: broken on purpose');
    expect(last.instances).toHaveLength(running.length);
    // What ran before still runs.
    expect((await env.docker.listContainers({ filters: { label: [`io.slipway.app=${app}`] } })).map((c) => c.Id).sort()).toEqual(running.sort());
  });

  it('lists registries without passwords and hides them from teams without a grant', async () => {
    const list = await master.api.listRegistries();
    expect(list.find((r) => r.name === 'local')).toMatchObject({ url: env.registry, username: null, hasPassword: false, teams: [team] });
    await master.api.createTeam(`${ns}-other`);
    await master.api.createUser({ username: `${ns}-outsider`, password: 'outsider-password-1' });
    await master.api.setMember(`${ns}-other`, `${ns}-outsider`, 'maintainer');
    const outsider = await master.login(`${ns}-outsider`, 'outsider-password-1');
    expect(await outsider.listRegistries()).toEqual([]);
    await expect(outsider.listRepositories('local')).rejects.toThrow("registry 'local' not found");
    await expect(outsider.putRegistry({ name: 'mine', url: env.registry, teams: [`${ns}-other`] })).rejects.toThrow(/admin/);
  });

  it('refuses a registry whose address does not answer, naming it', async () => {
    await expect(master.api.putRegistry({ name: 'broken', url: '127.0.0.1:1', teams: [team] })).rejects.toThrow(/^url: registry 127.0.0.1:1 is unreachable/);
  });

  it('fails an image step of a team without a registry, saying how to grant one', async () => {
    await master.api.createTeam(`${ns}-nogrant`).catch(() => undefined);
    await master.api.applyJob(jobYaml(`${ns}-nogrant-job`, `${ns}-nogrant`, `${app}-nogrant`));
    const b = await master.api.trigger(`${ns}-nogrant-job`);
    const done = await waitFor('build ends', async () => {
      const x = await master.api.getBuild(b.id);
      return x.status === 'success' || x.status === 'failed' ? x : undefined;
    }, { timeoutMs: 60_000 });
    expect(done.status).toBe('failed');
    expect(JSON.stringify(done)).toContain("no registry is granted to this job's team");
  });

  it("refuses a job of another team that deploys an app of the same name", async () => {
    await master.api.createTeam(`${ns}-rival`).catch(() => undefined);
    const err = await master.api.applyJob(jobYaml(`${ns}-rival-job`, `${ns}-rival`)).catch((e) => e);
    expect(err.message).toBe(`job.yml:21:16: stages[1].steps[0].deploy.app: app '${app}' is deployed by jobs of another team; choose another app name`);
  });
});
