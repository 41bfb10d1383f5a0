/**
 * The whole chain on this machine (issue 9): a real master, a ci agent, a pre agent running the registration
 * service, an edge agent keeping a real nginx, real etcd, Docker engine and registry, and a bare repository
 * whose post-receive hook posts a GitLab Push Hook.
 *
 * - push_to_live_s: `git push` of an app-only change to a small Node app -> webhook -> build (checkout, app
 *   layer built FROM a runtime image and pushed) -> rolling update of 2 replicas on pre -> nginx serves the
 *   new version to a client polling every 50 ms with fresh connections. Median of ROUNDS. Target <= 15 s.
 * - failed_requests_during_rollout: requests through nginx (every 20 ms) that failed during those rolling
 *   updates and during a scale 2 -> 6 -> 1. Target 0.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dockerClient } from '../../agent/docker/engine';
import { pushImage } from '../../agent/docker/image-push';
import { down } from '../../agent/deploy/rollout';
import { reportBench } from '../helpers/bench';
import { startAgent, startMaster } from '../helpers/cluster';
import { freeTcpPort, startEtcd, startNginx } from '../helpers/discovery';
import { buildTestApp, removeImages, requireDocker, uniqueName } from '../helpers/docker';
import { waitFor } from '../helpers/wait';
import { BENCH_MASTER_ENV, percentile, round } from './common';

const ROUNDS = Number(process.env.PUSH_TO_LIVE_ROUNDS ?? 5);
const SECRET = 'bench-hook-token';
const ns = uniqueName('p2l');
const app = `${ns}-web`;

const { docker, registry } = await requireDocker();
const dir = mkdtempSync(join(tmpdir(), 'slipway-p2l-bench-'));
chmodSync(dir, 0o755);
const bare = join(dir, 'web.git');
const work = join(dir, 'work');
const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 'B', GIT_AUTHOR_EMAIL: 'b@x', GIT_COMMITTER_NAME: 'B', GIT_COMMITTER_EMAIL: 'b@x' } }).trim();
const images: string[] = [];
const etcd = await startEtcd(dir);
const nginx = await startNginx(dir);
const listen = await freeTcpPort();

/** One GET through nginx on a fresh connection: the body, or '' on any failure (counted by the caller). */
function viaNginx(): Promise<{ ok: boolean; body: string }> {
  return new Promise((resolve) => {
    const req = httpGet({ host: '127.0.0.1', port: listen, path: '/', agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d));
      res.on('end', () => resolve({ ok: res.statusCode === 200, body }));
      res.on('error', () => resolve({ ok: false, body: '' }));
    });
    req.on('error', () => resolve({ ok: false, body: '' }));
    req.on('timeout', () => req.destroy());
  });
}

const master = await startMaster({ env: BENCH_MASTER_ENV });
try {
  // Runtime (middleware) image in the registry, built once.
  const made = await buildTestApp(docker, dir, `slipway-test/${ns}-unused:1`);
  images.push(...made);
  await docker.getImage(made[1]).tag({ repo: `${registry}/${ns}/node-runtime`, tag: '1' });
  images.push(`${registry}/${ns}/node-runtime:1`);
  await pushImage(docker, `${registry}/${ns}/node-runtime:1`, { log: () => undefined });

  git(dir, 'init', '-q', '--bare', '-b', 'main', bare);
  git(dir, 'init', '-q', '-b', 'main', work);
  const hook = `#!/bin/sh
while read before after ref; do
  body=$(printf '{"object_kind":"push","event_name":"push","before":"%s","after":"%s","ref":"%s","checkout_sha":"%s","user_name":"bench","total_commits_count":1,"project":{"git_http_url":"file://%s"},"repository":{"name":"web","url":"file://%s","git_http_url":"file://%s"},"commits":[{"id":"%s","message":"m","author":{"name":"bench"},"added":[],"removed":[],"modified":["server.js"]}]}' "$before" "$after" "$ref" "$after" "${bare}" "${bare}" "${bare}" "$after")
  curl -s -o /dev/null -X POST -H 'Content-Type: application/json' -H 'X-Gitlab-Event: Push Hook' -H 'X-Gitlab-Token: ${SECRET}' -H "X-Gitlab-Event-UUID: $(cat /proc/sys/kernel/random/uuid)" --data-binary "$body" '${master.url}/api/v1/hooks/gitlab'
done
`;
  writeFileSync(join(bare, 'hooks', 'post-receive'), hook);
  chmodSync(join(bare, 'hooks', 'post-receive'), 0o755);

  await master.api.createTeam(ns);
  await master.api.setSecret(ns, 'WEBHOOK_SECRET', SECRET);
  await master.api.putRegistry({ name: 'local', url: registry, teams: [ns] });
  const preFile = join(dir, 'pre.yml');
  writeFileSync(preFile, `etcd: { endpoints: [${etcd.url}] }\nservices:\n  registration: { ttlSeconds: 10, drainMs: 500 }\n`);
  const edgeFile = join(dir, 'edge.yml');
  writeFileSync(edgeFile, `etcd: { endpoints: [${etcd.url}] }\nservices:\n  edge:\n    file: ${nginx.includeFile}\n    nginx: ${JSON.stringify(nginx.command)}\n    debounceMs: 20\n    routes: [{ app: ${app}, environment: pre, listen: "127.0.0.1:${listen}" }]\n`);
  await startAgent(master, { environment: 'ci' });
  await startAgent(master, { environment: 'pre', args: ['--config', preFile] });
  await startAgent(master, { environment: 'edge', args: ['--config', edgeFile] });
  const job = (replicas: number) => `name: ${ns}
team: ${ns}
repo: { url: 'file://${bare}', branch: main }
triggers: { push: { branches: [main] } }
params: [{ name: REPLICAS, default: "${replicas}" }]
stages:
  - name: build
    environment: ci
    steps:
      - id: image
        image: { name: ${ns}/web, from: ${ns}/node-runtime:1, context: ., cmd: [node, /app/server.js] }
  - name: deploy
    environment: pre
    steps:
      - deploy:
          app: ${app}
          image: \${{ steps.image.outputs.reference }}
          replicas: ${replicas}
          composeInline: |
            services:
              web:
                image: \${IMAGE}
                healthcheck: { http: /health, start_period: 1s, interval: 100ms, timeout: 1s, retries: 3, deadline: 30s }
                stop_grace_period: 5s
                deploy: { update_config: { parallelism: 1, order: start-first } }
`;
  await master.api.applyJob(job(2));
  const serverJs = (v: number) =>
    `const http = require('http');\nconst s = http.createServer((q, r) => { if (q.url === '/health') return r.end('ok'); r.end('v${v}'); });\ns.listen(Number(process.env.PORT));\nprocess.on('SIGTERM', () => { s.close(() => process.exit(0)); s.closeIdleConnections(); });\n`;

  let failures = 0;
  let requests = 0;
  let phase = 'first deploy';
  const failedIn: string[] = [];
  let polling = true;
  let lastBody = '';
  const poller = (async () => {
    while (polling) {
      const r = await viaNginx();
      // Counted from the first deploy's end: before it there is no service whose requests could fail.
      if (lastBody && phase !== 'first deploy') {
        requests++;
        if (!r.ok) {
          failures++;
          failedIn.push(`${phase}: ${r.body.slice(0, 80) || 'no answer'}`);
        }
      }
      if (r.ok) lastBody = r.body;
      await new Promise((res) => setTimeout(res, 20));
    }
  })();

  const pushAndWait = async (v: number): Promise<number> => {
    writeFileSync(join(work, 'server.js'), serverJs(v));
    git(work, 'add', '-A');
    git(work, 'commit', '-q', '-m', `v${v}`);
    const t0 = Date.now();
    git(work, 'push', '-q', bare, 'HEAD:refs/heads/main');
    await waitFor(`v${v} served through nginx`, async () => ((await viaNginx()).body === `v${v}` ? true : undefined), { timeoutMs: 120_000, intervalMs: 50 });
    const s = (Date.now() - t0) / 1000;
    // Let the build finish (the old instances are retired after the new ones are live).
    await waitFor('build finished', async () => {
      const b = (await master.api.listBuilds(ns, { limit: 1 }))[0];
      return b && ['success', 'failed'].includes(b.status) ? b : undefined;
    }, { timeoutMs: 120_000 });
    return s;
  };

  await pushAndWait(0); // first deploy: cold, not measured
  const times: number[] = [];
  for (let v = 1; v <= ROUNDS; v++) {
    phase = `rolling update to v${v}`;
    times.push(await pushAndWait(v));
  }

  // Scale 2 -> 6 -> 1 by deploying the same app with other replica counts (a manual trigger each).
  for (const n of [6, 1]) {
    phase = `scale to ${n}`;
    await master.api.applyJob(job(n));
    const b = await master.api.trigger(ns);
    const done = await waitFor('scale build', async () => {
      const x = await master.api.getBuild(b.id);
      return ['success', 'failed'].includes(x.status) ? x : undefined;
    }, { timeoutMs: 120_000 });
    if (done.status !== 'success') throw new Error(`scale to ${n} failed: ${done.error}`);
  }
  polling = false;
  await poller;
  const failed = (await master.api.listBuilds(ns, { limit: 50 })).filter((b) => b.status !== 'success');
  if (failed.length) throw new Error(`${failed.length} builds did not succeed, e.g. #${failed[0].number}: ${failed[0].error}`);
  times.sort((a, b) => a - b);
  for (const f of failedIn) process.stdout.write(`failed request during ${f}\n`);
  reportBench({
    push_to_live_s: round(percentile(times, 50), 2),
    push_to_live_max_s: round(times[times.length - 1], 2),
    push_to_live_rounds: ROUNDS,
    failed_requests_during_rollout: failures,
    requests_during_rollout: requests,
  });
} finally {
  await master.stop();
  await down({ docker: dockerClient(), app, environment: 'pre', host: '127.0.0.1', log: () => undefined }).catch(() => undefined);
  const built = await docker.listImages({ filters: { reference: [`*/${ns}/*`] } });
  await removeImages(docker, [...images, ...built.flatMap((i) => i.RepoTags ?? [])]);
  await nginx.stop();
  await etcd.stop();
  rmSync(dir, { recursive: true, force: true });
}
