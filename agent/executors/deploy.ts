/**
 * The deploy step (shared/job/kinds/deploy.ts): renders the compose template for this agent's environment
 * (shared/compose/render.ts), applies the chosen service to this agent's Docker engine with a rolling update
 * (agent/deploy/rollout.ts), and publishes the live instances and the rendered file.
 *
 * The template is read as the job's build user (it is in the workspace). The image's registry credentials come
 * from the registries granted to the job's team; secrets of the build are template variables applied to the
 * containers but kept as references in the recorded file.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { renderCompose } from '../../shared/compose/render';
import { ValidationError } from '../../shared/errors';
import { deployKind, type DeployConfig } from '../../shared/job/kinds/deploy';
import { registryHost } from '../../shared/registry-client';
import { checkEngine, dockerClient } from '../docker/engine';
import { listInstances } from '../deploy/instances';
import { deploy, DeployError } from '../deploy/rollout';
import { deploySwarm } from '../deploy/swarm';
import { defineExecutor, type RunAs, type StepContext, type StepResult, type StopReason } from './types';

/** Address instances are reached at from the edge (host networking: this host). */
export const DEFAULT_INSTANCE_HOST = '127.0.0.1';

export const deployExecutor = defineExecutor<DeployConfig>(deployKind, '1.0.0', runDeploy);

async function runDeploy(ctx: StepContext, cfg: DeployConfig): Promise<StepResult> {
  const stop = () => ctx.signal.reason as StopReason;
  if (ctx.signal.aborted) return { status: stop().status, exitCode: null, error: stop().message };
  const fail = (error: string, status: 'failed' | 'error' = 'error'): StepResult => {
    ctx.output.write(`${error}\n`);
    return { status, exitCode: status === 'failed' ? 1 : null, error };
  };
  const app = cfg.app ?? ctx.build.job;
  // A scale (POST /deployments/scale) re-runs this stage with SLIPWAY_REPLICAS: the same service, another count.
  const scaleTo = ctx.env.SLIPWAY_REPLICAS;
  if (scaleTo !== undefined && !/^\d{1,3}$/.test(scaleTo)) return fail(`SLIPWAY_REPLICAS: a whole number of replicas, not ${JSON.stringify(scaleTo)}`);
  const replicas = scaleTo !== undefined ? Number(scaleTo) : cfg.replicas;
  let template = cfg.composeInline;
  const file = cfg.compose ?? 'composeInline';
  if (cfg.compose) {
    const read = await readAs(join(ctx.workspace, cfg.compose), ctx.runAs);
    if (read.error) return fail(`cannot read the compose file ${cfg.compose}: ${read.error}`);
    template = read.text;
  }
  const vars: Record<string, string> = {
    APP: app,
    ENVIRONMENT: ctx.environment,
    BUILD_NUMBER: String(ctx.build.number),
    ...(cfg.image ? { IMAGE: cfg.image } : {}),
    ...(replicas !== undefined ? { REPLICAS: String(replicas) } : {}),
    ...cfg.values,
  };
  let rendered;
  try {
    rendered = renderCompose(template!, { file, vars, secrets: ctx.secrets, environment: ctx.environment, policy: ctx.deployPolicy });
  } catch (e) {
    if (e instanceof ValidationError) return fail(`the compose file does not apply to ${ctx.environment}:\n${e.message}`, 'failed');
    throw e;
  }
  const names = Object.keys(rendered.config.services);
  const serviceName = cfg.service ?? (names.length === 1 ? names[0] : undefined);
  if (!serviceName) return fail(`the compose file has several services (${names.join(', ')}): name one with service:`);
  const service = rendered.config.services[serviceName];
  if (!service) return fail(`the compose file has no service '${serviceName}' (it has ${names.join(', ')})`);

  const docker = dockerClient({ socketPath: ctx.host.docker?.socket });
  let engine;
  try {
    engine = await checkEngine(docker, ctx.host.docker?.socket);
  } catch (e) {
    return fail((e as Error).message);
  }
  if (cfg.swarm && !engine.swarmManager) return fail(`swarm: the Docker engine of this agent is not a Swarm manager (run the deploy on an agent of a manager node, or drop swarm:)`);
  ctx.started(Date.now());
  ctx.output.write(`rendered compose file for ${app} in ${ctx.environment}:\n${rendered.text}\n`);
  const registry = ctx.registries.find((r) => service.image.startsWith(`${registryHost(r.url)}/`));
  const auth = registry?.username ? { username: registry.username, password: registry.password ?? '', serveraddress: registryHost(registry.url) } : undefined;
  if (cfg.swarm) {
    try {
      fence(ctx);
      const r = await deploySwarm(docker, { app, environment: ctx.environment, service, replicas, port: cfg.swarm.port, build: String(ctx.build.number), agent: ctx.agentName, auth, log: (l) => ctx.output.write(l) });
      ctx.output.write(`${app} in ${ctx.environment}: swarm service ${r.serviceId}, ${r.runningTasks} task(s) running on port ${cfg.swarm.port}\n`);
      return {
        status: 'success',
        exitCode: 0,
        outputs: { app, environment: ctx.environment, image: service.image, instances: [`swarm:${cfg.swarm.port}`], replicas: r.runningTasks, compose: rendered.text },
      };
    } catch (e) {
      if (e instanceof DeployError) return fail(e.message, 'failed');
      return fail(`deploy step (swarm): ${(e as Error).message}`);
    }
  }
  try {
    const r = await deploy(
      {
        docker,
        app,
        environment: ctx.environment,
        agent: ctx.agentName,
        host: DEFAULT_INSTANCE_HOST,
        log: (l) => ctx.output.write(l),
        signal: ctx.signal,
        hooks: ctx.deployHooks,
        guard: () => fence(ctx),
      },
      { service, replicas, build: String(ctx.build.number), auth },
    );
    const instances = r.instances.map((i) => `${DEFAULT_INSTANCE_HOST}:${i.port}`);
    ctx.output.write(`${app} in ${ctx.environment}: ${instances.length} instance(s) live: ${instances.join(', ') || 'none'}\n`);
    return {
      status: 'success',
      exitCode: 0,
      outputs: { app, environment: ctx.environment, image: service.image, instances, replicas: instances.length, compose: rendered.text },
    };
  } catch (e) {
    if (ctx.signal.aborted) return { status: stop().status, exitCode: null, error: stop().message };
    if (!(e instanceof DeployError)) return fail(`deploy step: ${(e as Error).message}`);
    const failed = fail(e.message, 'failed');
    // The history keeps the failed attempt and why (health probes, exit code, log tail), with what runs now.
    const now = await listInstances(docker, { app, environment: ctx.environment }).catch(() => []);
    const instances = now.filter((i) => i.running).map((i) => `${DEFAULT_INSTANCE_HOST}:${i.port}`);
    return {
      ...failed,
      outputs: { app, environment: ctx.environment, image: service.image, instances, replicas: instances.length, compose: rendered.text, failure: e.message.slice(0, 16_000) },
    };
  }
}

/**
 * Deploy-lock fencing: the master fails or retries a stage elsewhere only after its lease expired, i.e. after it
 * heard nothing from this agent for the lease TTL. An agent that has not heard from the master for half of it
 * no longer changes containers, so a cut-off attempt stops before its retry can start deploying the same app.
 */
export function fence(ctx: Pick<StepContext, 'leaseTtlMs' | 'masterSilentMs'>): void {
  const silent = ctx.masterSilentMs();
  if (silent > ctx.leaseTtlMs / 2) {
    throw new DeployError(`deploy stopped: no word from the master for ${Math.round(silent / 1000)} s, this stage's lease (${Math.round(ctx.leaseTtlMs / 1000)} s) is in doubt and the deploy may be retried elsewhere`, false);
  }
}

/** Reads a workspace file as the build user (at most 1 MiB). */
function readAs(path: string, runAs: RunAs | undefined): Promise<{ text: string; error?: string }> {
  return new Promise((resolve) => {
    const child = spawn('head', ['-c', String(1024 * 1024), '--', path], { stdio: ['ignore', 'pipe', 'pipe'], uid: runAs?.uid, gid: runAs?.gid, env: { PATH: '/usr/bin:/bin' } });
    let out = '';
    let err = '';
    child.stdout!.on('data', (b: Buffer) => (out += b.toString('utf8')));
    child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    child.once('error', (e) => resolve({ text: '', error: e.message }));
    child.once('close', (code) => resolve(code === 0 ? { text: out } : { text: '', error: err.trim() || `exit ${code}` }));
  });
}
