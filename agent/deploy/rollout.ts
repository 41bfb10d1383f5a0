/**
 * Applies one service of a rendered compose file to an app in an environment on this Docker engine:
 * deploy (rolling update), scale and down.
 *
 * Rules, in the order they matter:
 *  - Only containers labelled for this app and environment are touched (instances.ts).
 *  - An instance is `live` once its health check passes and is announced `leaving` before it is stopped
 *    (hooks: service registration hooks in here), stopped with its stop signal and stop_grace_period so
 *    requests in flight finish.
 *  - start-first (the default): each batch of new instances is healthy before as many old ones stop, so
 *    never fewer than `replicas` are healthy; stop-first frees old instances first.
 *  - A batch that fails its health check rolls the whole update back: new instances are removed and old ones
 *    stopped so far are started again; the error says why the instance was not healthy.
 *  - An unchanged service (same spec hash) is not redeployed: a deploy with another replica count only
 *    scales, and scaling never touches the instances it keeps.
 *  - Old containers are removed only once the update has succeeded.
 */
import type Docker from 'dockerode';
import type { HealthConfig, ServiceConfig } from '../../shared/compose/schema';
import type { RegistryAuth } from '../docker/image-push';
import { followProgress, progressError } from '../docker/engine';
import { DEFAULT_HEALTH, describeFailure, waitHealthy } from './health';
import { createInstance, freePort, LABEL, listInstances, serviceOf, specHash, type Instance, type InstanceTarget } from './instances';

export interface InstanceHooks {
  /** Called once an instance passed its health check (register it). */
  live(i: Instance): Promise<void> | void;
  /** Called before an instance is stopped (deregister it). */
  leaving(i: Instance): Promise<void> | void;
  /**
   * How long to wait after announcing instances as leaving before stopping them, so routers (the nginx edge)
   * have dropped them: a deregistered instance that stopped at once would still get the requests of an edge
   * that has not reloaded yet.
   */
  drainMs?: number;
}

export interface DeployContext extends InstanceTarget {
  docker: Docker;
  /** Address instances are reached at from this agent (host networking: the host's address). */
  host: string;
  log: (line: string) => void;
  hooks?: InstanceHooks;
  signal?: AbortSignal;
  /** Chooses the port of a new instance (default: a free one); tests use it to hand out a taken port. */
  pickPort?: (docker: Docker) => Promise<number>;
  /**
   * Called before every change to a container (create, start, stop, remove); throws to refuse it. The deploy
   * step refuses once the agent's lease is in doubt (deploy-lock fencing, master/engine/scheduler/deploy-locks.ts).
   */
  guard?: () => void;
  /** The deploying agent's name, labelled on the instances it creates (io.slipway.agent: that agent ships their logs). */
  agent?: string;
}

export interface DeployRequest {
  service: ServiceConfig;
  /** Overrides service.deploy.replicas (a scale request, or the environment's value). */
  replicas?: number;
  build: string;
  auth?: RegistryAuth;
}

export interface DeployResult {
  instances: Instance[];
  started: number;
  stopped: number;
  /** True when nothing changed but the replica count (or nothing at all). */
  scaledOnly: boolean;
}

export class DeployError extends Error {
  readonly code = 'deploy_failed';
  constructor(
    message: string,
    readonly rolledBack: boolean,
  ) {
    super(message);
    this.name = 'DeployError';
  }
}

const PULL_ATTEMPTS = 3;
/** Instances started on a port someone else took meanwhile are retried on another port this many times. */
const PORT_ATTEMPTS = 3;
const PORT_IN_USE = /EADDRINUSE|address already in use/i;

export async function deploy(ctx: DeployContext, req: DeployRequest): Promise<DeployResult> {
  const replicas = req.replicas ?? req.service.deploy?.replicas ?? 1;
  const spec = specHash(req.service);
  const all = await listInstances(ctx.docker, ctx);
  const current = all.filter((i) => i.running);
  // Exited instances (crashed, or left by an interrupted deploy) are not part of the app any more.
  await removeAll(
    ctx,
    all.filter((i) => !i.running),
  );
  if (current.length && current.every((i) => i.spec === spec)) {
    ctx.log(`${ctx.app} in ${ctx.environment}: configuration unchanged, scaling ${current.length} -> ${replicas}\n`);
    return { ...(await scaleTo(ctx, req, current, replicas)), scaledOnly: true };
  }
  await ensureImage(ctx, req.service.image, req.auth);
  const upd = req.service.deploy?.update_config ?? { parallelism: 1, order: 'start-first' as const, failure_action: 'rollback' as const };
  const old = [...current];
  const stoppedOld: Instance[] = [];
  const fresh: Instance[] = [];
  ctx.log(`${ctx.app} in ${ctx.environment}: rolling update of ${old.length} -> ${replicas} instance(s), batch ${upd.parallelism}, ${upd.order}\n`);
  try {
    while (fresh.length < replicas) {
      const n = Math.min(upd.parallelism, replicas - fresh.length);
      const retiring = old.splice(0, n);
      if (upd.order === 'stop-first') await stopAll(ctx, retiring, stoppedOld);
      fresh.push(...(await startBatch(ctx, req, n)));
      if (upd.order === 'start-first') await stopAll(ctx, retiring, stoppedOld);
      if (upd.delay && fresh.length < replicas) await sleep(upd.delay);
    }
    await stopAll(ctx, old.splice(0), stoppedOld);
  } catch (e) {
    if (!(e instanceof BatchFailed)) throw e;
    ctx.log(`${e.message}\nrolling back: removing ${fresh.length + e.started.length} new instance(s), restarting ${stoppedOld.length} old one(s)\n`);
    await removeAll(ctx, [...fresh, ...e.started], true);
    for (const i of stoppedOld) {
      await ctx.docker.getContainer(i.id).start().catch(() => undefined);
      const back = await waitHealthy(ctx.docker, i.id, ctx.host, i.port, healthOf(req.service), ctx.signal);
      if (back.healthy) await ctx.hooks?.live(i);
      else ctx.log(`${describeFailure(i.name, i.port, back)}\n`);
    }
    throw new DeployError(`deploy of ${ctx.app} to ${ctx.environment} failed and was rolled back: ${e.message}`, true);
  }
  await removeAll(ctx, stoppedOld);
  return { instances: await runningInstances(ctx), started: fresh.length, stopped: stoppedOld.length, scaledOnly: false };
}

/** Scales the app's current instances to `replicas` without touching the ones kept. */
export async function scale(ctx: DeployContext, replicas: number): Promise<DeployResult> {
  const current = await runningInstances(ctx);
  if (!current.length) throw new DeployError(`${ctx.app} has no running instance in ${ctx.environment} to scale`, false);
  // The newest instance's service config (kept in its labels) is the template: same image, env and
  // limits, a new port; so scaled instances have the same spec hash and a later identical deploy only scales.
  const service = await serviceOf(ctx.docker, current[current.length - 1]);
  return { ...(await scaleTo(ctx, { service, build: current[current.length - 1].build }, current, replicas)), scaledOnly: true };
}

/** Removes every instance of the app in the environment (announcing each as leaving first). */
export async function down(ctx: DeployContext): Promise<number> {
  const all = await listInstances(ctx.docker, ctx);
  const stopped: Instance[] = [];
  await stopAll(
    ctx,
    all.filter((i) => i.running),
    stopped,
  );
  await removeAll(ctx, all);
  return all.length;
}

async function scaleTo(ctx: DeployContext, req: DeployRequest, current: Instance[], replicas: number): Promise<Omit<DeployResult, 'scaledOnly'>> {
  let started = 0;
  let stopped = 0;
  if (replicas > current.length) {
    try {
      started = (await startBatch(ctx, req, replicas - current.length)).length;
    } catch (e) {
      if (!(e instanceof BatchFailed)) throw e;
      await removeAll(ctx, e.started, true);
      throw new DeployError(`scaling ${ctx.app} in ${ctx.environment} to ${replicas} failed: ${e.message}`, true);
    }
  } else if (replicas < current.length) {
    // Newest first: the instances that have served longest stay.
    const retiring = current.slice(replicas).reverse();
    const done: Instance[] = [];
    await stopAll(ctx, retiring, done);
    await removeAll(ctx, done);
    stopped = done.length;
  }
  return { instances: await runningInstances(ctx), started, stopped };
}

class BatchFailed extends Error {
  constructor(
    message: string,
    readonly started: Instance[],
  ) {
    super(message);
  }
}

/** Starts n instances in parallel and waits until all are healthy; on failure they are in `started`. */
async function startBatch(ctx: DeployContext, req: DeployRequest, n: number): Promise<Instance[]> {
  const health = healthOf(req.service);
  const started: Instance[] = [];
  const failures: string[] = [];
  await Promise.all(
    Array.from({ length: n }, async () => {
      for (let attempt = 1; ; attempt++) {
        const port = await (ctx.pickPort ?? freePort)(ctx.docker);
        ctx.guard?.();
        const c = await createInstance(ctx.docker, { app: ctx.app, environment: ctx.environment, service: req.service, build: req.build, port, agent: ctx.agent });
        await c.start();
        const info = await c.inspect();
        const inst: Instance = {
          id: info.Id,
          name: info.Name.replace(/^\//, ''),
          app: ctx.app,
          environment: ctx.environment,
          build: req.build,
          port,
          spec: specHash(req.service),
          image: req.service.image,
          running: true,
          created: Number(info.Config.Labels?.[LABEL.created] ?? Date.parse(info.Created)),
        };
        ctx.log(`started ${inst.name} on port ${port}\n`);
        const h = await waitHealthy(ctx.docker, inst.id, ctx.host, port, health, ctx.signal);
        // The port was free when chosen, but another process may have bound it before the app did: the app then
        // exits complaining the address is in use. Take another port (bounded), never report that as unhealthy.
        if (!h.healthy && PORT_IN_USE.test(h.logTail ?? '') && attempt < PORT_ATTEMPTS) {
          ctx.log(`${inst.name}: port ${port} was taken meanwhile; retrying on another port\n`);
          await ctx.docker.getContainer(inst.id).remove({ force: true }).catch(() => undefined);
          continue;
        }
        started.push(inst);
        if (!h.healthy) {
          failures.push(describeFailure(inst.name, port, h));
          return;
        }
        ctx.log(`${inst.name} is healthy (${h.probes[h.probes.length - 1]?.detail})\n`);
        return;
      }
    }),
  );
  if (failures.length) throw new BatchFailed(failures.join('\n'), started);
  for (const i of started) await ctx.hooks?.live(i);
  return started;
}

async function stopAll(ctx: DeployContext, instances: Instance[], into: Instance[]): Promise<void> {
  for (const i of instances) await ctx.hooks?.leaving(i);
  if (instances.length && ctx.hooks?.drainMs) await sleep(ctx.hooks.drainMs);
  await Promise.all(
    instances.map(async (i) => {
      ctx.guard?.();
      ctx.log(`stopping ${i.name} (port ${i.port})\n`);
      // docker stop sends the container's stop signal and kills after its StopTimeout (stop_grace_period).
      await ctx.docker
        .getContainer(i.id)
        .stop()
        .catch((e: { statusCode?: number }) => {
          if (e.statusCode !== 304) throw e;
        });
      into.push(i);
    }),
  );
}

async function removeAll(ctx: DeployContext, instances: Instance[], announce = false): Promise<void> {
  for (const i of instances) {
    ctx.guard?.();
    if (announce) await ctx.hooks?.leaving(i);
    await ctx.docker
      .getContainer(i.id)
      .remove({ force: true })
      .catch(() => undefined);
  }
}

async function runningInstances(ctx: DeployContext): Promise<Instance[]> {
  return (await listInstances(ctx.docker, ctx)).filter((i) => i.running);
}

function healthOf(s: ServiceConfig): HealthConfig {
  return s.healthcheck ?? DEFAULT_HEALTH;
}

/** Pulls the image unless the engine has it; bounded retries, then a message naming image and registry. */
async function ensureImage(ctx: DeployContext, image: string, auth?: RegistryAuth): Promise<void> {
  const have = await ctx.docker
    .getImage(image)
    .inspect()
    .then(() => true)
    .catch(() => false);
  if (have) return;
  let last = '';
  for (let attempt = 1; attempt <= PULL_ATTEMPTS; attempt++) {
    try {
      ctx.log(`pulling ${image}${attempt > 1 ? ` (attempt ${attempt} of ${PULL_ATTEMPTS})` : ''}\n`);
      const stream = await ctx.docker.pull(image, { authconfig: auth });
      let err: string | undefined;
      await followProgress(ctx.docker, stream, (m) => {
        err ??= progressError(m);
      });
      if (!err) return;
      last = err;
      if (/not found|manifest unknown|unauthorized|denied/i.test(err)) break;
    } catch (e) {
      last = (e as Error).message;
      if (/not found|manifest unknown|unauthorized|denied/i.test(last)) break;
    }
    await sleep(500 * attempt);
  }
  throw new DeployError(`cannot pull ${image}: ${last.trim()}`, false);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
