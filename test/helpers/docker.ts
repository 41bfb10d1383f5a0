/**
 * The real Docker engine and registry for tests. `npm test` (scripts/test.sh) starts dockerd when its socket
 * does not answer and a registry on a free loopback port, exported as SLIPWAY_REGISTRY. Each test names its
 * images with a random prefix (`uniqueName`) and removes them afterwards (`removeImages`).
 *
 * No image can be pulled here: `busyboxContext` lays out a build context whose Dockerfile makes an OS base
 * layer FROM scratch out of Debian's static busybox.
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { dockerClient } from '../../agent/docker/engine';

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
