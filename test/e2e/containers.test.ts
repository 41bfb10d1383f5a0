/**
 * The container images (issue 13, docker/Dockerfile) and the stack of docker/compose.yml, for real: a local
 * Node base image is made with docker/local-base.sh (debootstrap of Debian bookworm + this host's node; kept
 * under its tag, so only the first run pays its ~40 s), the master, agent and edge images are built FROM it
 * exactly as the README says (`npm run build -- --standalone`, `docker build --target master|agent|edge`),
 * into a temp build context laid out like the repository so the repository's own dist/ is never touched.
 *
 * Then docker-compose runs docker/compose.yml as the README says: the master container (data in a named
 * volume, jobs/ mounted), one agent container per environment of the demo (ci, pre, prod; Docker socket
 * mounted, token from a mounted file) and the edge container (nginx + agent). They run the real demo job
 * (jobs/demo.yml) to the end: three image layers built through the socket and pushed to the test registry,
 * the app deployed to pre and answering through the edge's nginx, the approval gate approved with the CLI in
 * the master container, prod answering through nginx with the very digest pre runs, the instances' logs
 * shipped to the log center by the pre and prod agent containers. etcd runs in a container too (the compose
 * file's `etcd` profile, docker/etcd.Dockerfile); the registry is the test setup's, on the host's loopback.
 * The Debian packages of the images (the apt layers) stay cached between runs under the tag
 * `<base>-apt` (and `<base>-etcd`), so a run after the first fetches nothing from Debian's mirror.
 * Changes to the demo job and the stack's config files, for this shared host only: the deployed app's name
 * is made unique (a demo that `npm run up` keeps running here is not touched), and the agents' etcd URL and
 * the edge's ports are the test's free ones.
 *
 * Last, a master upgrade: a new master container on the same volume serving a newer agent bundle; every agent
 * container follows in place, and `docker stop` drains an agent.
 */
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { down } from '../../agent/deploy/rollout';
import { dockerClient } from '../../agent/docker/engine';
import type { AppLogPage } from '../../shared/api-logs';
import { ApiClient } from '../../shared/client/api-client';
import { freeTcpPort } from '../helpers/discovery';
import { registryDigest, removeImages, requireDocker, uniqueName, type DockerTestEnv } from '../helpers/docker';
import { REPO_ROOT } from '../helpers/process';
import { waitFor } from '../helpers/wait';

const run = promisify(execFile);
const ns = uniqueName('ctr');
const images = { master: `slipway-test/${ns}-master:1`, agent: `slipway-test/${ns}-agent:1`, edge: `slipway-test/${ns}-edge:1` };
/** The app the demo deploys, renamed for this run. */
const app = uniqueName('demo');
const upgradeMaster = `${ns}-master-upgraded`;
const adminPassword = `pw-${ns}`;
const AGENTS = [
  { service: 'agent-ci', name: 'ci-1', environment: 'ci' },
  { service: 'agent-pre', name: 'pre-1', environment: 'pre' },
  { service: 'agent-prod', name: 'prod-1', environment: 'prod' },
  { service: 'edge', name: 'edge-1', environment: 'edge' },
] as const;
let env: DockerTestEnv;
let tmp: string;
let stack: string;
let port: number;
let edgePorts: { pre: number; prod: number };
let url: string;
let composeEnv: NodeJS.ProcessEnv;
let composeUp = false;
let etcdUrl: string;
/** The app image the demo built, by digest (removed at the end). */
let appImage: string | undefined;

/** docker CLI, failing with its stderr. */
async function docker(...args: string[]): Promise<string> {
  try {
    return (await run('docker', args, { maxBuffer: 64 * 1024 * 1024 })).stdout.trim();
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`docker ${args.slice(0, 2).join(' ')} failed: ${e.stderr || e.message}`);
  }
}

/** docker-compose on docker/compose.yml as project `ns`, with the test's variables. */
async function compose(...args: string[]): Promise<string> {
  try {
    return (await run('docker-compose', ['-f', join(REPO_ROOT, 'docker', 'compose.yml'), '-p', ns, ...args], { env: composeEnv, maxBuffer: 64 * 1024 * 1024 })).stdout.trim();
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`docker-compose ${args.join(' ')} failed: ${e.stderr || e.message}`);
  }
}

/** The container of a compose service. */
async function containerOf(service: string): Promise<string> {
  const id = await compose('ps', '-q', service);
  if (!id) throw new Error(`no container for compose service ${service}`);
  return id;
}

/** A container's output, stdout and stderr. */
async function logs(name: string): Promise<string> {
  const r = await run('docker', ['logs', name], { maxBuffer: 64 * 1024 * 1024 }).catch((e: { stdout?: string; stderr?: string }) => e);
  return `${r.stdout ?? ''}${r.stderr ?? ''}`;
}

/** Every compose service's output, for a failure message. */
async function stackLogs(): Promise<string> {
  return (await run('docker-compose', ['-f', join(REPO_ROOT, 'docker', 'compose.yml'), '-p', ns, 'logs', '--no-color', '--tail', '60'], { env: composeEnv, maxBuffer: 64 * 1024 * 1024 }).catch((e: { stdout?: string }) => e)).stdout ?? '';
}

/** The build context of docker/Dockerfile with what the README's build commands put there. */
function buildContext(dir: string): void {
  execFileSync(process.execPath, [join(REPO_ROOT, 'scripts', 'build.mjs'), '--out', join(dir, 'dist'), '--standalone'], { stdio: 'pipe' });
  execFileSync(process.execPath, [join(REPO_ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', join(REPO_ROOT, 'web'), '--outDir', join(dir, 'web', 'dist'), '--emptyOutDir', '--logLevel', 'warn'], { stdio: 'pipe' });
  for (const f of ['package.json', '.dockerignore', 'docker/Dockerfile', 'docker/agent-entrypoint.sh', 'docker/edge-entrypoint.sh']) {
    mkdirSync(join(dir, f, '..'), { recursive: true });
    copyFileSync(join(REPO_ROOT, f), join(dir, f));
  }
  chmodSync(join(dir, 'docker', 'agent-entrypoint.sh'), 0o755);
  chmodSync(join(dir, 'docker', 'edge-entrypoint.sh'), 0o755);
  // More of node_modules than the image copies: the .dockerignore must keep the rest out.
  for (const m of ['bindings', 'file-uri-to-path', 'better-sqlite3']) cpSync(join(REPO_ROOT, 'node_modules', m), join(dir, 'node_modules', m), { recursive: true });
}

/** Replaces every `from` in `text` (which must hold it), naming the file when it does not. */
function swap(file: string, text: string, from: string | RegExp, to: string): string {
  const out = text.replace(typeof from === 'string' ? new RegExp(from.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'g') : from, to);
  if (out === text) throw new Error(`${file}: ${String(from)} not found`);
  return out;
}

beforeAll(async () => {
  env = await requireDocker();
  await run('docker-compose', ['version']).catch(() => {
    throw new Error('docker-compose is missing: apt-get install -y docker-compose (npm test installs it)');
  });
  tmp = mkdtempSync(join(tmpdir(), 'slipway-containers-'));
  chmodSync(tmp, 0o755);
  const base = (await run(join(REPO_ROOT, 'docker', 'local-base.sh'), [], { maxBuffer: 16 * 1024 * 1024 })).stdout.trim().split('\n').at(-1)!;
  const ctx = join(tmp, 'ctx');
  buildContext(ctx);
  for (const [target, tag] of Object.entries(images)) {
    await docker('build', '--network', 'host', '-q', '-f', join(ctx, 'docker', 'Dockerfile'), '--build-arg', `BASE=${base}`, '--target', target, '-t', tag, ctx);
  }
  // Kept after the run (the images above are removed): the layers of Debian packages, a build cache.
  await docker('build', '--network', 'host', '-q', '-f', join(ctx, 'docker', 'Dockerfile'), '--build-arg', `BASE=${base}`, '--target', 'edge-packages', '-t', `${base}-apt`, ctx);
  const etcdImage = `${base}-etcd`;
  await docker('build', '--network', 'host', '-q', '-f', join(REPO_ROOT, 'docker', 'etcd.Dockerfile'), '--build-arg', `BASE=${base}`, '-t', etcdImage, join(REPO_ROOT, 'docker'));
  const etcdPorts = { client: await freeTcpPort(), peer: await freeTcpPort() };
  etcdUrl = `http://127.0.0.1:${etcdPorts.client}`;
  port = await freeTcpPort();
  edgePorts = { pre: await freeTcpPort(), prod: await freeTcpPort() };
  url = `http://127.0.0.1:${port}`;

  // The demo job as it is, but for the deployed app's name.
  const jobs = join(tmp, 'jobs');
  mkdirSync(jobs, { mode: 0o755 });
  const demo = readFileSync(join(REPO_ROOT, 'jobs', 'demo.yml'), 'utf8');
  expect(demo.match(/\n {10}app: demo\n/g)).toHaveLength(2);
  writeFileSync(join(jobs, 'demo.yml'), demo.replace(/\n {10}app: demo\n/g, `\n          app: ${app}\n`), { mode: 0o644 });
  // The stack's config files as they are, but for the test's etcd, edge ports and app name.
  stack = join(tmp, 'stack');
  mkdirSync(stack, { mode: 0o755 });
  for (const f of readdirSync(join(REPO_ROOT, 'docker', 'stack')).filter((n) => n.endsWith('.yml'))) {
    let text = swap(f, readFileSync(join(REPO_ROOT, 'docker', 'stack', f), 'utf8'), 'http://127.0.0.1:2379', etcdUrl);
    if (f === 'agent-edge.yml') {
      text = swap(f, text, '127.0.0.1:8081', `127.0.0.1:${edgePorts.pre}`);
      text = swap(f, text, '127.0.0.1:8082', `127.0.0.1:${edgePorts.prod}`);
      text = swap(f, text, /app: demo,/g, `app: ${app},`);
    }
    writeFileSync(join(stack, f), text, { mode: 0o644 });
  }
  composeEnv = {
    PATH: process.env.PATH,
    SLIPWAY_ADMIN_PASSWORD: adminPassword,
    SLIPWAY_PORT: String(port),
    SLIPWAY_ETCD: etcdUrl,
    COMPOSE_PROFILES: 'etcd',
    SLIPWAY_ETCD_PORT: String(etcdPorts.client),
    SLIPWAY_ETCD_PEER_PORT: String(etcdPorts.peer),
    SLIPWAY_ETCD_IMAGE: etcdImage,
    SLIPWAY_STACK_DIR: stack,
    SLIPWAY_JOBS_DIR: jobs,
    SLIPWAY_MASTER_IMAGE: images.master,
    SLIPWAY_AGENT_IMAGE: images.agent,
    SLIPWAY_EDGE_IMAGE: images.edge,
  };
}, 600_000);

afterAll(async () => {
  // The upgraded master first: it holds the compose project's data volume, which `down -v` removes.
  await docker('rm', '-f', upgradeMaster).catch(() => undefined);
  if (composeUp) await compose('down', '-v', '-t', '20').catch(() => undefined);
  const volumes = await docker('volume', 'ls', '-q', '--filter', `name=${ns}_`).catch(() => '');
  for (const v of volumes.split('\n').filter(Boolean)) await docker('volume', 'rm', '-f', v).catch(() => undefined);
  if (env) {
    for (const e of ['pre', 'prod']) await down({ docker: dockerClient(), app, environment: e, host: '127.0.0.1', log: () => undefined }).catch(() => undefined);
    // Only the app image this build made (its greeting is this test's): the OS and runtime layers are shared by
    // every demo build on this host, and other tests may be pushing them right now.
    const built = appImage ? await env.docker.getImage(appImage).inspect().catch(() => undefined) : undefined;
    await removeImages(env.docker, [...Object.values(images), ...(built?.RepoTags ?? []).filter((t) => /\/demo\/app:b\d+$/.test(t))]);
  }
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}, 180_000);

/** Logs in to the master on `url` once it answers; `container` names it in the failure. */
async function loginWhenUp(container: string): Promise<ApiClient> {
  const anon = new ApiClient({ url });
  const login = await waitFor(`the master container on ${url}`, () => anon.login('admin', adminPassword), { timeoutMs: 60_000, intervalMs: 200 }).catch(async (err: Error) => {
    throw new Error(`${err.message}\n--- docker logs ---\n${await logs(container)}`);
  });
  return anon.withToken(login.token);
}

/** The text nginx answers on 127.0.0.1:`edgePort` once it routes there (503: no instance yet). */
async function throughEdge(edgePort: number): Promise<string> {
  return waitFor(`nginx on 127.0.0.1:${edgePort} routes to an instance`, async () => {
    const r = await fetch(`http://127.0.0.1:${edgePort}/`).catch(() => undefined);
    return r?.ok ? r.text() : undefined;
  }, { timeoutMs: 30_000, intervalMs: 200 }).catch(async (err: Error) => {
    throw new Error(`${err.message}\n--- edge logs ---\n${await logs(await containerOf('edge'))}`);
  });
}

describe('container images and docker/compose.yml', () => {
  it('hold the built dist only; the master, an agent per environment and the edge run the demo job to prod; agents follow a master upgrade', async () => {
    // What is in the images: the bundles, no tsx, no dev dependency, better-sqlite3's native module for the master.
    const masterFiles = await docker('run', '--rm', '--entrypoint', 'sh', images.master, '-c', 'id -u; ls /opt/slipway/node_modules /opt/slipway/dist/bin /opt/slipway/dist/agent');
    expect(masterFiles.split('\n').filter((l) => l && !l.endsWith(':'))).toEqual(['10001', 'slipway-agent.json', 'slipway-agent.mjs', 'parse-worker.mjs', 'slipway.mjs', 'better-sqlite3', 'bindings', 'file-uri-to-path']);
    for (const image of [images.agent, images.edge]) {
      const agentFiles = await docker('run', '--rm', '--entrypoint', 'sh', image, '-c', 'ls /opt/slipway-agent; ls -d /opt/slipway/node_modules /usr/lib/node_modules/tsx 2>&1 || true; test -x /bin/busybox && echo busybox');
      expect(agentFiles).toContain('slipway-agent.mjs');
      expect(agentFiles).toMatch(/\/opt\/slipway\/node_modules.*No such file/);
      expect(agentFiles).toMatch(/tsx.*No such file/);
      expect(agentFiles).toContain('busybox');
    }
    expect(await docker('run', '--rm', '--entrypoint', 'sh', images.edge, '-c', 'nginx -v 2>&1')).toMatch(/^nginx version: nginx\/1\./);
    // The agent image without settings says what is missing.
    const bare = await docker('run', '--rm', images.agent).catch((e: Error) => e.message);
    expect(bare).toContain('set SLIPWAY_URL to the master URL');

    // The README's steps: the master first, then environments, registry and one token per agent, then the rest.
    composeUp = true;
    await compose('up', '-d', '--no-build', 'etcd', 'master');
    await waitFor(`the etcd container on ${etcdUrl}`, async () => (await fetch(`${etcdUrl}/health`).catch(() => undefined))?.ok || undefined, { timeoutMs: 30_000 }).catch(async (err: Error) => {
      throw new Error(`${err.message}\n--- etcd logs ---\n${await logs(await containerOf('etcd'))}`);
    });
    const masterContainer = await containerOf('master');
    const api = await loginWhenUp(masterContainer);
    await api.putRegistry({ name: 'local', url: env.registry, teams: ['demo'] });
    for (const a of AGENTS) {
      await api.createEnvironment(a.environment);
      const { token } = await api.createAgentToken(a.environment, a.name);
      writeFileSync(join(stack, `${a.service.replace(/^edge$/, 'agent-edge')}.token`), `${token}\n`, { mode: 0o600 });
    }
    await compose('up', '-d', '--no-build');
    const bundle = (await (await fetch(`${url}/agent/slipway-agent.json`)).json()) as { version: string };
    const connected = await waitFor('every agent container connected', async () => {
      const list = await api.listAgents();
      const found = AGENTS.map((a) => list.find((x) => x.name === a.name && x.environment === a.environment && x.state === 'connected'));
      return found.every(Boolean) ? found : undefined;
    }, { timeoutMs: 90_000, intervalMs: 250 }).catch(async (err: Error) => {
      throw new Error(`${err.message}\n--- stack logs ---\n${await stackLogs()}`);
    });
    expect(connected.map((a) => a!.version)).toEqual(AGENTS.map(() => bundle.version));
    // The edge runs no stage: no Docker socket, so no docker capability.
    const edgeAgent = connected[3]!;
    expect(edgeAgent.services.map((s) => s.name)).toContain('edge');
    expect(edgeAgent.capabilities.find((c) => c.name === 'docker')?.ok).not.toBe(true);
    expect(edgeAgent.capabilities.find((c) => c.name === 'nginx')?.ok).toBe(true);
    // Each agent container holds its own token only (the edge cannot read the prod agent's).
    expect(await docker('exec', await containerOf('edge'), 'sh', '-c', 'ls /run/secrets /etc/slipway')).toBe('/etc/slipway:\nagent.yml\n\n/run/secrets:\nslipway-agent-token');
    expect(await docker('exec', await containerOf('edge'), 'cat', '/run/secrets/slipway-agent-token')).toBe(readFileSync(join(stack, 'agent-edge.token'), 'utf8').trim());

    // The demo job, loaded from the mounted jobs directory.
    const { id } = await api.trigger('demo', { params: { GREETING: 'ahoy' } });
    const waiting = await waitFor(`build ${id} waits at prod's approval gate`, async () => {
      const b = await api.getBuild(id);
      return b.status === 'waiting' || ['success', 'failed', 'cancelled', 'timeout'].includes(b.status) ? b : undefined;
    }, { timeoutMs: 300_000, intervalMs: 500 }).catch(async (err: Error) => {
      throw new Error(`${err.message}\n--- build log ---\n${await api.buildLog(id).catch(() => '')}\n--- stack logs ---\n${await stackLogs()}`);
    });
    expect(waiting.status, await api.buildLog(id)).toBe('waiting');
    let outputs = await api.buildOutputs(id);
    const out = (step: string, key: string) => outputs.find((o) => o.stepId === step && o.key === key)?.value;
    const digest = out('image', 'digest') as string;
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(out('image', 'reference')).toBe(`${env.registry}/demo/app@${digest}`);
    appImage = `${env.registry}/demo/app@${digest}`;
    // By digest, not by tag: other tests of this host push demo/app:b1 to the same registry.
    expect(await registryDigest(env.registry, 'demo/app', digest)).toBe(digest);
    expect([out('os', 'layers'), out('runtime', 'layers'), out('image', 'layers')]).toEqual([1, 2, 3]);
    const preInstances = out('deploy', 'instances') as string[];
    expect(preInstances).toHaveLength(2);

    // pre answers through the edge's nginx, from one of the instances the deploy started.
    const pre = await throughEdge(edgePorts.pre);
    expect(pre).toMatch(/^ahoy from demo-app, build 1, port \d+\n$/);
    expect(preInstances).toContain(`127.0.0.1:${/port (\d+)/.exec(pre)![1]}`);
    // prod has nothing yet: nginx answers from its placeholder.
    expect((await fetch(`http://127.0.0.1:${edgePorts.prod}/`)).status).toBe(503);

    // The gate, approved with the CLI in the master's image.
    await docker('exec', '-e', `SLIPWAY_URL=${url}`, '-e', `SLIPWAY_TOKEN=${api.token}`, '-e', 'SLIPWAY_CONFIG=/tmp/none.json', masterContainer,
      'node', '/opt/slipway/dist/bin/slipway.mjs', 'approve', String(id), '--comment', 'ship it');
    const done = await waitFor(`build ${id} finished`, async () => {
      const b = await api.getBuild(id);
      return ['success', 'failed', 'cancelled', 'timeout'].includes(b.status) ? b : undefined;
    }, { timeoutMs: 180_000, intervalMs: 500 });
    const log = await api.buildLog(id);
    expect(done.status, log).toBe('success');
    expect(log).toContain('compiling demo-app (greeting: ahoy)');
    outputs = await api.buildOutputs(id);
    expect(out('promote', 'image')).toBe(out('image', 'reference'));

    // prod answers through nginx, and the instance behind it runs the digest pre runs.
    const prod = await throughEdge(edgePorts.prod);
    expect(prod).toMatch(/^ahoy from demo-app, build 1, port \d+\n$/);
    const prodPort = /port (\d+)/.exec(prod)![1];
    expect(out('promote', 'instances') as string[]).toContain(`127.0.0.1:${prodPort}`);
    const [prodContainer] = await env.docker.listContainers({ filters: { label: [`io.slipway.app=${app}`, 'io.slipway.environment=prod', `io.slipway.port=${prodPort}`] } });
    const [preContainer] = await env.docker.listContainers({ filters: { label: [`io.slipway.app=${app}`, 'io.slipway.environment=pre'] } });
    expect(prodContainer.Image).toBe(`${env.registry}/demo/app@${digest}`);
    expect(prodContainer.ImageID).toBe(preContainer.ImageID);
    const history = await api.listDeployments({ app });
    expect(history.map((d) => [d.environment, d.digest, d.approvedBy])).toEqual([['prod', digest, 'admin'], ['pre', digest, null]]);
    // The pre and prod agent containers ship the instances' logs (container-logs service of docker/stack).
    const shipped = await waitFor('the demo instances\' logs in the log center', async () => {
      const page = await api.request<AppLogPage>('GET', `/api/v1/app-logs?app=${app}&q=listening`);
      const envs = new Set(page.hits.map((h) => h.environment));
      return page.hits.length >= 4 && envs.has('pre') && envs.has('prod') ? page : undefined;
    }, { timeoutMs: 30_000, intervalMs: 250 });
    expect(shipped.hits.every((h) => /^demo-app listening on \d+$/.test(h.text))).toBe(true);

    // A master upgrade: a new master container on the compose volume (it still knows the build) serving a
    // newer agent bundle. Every agent container follows: drain, verified download, exit 75, and its entry
    // point starts the new bundle in place.
    const newer = join(tmp, 'newer');
    execFileSync(process.execPath, [join(REPO_ROOT, 'scripts', 'build.mjs'), '--out', newer, '--agent-only'], { env: { ...process.env, SLIPWAY_BUILD_VERSION: `0.1.0-${ns}-newer` }, stdio: 'pipe' });
    for (const d of [newer, join(newer, 'agent')]) chmodSync(d, 0o755);
    await compose('rm', '-s', '-f', 'master');
    await docker('run', '-d', '--name', upgradeMaster, '--network', 'host', '-v', `${ns}_slipway-data:/var/lib/slipway`,
      '-v', `${join(newer, 'agent')}:/opt/agent-bundle:ro`, '-e', 'SLIPWAY_AGENT_BUNDLE_DIR=/opt/agent-bundle',
      '-e', `SLIPWAY_PORT=${port}`, '-e', 'SLIPWAY_HOST=127.0.0.1', '-e', `SLIPWAY_ADMIN_PASSWORD=${adminPassword}`, images.master);
    const again = await loginWhenUp(upgradeMaster);
    expect((await again.getBuild(id)).status).toBe('success');
    await waitFor('every agent container on the newer bundle', async () => {
      const list = await again.listAgents();
      return AGENTS.every((a) => list.some((x) => x.name === a.name && x.state === 'connected' && x.version === `0.1.0-${ns}-newer`)) || undefined;
    }, { timeoutMs: 120_000, intervalMs: 250 }).catch(async (err: Error) => {
      throw new Error(`${err.message}\n--- stack logs ---\n${await stackLogs()}`);
    });
    const ci = await containerOf('agent-ci');
    expect(await logs(ci)).toMatch(/upgraded .* -> 0\.1\.0-.*-newer[\s\S]*upgraded; starting the new agent/);
    expect(await docker('inspect', '-f', '{{.RestartCount}} {{.State.Running}}', ci)).toBe('0 true');
    // The edge's nginx outlived its agent's upgrade and still routes.
    expect(await throughEdge(edgePorts.prod)).toMatch(/^ahoy from demo-app, build 1/);

    // docker stop reaches the agent through the entry point: it drains and exits 0 (not killed after -t).
    await docker('stop', '-t', '30', ci);
    expect(await docker('inspect', '-f', '{{.State.ExitCode}}', ci)).toBe('0');
    expect(await logs(ci)).toContain('SIGTERM: stopping');
  }, 900_000);
});
