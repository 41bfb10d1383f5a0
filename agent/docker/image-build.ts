/**
 * Builds an image with the engine's builder from a directory of the workspace, streaming the builder's output
 * into the step log.
 *
 * Invariants:
 *  - The build context is archived by `tar` running as the job's build user (when the agent is root): a
 *    symlink planted in the workspace is archived as a symlink, never followed, and tar can read only what
 *    the build user may, so an image cannot pull in the agent's token or another job's files.
 *  - A failed build names the Dockerfile instruction that failed (`step 3/5 RUN make: ...`), or the
 *    builder's parse error, which names the line.
 *  - The result counts instructions taken from the build cache and instructions run, which is how a
 *    rebuild that changed only app files shows that the base and middleware layers were reused.
 */
import { spawn } from 'node:child_process';
import type Docker from 'dockerode';
import type { RunAs } from '../executors/types';
import { followProgress, progressError } from './engine';

export interface ImageBuildOptions {
  /** Absolute directory sent as the build context. */
  context: string;
  /** Dockerfile path relative to the context (default `Dockerfile`). */
  dockerfile?: string;
  /** Full references to tag the image with (`127.0.0.1:5000/shop/web:1a2b3c4`); at least one. */
  tags: string[];
  buildArgs?: Record<string, string>;
  labels?: Record<string, string>;
  /** Network of RUN instructions: `host` lets them reach a loopback mirror (default `host`). */
  networkMode?: string;
  /** Disable the build cache (a cold build). */
  noCache?: boolean;
  /** Credentials per registry host for pulling FROM images (X-Registry-Config). */
  registryAuth?: Record<string, { username: string; password: string; serveraddress: string }>;
  /** The job's build user; the context is read as this user. */
  runAs?: RunAs;
  signal?: AbortSignal;
  /** Where the builder's output lines go (the step log). */
  log: (text: string) => void;
}

export interface BuiltImage {
  /** Image id (`sha256:...`). */
  id: string;
  tags: string[];
  /** Layers of the image's root filesystem. */
  layers: number;
  /** Uncompressed size in bytes. */
  size: number;
  /** Instructions answered from the build cache. */
  cachedSteps: number;
  /** Instructions executed or committed anew. */
  builtSteps: number;
}

/** A build that failed: `instruction` is the failing Dockerfile instruction when the builder named one. */
export class ImageBuildError extends Error {
  readonly code = 'image_build_failed';
  constructor(
    message: string,
    readonly instruction?: string,
  ) {
    super(message);
    this.name = 'ImageBuildError';
  }
}

const STEP_LINE = /^Step (\d+\/\d+) : (.*)$/;

export async function buildImage(docker: Docker, o: ImageBuildOptions): Promise<BuiltImage> {
  if (!o.tags.length) throw new ImageBuildError('an image build needs at least one tag');
  const tar = archiveAs(o.context, o.runAs);
  let stream: NodeJS.ReadableStream;
  try {
    stream = await docker.buildImage(tar.stream, {
      t: o.tags[0],
      dockerfile: o.dockerfile ?? 'Dockerfile',
      buildargs: o.buildArgs,
      labels: o.labels,
      networkmode: o.networkMode ?? 'host',
      nocache: o.noCache,
      rm: true,
      forcerm: true,
      registryconfig: o.registryAuth,
      abortSignal: o.signal,
    });
  } catch (e) {
    // The engine answers before reading the whole context when the archive is cut short: tar's own error
    // (a file the build user may not read) is then the cause worth reporting.
    const tarError = await Promise.race([tar.done, new Promise<undefined>((r) => setTimeout(r, 2000, undefined))]);
    tar.kill();
    if (tarError) throw new ImageBuildError(`reading the build context ${o.context} failed: ${tarError}`);
    throw new ImageBuildError(`the Docker engine refused the build: ${(e as Error).message}`);
  }

  let step: string | undefined;
  let cachedSteps = 0;
  let builtSteps = 0;
  let stepCounted = false;
  let error: string | undefined;
  let id: string | undefined;
  await followProgress(docker, stream, (m) => {
    const err = progressError(m);
    if (err) {
      error = err;
      o.log(`${err}\n`);
      return;
    }
    if (m.aux && typeof m.aux.ID === 'string') id = m.aux.ID;
    if (!m.stream) return;
    o.log(m.stream);
    for (const line of m.stream.split('\n')) {
      const s = STEP_LINE.exec(line.trim());
      if (s) {
        step = `step ${s[1]} ${s[2]}`;
        // FROM only names the parent image: neither built nor cached.
        stepCounted = /^FROM\s/i.test(s[2]);
      } else if (!stepCounted && step && /^---> Using cache$/.test(line.trim())) {
        cachedSteps++;
        stepCounted = true;
      } else if (!stepCounted && step && /^---> (Running in|[0-9a-f]{12}$)/.test(line.trim())) {
        builtSteps++;
        stepCounted = true;
      }
      const built = /^Successfully built ([0-9a-f]+)$/.exec(line.trim());
      if (built && !id) id = built[1];
    }
  }).catch((e: Error) => {
    error ??= e.message;
  });
  const tarError = await tar.done;
  if (tarError) {
    // GNU tar skips an unreadable file and goes on, so the build may even have succeeded: without that file
    // the image is not what the Dockerfile says, and its tag must not stay behind.
    if (!error) await docker.getImage(o.tags[0]).remove().catch(() => undefined);
    throw new ImageBuildError(`reading the build context ${o.context} failed: ${tarError}`);
  }
  if (error) {
    const where = step && !/dockerfile parse error/i.test(error) ? `${step}: ` : '';
    throw new ImageBuildError(`image build failed at ${where}${error.trim()}`, where ? step : undefined);
  }
  if (!id) throw new ImageBuildError('the builder finished without reporting an image id');
  const image = docker.getImage(id);
  for (const tag of o.tags.slice(1)) {
    const { repo, tag: t } = splitReference(tag);
    await image.tag({ repo, tag: t });
  }
  const info = await image.inspect();
  return {
    id: info.Id,
    tags: o.tags,
    layers: info.RootFS?.Layers?.length ?? 0,
    size: info.Size,
    cachedSteps,
    builtSteps,
  };
}

/** `host:5000/a/b:tag` -> { repo: 'host:5000/a/b', tag: 'tag' } (tag defaults to latest). */
export function splitReference(ref: string): { repo: string; tag: string } {
  const at = ref.indexOf('@');
  if (at >= 0) return { repo: ref.slice(0, at), tag: ref.slice(at + 1) };
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  if (colon > slash) return { repo: ref.slice(0, colon), tag: ref.slice(colon + 1) };
  return { repo: ref, tag: 'latest' };
}

/** `tar -c` of dir's content as runAs; `done` resolves with tar's error text, or undefined on success. */
function archiveAs(dir: string, runAs: RunAs | undefined): { stream: NodeJS.ReadableStream; done: Promise<string | undefined>; kill(): void } {
  const child = spawn('tar', ['-c', '--numeric-owner', '-C', dir, '.'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C' },
    uid: runAs?.uid,
    gid: runAs?.gid,
  });
  let err = '';
  child.stderr!.on('data', (b: Buffer) => {
    if (err.length < 4096) err += b.toString();
  });
  const done = new Promise<string | undefined>((resolve) => {
    child.once('error', (e) => resolve(`could not start tar: ${e.message}`));
    child.once('close', (code) => resolve(code === 0 ? undefined : err.trim() || `tar exited with ${code}`));
  });
  return { stream: child.stdout!, done, kill: () => child.kill('SIGKILL') };
}
