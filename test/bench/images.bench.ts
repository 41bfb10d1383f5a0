/**
 * Images and deploys on the real engine and registry (SLIPWAY_REGISTRY, started by scripts/bench.sh):
 *
 * - app_rebuild_ratio: build + push of an app whose only change is its files / a cold build + push of all
 *   three layers. Cold: no build cache (nocache) and empty registry repositories. The OS layer is a Debian
 *   minbase (debootstrap, cached on disk between runs: making the rootfs is not part of either figure), the
 *   middleware layer installs nodejs with apt over host networking, the app layer copies the build output.
 *   Target <= 0.15.
 * - deploy_4_replicas_s: render the compose file -> 4 instances healthy (fresh app).
 * - rolling_update_min_healthy: the fewest healthy instances seen, polled every 20 ms, during a 4-replica
 *   start-first rolling update with batch 1. Target 4.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage } from '../../agent/docker/image-build';
import { pushImage } from '../../agent/docker/image-push';
import { listInstances } from '../../agent/deploy/instances';
import { deploy, down, type DeployContext } from '../../agent/deploy/rollout';
import { renderCompose } from '../../shared/compose/render';
import { reportBench } from '../helpers/bench';
import { removeImages, requireDocker, TEST_APP_JS, uniqueName } from '../helpers/docker';

const CACHE = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'slipway-bench');

/** A Debian bookworm minbase rootfs tarball, made once with debootstrap from the machine's apt mirror. */
function minbaseTar(): string {
  const tar = join(CACHE, 'bookworm-minbase.tar');
  if (existsSync(tar)) return tar;
  mkdirSync(CACHE, { recursive: true });
  const sources = readFileSync('/etc/apt/sources.list.d/debian.sources', 'utf8');
  const mirror = /^URIs:\s*(\S+)/m.exec(sources)?.[1] ?? 'http://deb.debian.org/debian';
  const root = join(CACHE, 'rootfs');
  rmSync(root, { recursive: true, force: true });
  process.stdout.write(`debootstrap --variant=minbase bookworm from ${mirror} (once)\n`);
  execFileSync('debootstrap', ['--variant=minbase', 'bookworm', root, mirror], { stdio: 'ignore' });
  execFileSync('tar', ['-C', root, '-cf', `${tar}.part`, '.']);
  execFileSync('mv', [`${tar}.part`, tar]);
  rmSync(root, { recursive: true, force: true });
  return tar;
}

const { docker, registry } = await requireDocker();
const dir = mkdtempSync(join(tmpdir(), 'slipway-images-bench-'));
const ns = uniqueName('bench');
const refs: string[] = [];
const quiet = () => undefined;

function ctxDir(name: string, files: Record<string, string>): string {
  const d = join(dir, name);
  mkdirSync(d, { recursive: true });
  for (const [p, c] of Object.entries(files)) {
    mkdirSync(join(d, p, '..'), { recursive: true });
    writeFileSync(join(d, p), c);
  }
  return d;
}

try {
  const tar = minbaseTar();
  const baseCtx = ctxDir('base', { Dockerfile: 'FROM scratch\nADD rootfs.tar /\nCMD ["bash"]\n' });
  execFileSync('cp', [tar, join(baseCtx, 'rootfs.tar')]);
  const base = `${registry}/${ns}/debian:bookworm`;
  const mw = `${registry}/${ns}/node-runtime:1`;
  const app1 = `${registry}/${ns}/app:1`;
  const app2 = `${registry}/${ns}/app:2`;
  refs.push(base, mw, app1, app2);
  const mwCtx = ctxDir('mw', {
    Dockerfile: `FROM ${base}\nRUN apt-get update && apt-get install -y --no-install-recommends nodejs && rm -rf /var/lib/apt/lists/*\n`,
  });
  const appCtx = ctxDir('app', { Dockerfile: `FROM ${mw}\nCOPY dist/ /app/\nCMD ["node", "/app/server.js"]\n`, 'dist/server.js': TEST_APP_JS });

  let t0 = performance.now();
  await buildImage(docker, { context: baseCtx, tags: [base], noCache: true, log: quiet });
  await pushImage(docker, base, { log: quiet });
  await buildImage(docker, { context: mwCtx, tags: [mw], noCache: true, log: quiet });
  await pushImage(docker, mw, { log: quiet });
  await buildImage(docker, { context: appCtx, tags: [app1], noCache: true, log: quiet });
  await pushImage(docker, app1, { log: quiet });
  const coldMs = performance.now() - t0;

  writeFileSync(join(appCtx, 'dist', 'server.js'), `${TEST_APP_JS}\n// build 2\n`);
  t0 = performance.now();
  const rebuilt = await buildImage(docker, { context: appCtx, tags: [app2], log: quiet });
  const pushed = await pushImage(docker, app2, { log: quiet });
  const rebuildMs = performance.now() - t0;

  // Deploys: 4 replicas of app:1, then a rolling update to app:2 watched every 20 ms.
  const compose = `services:
  app:
    image: \${IMAGE}
    environment: { VERSION: "\${VERSION}" }
    healthcheck: { http: /health, start_period: 1s, interval: 100ms, timeout: 1s, retries: 3, deadline: 30s }
    stop_grace_period: 10s
    deploy: { replicas: 4, update_config: { parallelism: 1, order: start-first } }
`;
  const app = uniqueName('bench-app');
  const ctx: DeployContext = { docker, app, environment: 'bench', host: '127.0.0.1', log: quiet };
  t0 = performance.now();
  const svc1 = renderCompose(compose, { file: 'compose.yml', environment: 'bench', vars: { IMAGE: app1, VERSION: 'v1' } }).config.services.app;
  await deploy(ctx, { service: svc1, build: '1' });
  const deploy4s = (performance.now() - t0) / 1000;

  let minHealthy = Infinity;
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      const list = (await listInstances(docker, ctx)).filter((i) => i.running);
      const ok = await Promise.all(list.map((i) => fetch(`http://127.0.0.1:${i.port}/health`, { signal: AbortSignal.timeout(500) }).then((r) => r.ok, () => false)));
      minHealthy = Math.min(minHealthy, ok.filter(Boolean).length);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const svc2 = renderCompose(compose, { file: 'compose.yml', environment: 'bench', vars: { IMAGE: app2, VERSION: 'v2' } }).config.services.app;
  t0 = performance.now();
  await deploy(ctx, { service: svc2, build: '2' });
  const rollingS = (performance.now() - t0) / 1000;
  watching = false;
  await watcher;
  await down(ctx);

  reportBench({
    images_cold_build_push_ms: Math.round(coldMs),
    images_app_rebuild_push_ms: Math.round(rebuildMs),
    app_rebuild_ratio: Math.round((rebuildMs / coldMs) * 1000) / 1000,
    app_rebuild_steps_built: rebuilt.builtSteps,
    app_rebuild_layers_pushed: pushed.layersPushed,
    deploy_4_replicas_s: Math.round(deploy4s * 100) / 100,
    rolling_update_4_replicas_s: Math.round(rollingS * 100) / 100,
    rolling_update_min_healthy: minHealthy,
  });
} finally {
  await removeImages(docker, refs);
  rmSync(dir, { recursive: true, force: true });
}
