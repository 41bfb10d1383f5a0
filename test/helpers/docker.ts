/**
 * The real Docker engine and registry for tests. `npm test` (scripts/test.sh) starts dockerd when its socket
 * does not answer and a registry on a free loopback port, exported as SLIPWAY_REGISTRY. Each test names its
 * images with a random prefix (`uniqueName`) and removes them afterwards (`removeImages`).
 *
 * No image can be pulled here: `busyboxContext` lays out a build context whose Dockerfile makes an OS base
 * layer FROM scratch out of Debian's static busybox.
 */
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type Docker from 'dockerode';
import { dockerClient } from '../../agent/docker/engine';
import { buildImage } from '../../agent/docker/image-build';

export interface DockerTestEnv {
  docker: Docker;
  /** host:port of the registry started by the test setup. */
  registry: string;
}

/** The engine and registry, or an error that says how to get them (run through npm test). */
export async function requireDocker(): Promise<DockerTestEnv> {
  const registry = process.env.SLIPWAY_REGISTRY;
  if (!registry) throw new Error('SLIPWAY_REGISTRY is not set: run these tests through `npm test` (scripts/test.sh starts dockerd and a registry)');
  const docker = dockerClient();
  try {
    await docker.ping();
  } catch (e) {
    throw new Error(`the Docker engine at /var/run/docker.sock does not answer (${(e as Error).message}): run the tests through \`npm test\``);
  }
  return { docker, registry };
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

const BUSYBOX = '/bin/busybox';
const APPLETS = ['sh', 'ls', 'cat', 'echo', 'env', 'sleep', 'httpd', 'wget', 'mkdir', 'rm', 'true', 'false', 'test', 'kill'];

/** Writes a build context for an OS base image: rootfs/ with busybox and applet links, FROM scratch. */
export function busyboxContext(dir: string): void {
  if (!existsSync(BUSYBOX)) throw new Error(`${BUSYBOX} is missing: install Debian's busybox-static (npm test does)`);
  const bin = join(dir, 'rootfs', 'bin');
  mkdirSync(bin, { recursive: true });
  mkdirSync(join(dir, 'rootfs', 'tmp'), { recursive: true });
  copyFileSync(BUSYBOX, join(bin, 'busybox'));
  for (const a of APPLETS) symlinkSync('busybox', join(bin, a));
  writeFileSync(join(dir, 'Dockerfile'), 'FROM scratch\nCOPY rootfs/ /\nENV PATH=/bin\nCMD ["sh"]\n');
}

/** Removes images by reference, ignoring the ones already gone. */
export async function removeImages(docker: Docker, refs: string[]): Promise<void> {
  for (const ref of refs.reverse()) {
    await docker.getImage(ref).remove({ force: true }).catch(() => undefined);
  }
}

/** The manifest digest the registry serves for repo:tag (Docker-Content-Digest), read over its HTTP API. */
export async function registryDigest(registry: string, repo: string, tag: string): Promise<string | null> {
  const res = await fetch(`http://${registry}/v2/${repo}/manifests/${tag}`, {
    method: 'HEAD',
    headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' },
  });
  return res.ok ? res.headers.get('docker-content-digest') : null;
}

/**
 * A build context for a Node runtime ("middleware") image FROM `base`: this machine's node binary and the
 * shared libraries ldd lists for it (no package can be installed inside an image here).
 */
export function nodeRuntimeContext(dir: string, base: string): void {
  const node = realpathSync(process.execPath);
  const files = [node];
  for (const line of execFileSync('ldd', [node], { encoding: 'utf8' }).split('\n')) {
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
    if (m) files.push(m[1]);
  }
  for (const f of files) {
    const dest = join(dir, 'rootfs', f === node ? '/usr/bin/node' : f);
    mkdirSync(dirname(dest), { recursive: true });
    copyFileSync(realpathSync(f), dest);
  }
  writeFileSync(join(dir, 'Dockerfile'), `FROM ${base}\nCOPY rootfs/ /\nENV PATH=/usr/bin:/bin\n`);
}

/**
 * A small HTTP app for deploy tests: answers `VERSION on PORT`, /health (500 when BROKEN is set), /slow?ms=N,
 * and on SIGTERM stops accepting and finishes the requests in flight before it exits.
 */
export const TEST_APP_JS = `
const http = require('http');
let draining = false;
const srv = http.createServer((req, res) => {
  const u = new URL(req.url, 'http://x');
  if (draining) res.setHeader('connection', 'close');
  if (u.pathname === '/health') {
    res.statusCode = process.env.BROKEN ? 500 : 200;
    return res.end(process.env.BROKEN ? 'broken on purpose' : 'ok');
  }
  if (u.pathname === '/slow') return void setTimeout(() => res.end('slow done ' + process.env.VERSION), Number(u.searchParams.get('ms') || 1000));
  res.end(process.env.VERSION + ' on ' + process.env.PORT + '\\n');
});
srv.listen(Number(process.env.PORT), () => console.log('listening on ' + process.env.PORT));
process.on('SIGTERM', () => {
  console.log('SIGTERM: finishing requests in flight');
  draining = true;
  srv.close(() => process.exit(0));
  srv.closeIdleConnections();
});
`;

/**
 * Builds the deploy tests' app image: busybox OS layer, Node runtime layer, TEST_APP_JS as /app/server.js
 * (run it with command ["node", "/app/server.js"]). Returns every image made, app last, for removeImages.
 */
export async function buildTestApp(docker: Docker, dir: string, appRef: string): Promise<string[]> {
  const ns = uniqueName('fixture');
  const base = `slipway-test/busybox:${ns}`;
  const runtime = `slipway-test/node-runtime:${ns}`;
  busyboxContext(join(dir, 'base'));
  await buildImage(docker, { context: join(dir, 'base'), tags: [base], log: () => undefined });
  nodeRuntimeContext(join(dir, 'runtime'), base);
  await buildImage(docker, { context: join(dir, 'runtime'), tags: [runtime], log: () => undefined });
  mkdirSync(join(dir, 'app'), { recursive: true });
  writeFileSync(join(dir, 'app', 'server.js'), TEST_APP_JS);
  writeFileSync(join(dir, 'app', 'Dockerfile'), `FROM ${runtime}\nCOPY server.js /app/server.js\n`);
  await buildImage(docker, { context: join(dir, 'app'), tags: [appRef], log: () => undefined });
  return [base, runtime, appRef];
}
