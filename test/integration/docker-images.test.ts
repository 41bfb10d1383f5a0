/**
 * Three-layer images against the real Docker engine and registry: an OS base layer (busybox FROM scratch), a
 * middleware image FROM it and an app image FROM that holding only the build output; pushed with digests;
 * an app-only change rebuilds and uploads one layer; build errors name the failing instruction; the context
 * is read as the build user.
 */
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageBuildError, buildImage } from '../../agent/docker/image-build';
import { pushImage } from '../../agent/docker/image-push';
import { busyboxContext, registryDigest, removeImages, requireDocker, uniqueName, type DockerTestEnv } from '../helpers/docker';

let env: DockerTestEnv;
let dir: string;
const refs: string[] = [];
const ns = uniqueName('t');
let logText = '';
const log = (t: string) => {
  logText += t;
};

function context(name: string, dockerfile: string, files: Record<string, string> = {}): string {
  const d = join(dir, name);
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'Dockerfile'), dockerfile);
  for (const [p, c] of Object.entries(files)) {
    mkdirSync(join(d, p, '..'), { recursive: true });
    writeFileSync(join(d, p), c);
  }
  return d;
}

beforeAll(async () => {
  env = await requireDocker();
  dir = mkdtempSync(join(tmpdir(), 'slipway-images-'));
});

afterAll(async () => {
  if (env) await removeImages(env.docker, refs);
  rmSync(dir, { recursive: true, force: true });
});

describe('three-layer images', () => {
  let base: string;
  let middleware: string;

  it('builds base, middleware and app images, each FROM the one before, and pushes them with digests', async () => {
    const r = env.registry;
    base = `${r}/${ns}/base:1`;
    middleware = `${r}/${ns}/middleware:1`;
    const baseCtx = join(dir, 'base');
    busyboxContext(baseCtx);
    const b = await buildImage(env.docker, { context: baseCtx, tags: [base], log });
    refs.push(base);
    const m = await buildImage(env.docker, {
      context: context('mw', `FROM ${base}\nRUN mkdir -p /srv/www && echo 'runtime 1.0' > /etc/runtime\nCMD ["httpd", "-f", "-h", "/srv/www"]\n`),
      tags: [middleware],
      log,
    });
    refs.push(middleware);
    const appRef = `${r}/${ns}/app:b1`;
    const a = await buildImage(env.docker, {
      context: context('app', `FROM ${middleware}\nCOPY dist/ /srv/www/\n`, { 'dist/index.html': 'v1\n' }),
      tags: [appRef, `${r}/${ns}/app:latest-build`],
      log,
    });
    refs.push(appRef, `${r}/${ns}/app:latest-build`);
    expect(m.layers).toBe(b.layers + 1);
    expect(a.layers).toBe(m.layers + 1);
    expect(a.size).toBeGreaterThan(0);

    for (const ref of [base, middleware]) await pushImage(env.docker, ref, { log });
    const pushed = await pushImage(env.docker, appRef, { log });
    expect(pushed.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await registryDigest(r, `${ns}/app`, 'b1')).toBe(pushed.digest);
    // base and middleware layers went up with their own images already.
    expect(pushed.layersPushed).toBe(1);
    expect(pushed.layersReused).toBe(2);
    expect(logText).toContain('Step 2/2 : COPY dist/ /srv/www/');
  });

  it('rebuilds only the app layer when only app files changed, and uploads only that layer', async () => {
    const ref2 = `${env.registry}/${ns}/app:b2`;
    const ctx = context('app', `FROM ${middleware}\nCOPY dist/ /srv/www/\n`, { 'dist/index.html': 'v2\n' });
    const a = await buildImage(env.docker, { context: ctx, tags: [ref2], log });
    refs.push(ref2);
    expect(a.builtSteps).toBe(1);
    const pushed = await pushImage(env.docker, ref2, { log });
    expect(pushed.layersPushed).toBe(1);
    expect(pushed.layersReused).toBe(2);

    // The same context again: the COPY comes from the cache, nothing is built.
    const again = await buildImage(env.docker, { context: ctx, tags: [ref2], log });
    expect(again.builtSteps).toBe(0);
    expect(again.cachedSteps).toBe(1);
    expect(again.id).toBe(a.id);
  });

  it('names the failing instruction when a RUN fails', async () => {
    const ctx = context('broken-run', `FROM ${middleware}\nRUN echo preparing\nRUN exit 3\n`);
    const err = await buildImage(env.docker, { context: ctx, tags: [`${env.registry}/${ns}/broken:1`], log }).catch((e) => e);
    expect(err).toBeInstanceOf(ImageBuildError);
    expect(err.instruction).toBe('step 3/3 RUN exit 3');
    expect(err.message).toMatch(/^image build failed at step 3\/3 RUN exit 3: .*returned a non-zero code: 3/);
  });

  it('names the line of a Dockerfile the builder cannot parse', async () => {
    const ctx = context('broken-parse', `FROM ${middleware}\nCOPY a b\nFLY away\n`);
    const err = await buildImage(env.docker, { context: ctx, tags: [`${env.registry}/${ns}/broken:2`], log }).catch((e) => e);
    expect(err).toBeInstanceOf(ImageBuildError);
    expect(err.message).toMatch(/line 3/);
    expect(err.message).toMatch(/unknown instruction: FLY/i);
  });
});

describe('build context read as the build user', () => {
  it.runIf(process.getuid?.() === 0)('fails, naming the context, when the context holds a file the build user may not read', async () => {
    const ctx = context('private', 'FROM scratch\nCOPY . /\n', { 'dist/ok.txt': 'ok' });
    writeFileSync(join(ctx, 'root-only.key'), 'secret', { mode: 0o600 });
    chmodSync(dir, 0o711);
    chownSync(ctx, 65534, 65534);
    chownSync(join(ctx, 'Dockerfile'), 65534, 65534);
    const err = await buildImage(env.docker, { context: ctx, tags: [`${env.registry}/${ns}/private:1`], runAs: { uid: 65534, gid: 65534 }, log }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(ImageBuildError);
    expect(err.message).toContain(`reading the build context ${ctx} failed`);
    expect(err.message).toContain('root-only.key');
  });

  it('archives a symlink as a symlink, never the file it points to', async () => {
    const ctx = context('symlink', 'FROM scratch\nCOPY . /ctx/\n');
    const { symlinkSync } = await import('node:fs');
    symlinkSync('/etc/hostname', join(ctx, 'leak'));
    const ref = `${env.registry}/${ns}/symlink:1`;
    const img = await buildImage(env.docker, { context: ctx, tags: [ref], log });
    refs.push(ref);
    const c = await env.docker.createContainer({ Image: img.id, Cmd: ['none'] });
    try {
      const archive = await c.getArchive({ path: '/ctx/leak' });
      const chunks: Buffer[] = [];
      for await (const ch of archive as AsyncIterable<Buffer>) chunks.push(ch);
      const tar = Buffer.concat(chunks);
      // ustar header: type flag '2' (symlink) at offset 156, link name at 157.
      expect(String.fromCharCode(tar[156])).toBe('2');
      expect(tar.subarray(157, 157 + '/etc/hostname'.length).toString()).toBe('/etc/hostname');
    } finally {
      await c.remove({ force: true });
    }
  });
});
