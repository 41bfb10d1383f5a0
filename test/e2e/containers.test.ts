/**
 * The container images (issue 13, docker/Dockerfile), for real: a local Node base image is made with
 * docker/local-base.sh (debootstrap of Debian bookworm + this host's node; kept under its tag, so only the
 * first run pays its ~40 s), the master and agent images are built FROM it exactly as the README says
 * (`npm run build -- --standalone`, `docker build --target master|agent`), into a temp build context laid
 * out like the repository so the repository's own dist/ is never touched. Then a master container (data in
 * a named volume at /var/lib/slipway) and an agent container (Docker socket mounted, token from a mounted
 * file) run a build whose image step is built through the mounted socket and pushed to the test registry;
 * the master container restarted on the same volume still has the build.
 */
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../shared/client/api-client';
import { freeTcpPort } from '../helpers/discovery';
import { registryDigest, removeImages, requireDocker, uniqueName, type DockerTestEnv } from '../helpers/docker';
import { REPO_ROOT } from '../helpers/process';
import { waitFor } from '../helpers/wait';

const run = promisify(execFile);
const ns = uniqueName('ctr');
const masterImage = `slipway-test/${ns}-master:1`;
const agentImage = `slipway-test/${ns}-agent:1`;
const volume = `${ns}-data`;
const containers = { master: `${ns}-master`, agent: `${ns}-agent` };
const adminPassword = `pw-${ns}`;
let env: DockerTestEnv;
let tmp: string;
let port: number;
let url: string;

/** docker CLI, failing with its stderr. */
async function docker(...args: string[]): Promise<string> {
  try {
    return (await run('docker', args, { maxBuffer: 64 * 1024 * 1024 })).stdout.trim();
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`docker ${args.slice(0, 2).join(' ')} failed: ${e.stderr || e.message}`);
  }
}

/** A container's output, stdout and stderr. */
async function logs(name: string): Promise<string> {
  const r = await run('docker', ['logs', name], { maxBuffer: 64 * 1024 * 1024 }).catch((e: { stdout?: string; stderr?: string }) => e);
  return `${r.stdout ?? ''}${r.stderr ?? ''}`;
}

/** The build context of docker/Dockerfile with what the README's build commands put there. */
function buildContext(dir: string): void {
  execFileSync(process.execPath, [join(REPO_ROOT, 'scripts', 'build.mjs'), '--out', join(dir, 'dist'), '--standalone'], { stdio: 'pipe' });
  execFileSync(process.execPath, [join(REPO_ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', join(REPO_ROOT, 'web'), '--outDir', join(dir, 'web', 'dist'), '--emptyOutDir', '--logLevel', 'warn'], { stdio: 'pipe' });
  for (const f of ['package.json', '.dockerignore', 'docker/Dockerfile', 'docker/agent-entrypoint.sh']) {
    mkdirSync(join(dir, f, '..'), { recursive: true });
    copyFileSync(join(REPO_ROOT, f), join(dir, f));
  }
  chmodSync(join(dir, 'docker', 'agent-entrypoint.sh'), 0o755);
  // More of node_modules than the image copies: the .dockerignore must keep the rest out.
  for (const m of ['bindings', 'file-uri-to-path', 'better-sqlite3']) cpSync(join(REPO_ROOT, 'node_modules', m), join(dir, 'node_modules', m), { recursive: true });
}

beforeAll(async () => {
  env = await requireDocker();
  tmp = mkdtempSync(join(tmpdir(), 'slipway-containers-'));
  const base = (await run(join(REPO_ROOT, 'docker', 'local-base.sh'), [], { maxBuffer: 16 * 1024 * 1024 })).stdout.trim().split('\n').at(-1)!;
  const ctx = join(tmp, 'ctx');
  buildContext(ctx);
  for (const [target, tag] of [['master', masterImage], ['agent', agentImage]]) {
    await docker('build', '--network', 'host', '-q', '-f', join(ctx, 'docker', 'Dockerfile'), '--build-arg', `BASE=${base}`, '--target', target, '-t', tag, ctx);
  }
  port = await freeTcpPort();
  url = `http://127.0.0.1:${port}`;
}, 600_000);

afterAll(async () => {
  for (const c of Object.values(containers)) await docker('rm', '-f', c).catch(() => undefined);
  await docker('volume', 'rm', '-f', volume).catch(() => undefined);
  if (env) {
    const pushed = await env.docker.listImages({ filters: { reference: [`*/${ns}/*`] } });
    await removeImages(env.docker, [masterImage, agentImage, ...pushed.flatMap((i) => i.RepoTags ?? [])]);
  }
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}, 120_000);

/** The master container on the data volume; `bundleDir`: a host directory of agent bundles it serves instead of its own. */
async function startMasterContainer(bundleDir?: string): Promise<ApiClient> {
  const bundle = bundleDir ? ['-v', `${bundleDir}:/opt/agent-bundle:ro`, '-e', 'SLIPWAY_AGENT_BUNDLE_DIR=/opt/agent-bundle'] : [];
  await docker('run', '-d', '--name', containers.master, '--network', 'host', '-v', `${volume}:/var/lib/slipway`, ...bundle,
    '-e', `SLIPWAY_PORT=${port}`, '-e', 'SLIPWAY_HOST=127.0.0.1', '-e', `SLIPWAY_ADMIN_PASSWORD=${adminPassword}`, masterImage);
  const anon = new ApiClient({ url });
  const login = await waitFor(`the master container on ${url}`, () => anon.login('admin', adminPassword), { timeoutMs: 60_000, intervalMs: 200 }).catch(async (err: Error) => {
    throw new Error(`${err.message}\n--- docker logs ---\n${await logs(containers.master)}`);
  });
  return anon.withToken(login.token);
}

describe('container images', () => {
  it('hold the built dist only, and a master and an agent container complete a build whose image step uses the mounted Docker socket', async () => {
    // What is in the images: the bundles, no tsx, no dev dependency, better-sqlite3's native module for the master.
    const masterFiles = await docker('run', '--rm', '--entrypoint', 'sh', masterImage, '-c', 'id -u; ls /opt/slipway/node_modules /opt/slipway/dist/bin /opt/slipway/dist/agent');
    expect(masterFiles.split('\n').filter((l) => l && !l.endsWith(':'))).toEqual(['10001', 'slipway-agent.json', 'slipway-agent.mjs', 'parse-worker.mjs', 'slipway.mjs', 'better-sqlite3', 'bindings', 'file-uri-to-path']);
    const agentFiles = await docker('run', '--rm', '--entrypoint', 'sh', agentImage, '-c', 'ls /opt/slipway-agent; ls -d /opt/slipway/node_modules /usr/lib/node_modules/tsx 2>&1 || true');
    expect(agentFiles).toContain('slipway-agent.mjs');
    expect(agentFiles).toMatch(/\/opt\/slipway\/node_modules.*No such file/);
    expect(agentFiles).toMatch(/tsx.*No such file/);

    const api = await startMasterContainer();
    const team = `${ns}-team`;
    const environment = `${ns}-env`;
    await api.createTeam(team);
    await api.createEnvironment(environment);
    await api.putRegistry({ name: ns, url: env.registry, teams: [team] });
    const { token } = await api.createAgentToken(environment, 'container-agent');
    const secrets = join(tmp, 'secrets');
    mkdirSync(secrets, { mode: 0o700 });
    writeFileSync(join(secrets, 'agent-token'), `${token}\n`, { mode: 0o600 });

    // The agent image without settings says what is missing.
    const bare = await docker('run', '--rm', agentImage).catch((e: Error) => e.message);
    expect(bare).toContain('set SLIPWAY_URL to the master URL');

    await docker('run', '-d', '--name', containers.agent, '--network', 'host',
      '-v', '/var/run/docker.sock:/var/run/docker.sock',
      '-v', `${secrets}:/run/secrets:ro`,
      '-e', `SLIPWAY_URL=${url}`, '-e', `SLIPWAY_ENVIRONMENT=${environment}`, '-e', 'SLIPWAY_AGENT_NAME=container-agent',
      '-e', 'SLIPWAY_AGENT_TOKEN_FILE=/run/secrets/agent-token', agentImage);
    const bundle = (await (await fetch(`${url}/agent/slipway-agent.json`)).json()) as { version: string };
    const agent = await waitFor('the agent container connected', async () => {
      const a = (await api.listAgents()).find((x) => x.name === 'container-agent' && x.environment === environment);
      return a?.state === 'connected' ? a : undefined;
    }, { timeoutMs: 60_000, intervalMs: 200 }).catch(async (err: Error) => {
      throw new Error(`${err.message}\n--- agent logs ---\n${await logs(containers.agent)}`);
    });
    expect(agent.version).toBe(bundle.version);

    await api.applyJob(`name: ${ns}-job
team: ${team}
stages:
  - name: build
    environment: ${environment}
    steps:
      - name: context
        sh: |
          set -e
          mkdir -p ctx
          echo "built in a container, build $SLIPWAY_BUILD_NUMBER" > ctx/hello.txt
          printf 'FROM scratch\\nCOPY hello.txt /\\n' > ctx/Dockerfile
      - id: image
        image: { name: ${ns}/hello, context: ctx, dockerfile: Dockerfile }
`);
    const { id } = await api.trigger(`${ns}-job`);
    const done = await waitFor(`build ${id} finished`, async () => {
      const b = await api.getBuild(id);
      return ['success', 'failed', 'cancelled', 'timeout'].includes(b.status) ? b : undefined;
    }, { timeoutMs: 180_000, intervalMs: 500 }).catch(async (err: Error) => {
      throw new Error(`${err.message}\n--- build log ---\n${await api.buildLog(id)}\n--- agent logs ---\n${await logs(containers.agent)}`);
    });
    const log = await api.buildLog(id);
    expect(done.status, log).toBe('success');
    expect(log).toContain(`pushed ${env.registry}/${ns}/hello:b1`);
    const outputs = await api.buildOutputs(id);
    const image = outputs.find((o) => o.stepId === 'image' && o.key === 'digest');
    expect(image?.value).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await registryDigest(env.registry, `${ns}/hello`, 'b1')).toBe(image?.value);

    // A master upgrade: a new master container on the same volume (it still knows the build) serving a newer
    // agent bundle. The agent container follows: drain, verified download, exit 75, and its entry point starts
    // the new bundle in place.
    const newer = join(tmp, 'newer');
    execFileSync(process.execPath, [join(REPO_ROOT, 'scripts', 'build.mjs'), '--out', newer, '--agent-only'], { env: { ...process.env, SLIPWAY_BUILD_VERSION: `0.1.0-${ns}-newer` }, stdio: 'pipe' });
    for (const d of [tmp, newer, join(newer, 'agent')]) chmodSync(d, 0o755);
    await docker('rm', '-f', containers.master);
    const again = await startMasterContainer(join(newer, 'agent'));
    expect((await again.getBuild(id)).status).toBe('success');
    const upgraded = await waitFor('the agent container on the newer bundle', async () => {
      const a = (await again.listAgents()).find((x) => x.name === 'container-agent' && x.environment === environment);
      return a?.state === 'connected' && a.version === `0.1.0-${ns}-newer` ? a : undefined;
    }, { timeoutMs: 90_000, intervalMs: 250 }).catch(async (err: Error) => {
      throw new Error(`${err.message}\n--- agent logs ---\n${await logs(containers.agent)}`);
    });
    expect(upgraded.version).toBe(`0.1.0-${ns}-newer`);
    expect(await logs(containers.agent)).toMatch(/upgraded .* -> 0\.1\.0-.*-newer[\s\S]*upgraded; starting the new agent/);
    expect((await docker('inspect', '-f', '{{.RestartCount}} {{.State.Running}}', containers.agent))).toBe('0 true');

    // docker stop reaches the agent through the entry point: it drains and exits 0 (not killed after -t).
    await docker('stop', '-t', '30', containers.agent);
    expect(await docker('inspect', '-f', '{{.State.ExitCode}}', containers.agent)).toBe('0');
    expect(await logs(containers.agent)).toContain('SIGTERM: stopping');
  }, 400_000);
});
