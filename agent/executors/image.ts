/**
 * The image step (shared/job/kinds/image.ts): builds with the Docker engine from a workspace directory read as
 * the job's build user (agent/docker/image-build.ts), tags it b<build number> (and <sha7> with a commit, plus
 * the configured tags), pushes every tag with the registry's credentials and publishes the digest.
 *
 * With `from`, the Dockerfile is generated (`FROM <from>`, `COPY . <workdir>/`, optional CMD) and written into
 * the context as GENERATED_DOCKERFILE by the build user (the agent never writes into a workspace as root).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { RegistryAccess } from '../../shared/protocol';
import { imageKind, type ImageConfig } from '../../shared/job/kinds/image';
import { registryHost } from '../../shared/registry-client';
import { checkEngine, dockerClient } from '../docker/engine';
import { ImageBuildError, buildImage } from '../docker/image-build';
import { ImagePushError, pushImage } from '../docker/image-push';
import { defineExecutor, type RunAs, type StepContext, type StepResult, type StopReason } from './types';

export const GENERATED_DOCKERFILE = '.slipway.Dockerfile';

export const imageExecutor = defineExecutor<ImageConfig>(imageKind, '1.0.0', runImage);

/** The registry a step uses: the one it names, or the only one granted; an error message otherwise. */
export function pickRegistry(registries: RegistryAccess[], name: string | undefined): RegistryAccess | string {
  if (name) {
    const r = registries.find((x) => x.name === name);
    return r ?? `registry '${name}' is not granted to this job's team (granted: ${registries.map((x) => x.name).join(', ') || 'none'})`;
  }
  if (registries.length === 1) return registries[0];
  if (!registries.length) return 'no registry is granted to this job\'s team: an admin adds one with `slipway registry add NAME --url HOST:PORT --teams TEAM`';
  return `several registries are granted to this job's team (${registries.map((x) => x.name).join(', ')}): name one with registry:`;
}

/** `shop/node:20` -> `127.0.0.1:5000/shop/node:20`; a name whose first part is a host stays as it is. */
export function qualify(host: string, image: string): string {
  const first = image.split('/')[0];
  return image.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost') ? image : `${host}/${image}`;
}

async function runImage(ctx: StepContext, cfg: ImageConfig): Promise<StepResult> {
  const stop = () => ctx.signal.reason as StopReason;
  if (ctx.signal.aborted) return { status: stop().status, exitCode: null, error: stop().message };
  const registry = pickRegistry(ctx.registries, cfg.registry);
  if (typeof registry === 'string') return { status: 'error', exitCode: null, error: registry };
  const host = registryHost(registry.url);
  const docker = dockerClient({ socketPath: ctx.host.docker?.socket });
  try {
    await checkEngine(docker, ctx.host.docker?.socket);
  } catch (e) {
    return { status: 'error', exitCode: null, error: (e as Error).message };
  }
  ctx.started(Date.now());
  const repo = `${host}/${cfg.name}`;
  const tags = [`b${ctx.build.number}`, ...(ctx.source?.sha ? [ctx.source.sha.slice(0, 7)] : []), ...cfg.tags];
  const refs = [...new Set(tags)].map((t) => `${repo}:${t}`);
  const context = join(ctx.workspace, cfg.context);
  let dockerfile = cfg.dockerfile;
  if (cfg.from) {
    const text = [`FROM ${qualify(host, cfg.from)}`, `COPY . ${cfg.workdir.replace(/\/+$/, '')}/`, ...(cfg.cmd ? [`CMD ${JSON.stringify(cfg.cmd)}`] : [])].join('\n');
    const written = await writeAs(join(context, GENERATED_DOCKERFILE), `${text}\n`, ctx.runAs);
    if (written) return { status: 'error', exitCode: null, error: `writing the generated Dockerfile into ${cfg.context} failed: ${written}` };
    dockerfile = GENERATED_DOCKERFILE;
    ctx.output.write(`generated Dockerfile:\n${text}\n`);
  }
  const auth = registry.username ? { username: registry.username, password: registry.password ?? '', serveraddress: host } : undefined;
  try {
    ctx.output.write(`building ${refs.join(', ')}\n`);
    const built = await buildImage(docker, {
      context,
      dockerfile,
      tags: refs,
      buildArgs: cfg.buildArgs,
      // Only stable labels: a per-build label would change every image's config, so base and middleware images
      // would never come from the build cache and every layer above them would be rebuilt and pushed again.
      labels: { 'io.slipway.job': ctx.build.job },
      runAs: ctx.runAs,
      signal: ctx.signal,
      registryAuth: auth ? { [host]: auth } : undefined,
      log: (t) => ctx.output.write(t),
    });
    ctx.output.write(`built ${built.id}: ${built.layers} layers, ${built.size} bytes, ${built.cachedSteps} step(s) from cache, ${built.builtSteps} built\n`);
    if (!cfg.push) {
      return { status: 'success', exitCode: 0, outputs: { image: repo, tag: tags[0], reference: refs[0], digest: built.id, size: built.size, layers: built.layers, cachedSteps: built.cachedSteps, builtSteps: built.builtSteps } };
    }
    let digest = '';
    for (const ref of refs) {
      const pushed = await pushImage(docker, ref, { auth, signal: ctx.signal, log: (t) => ctx.output.write(t) });
      digest = pushed.digest;
      ctx.output.write(`pushed ${ref}: ${pushed.digest} (${pushed.layersPushed} layer(s) uploaded, ${pushed.layersReused} already there)\n`);
    }
    return {
      status: 'success',
      exitCode: 0,
      outputs: { image: repo, tag: tags[0], reference: `${repo}@${digest}`, digest, size: built.size, layers: built.layers, cachedSteps: built.cachedSteps, builtSteps: built.builtSteps },
    };
  } catch (e) {
    if (ctx.signal.aborted) return { status: stop().status, exitCode: null, error: stop().message };
    if (e instanceof ImageBuildError || e instanceof ImagePushError) {
      ctx.output.write(`${e.message}\n`);
      return { status: 'failed', exitCode: 1, error: e.message };
    }
    return { status: 'error', exitCode: null, error: `image step: ${(e as Error).message}` };
  }
}

/** Writes a file as the build user (the workspace is theirs); resolves with an error text or undefined. */
function writeAs(path: string, text: string, runAs: RunAs | undefined): Promise<string | undefined> {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', 'cat > "$1"', 'sh', path], { stdio: ['pipe', 'ignore', 'pipe'], uid: runAs?.uid, gid: runAs?.gid, env: { PATH: '/usr/bin:/bin' } });
    let err = '';
    child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    child.once('error', (e) => resolve(e.message));
    child.once('close', (code) => resolve(code === 0 ? undefined : err.trim() || `exit ${code}`));
    child.stdin!.end(text);
  });
}
