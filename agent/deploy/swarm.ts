/**
 * The Swarm target: when the environment's engine is a Swarm manager, one compose service becomes one Swarm
 * service named `<app>-<environment>`, so a deploy spans the swarm's nodes.
 *
 * With host networking a node can run only one instance on the app's port, so the service runs at most one
 * replica per node (Placement.MaxReplicas 1) on a fixed `port` given to the app as PORT, and updates are
 * stop-first (a start-first update would need a second free port on the same node). Health is Docker's own
 * healthcheck, run inside the container: an HTTP check calls `wget` or `curl` from the image, a TCP check
 * `nc -z`; the swarm's update monitor then rolls a failing update back (update_config failure_action).
 */
import type Docker from 'dockerode';
import type { HealthConfig, ServiceConfig } from '../../shared/compose/schema';
import type { RegistryAuth } from '../docker/image-push';
import { LABEL, specHash } from './instances';
import { DeployError } from './rollout';

export interface SwarmDeploy {
  app: string;
  environment: string;
  service: ServiceConfig;
  replicas?: number;
  /** The port every instance listens on (one per node). */
  port: number;
  build: string;
  /**
   * The deploying agent's name, labelled on the service's task containers (io.slipway.agent) with the swarm node
   * of its engine (io.slipway.agent-node): of the agents of the environment on that node only it ships their
   * logs; tasks on other nodes are shipped by the agents there (agent/container-logs/index.ts shipsContainer).
   */
  agent?: string;
  auth?: RegistryAuth;
  log: (line: string) => void;
  /** How long to wait for the update to converge (default 120 s). */
  timeoutMs?: number;
}

export interface SwarmResult {
  serviceId: string;
  /** `completed` for a new or updated service; a rolled-back update throws. */
  state: 'created' | 'completed';
  runningTasks: number;
}

const NS = 1_000_000;
/** The swarm node of the deploying agent's engine, on the task containers (read by the log shipper: LOG_LABELS.agentNode). */
const SWARM_AGENT_NODE = 'io.slipway.agent-node';

export function swarmServiceName(app: string, environment: string): string {
  return `${app}-${environment}`;
}

export async function deploySwarm(docker: Docker, d: SwarmDeploy): Promise<SwarmResult> {
  const name = swarmServiceName(d.app, d.environment);
  const node = d.agent ? ((await docker.info()) as { Swarm?: { NodeID?: string } }).Swarm?.NodeID : undefined;
  const spec = serviceSpec(d, name, node);
  const existing = await docker
    .getService(name)
    .inspect()
    .catch(() => undefined);
  const timeout = d.timeoutMs ?? 120_000;
  if (!existing) {
    d.log(`creating swarm service ${name} (${spec.Mode!.Replicated!.Replicas} replica(s), port ${d.port})\n`);
    const created = (await docker.createService({ ...spec, authconfig: d.auth } as Docker.CreateServiceOptions)) as { id?: string; ID?: string };
    const id = created.id ?? created.ID ?? name;
    const running = await waitTasks(docker, name, spec.Mode!.Replicated!.Replicas!, timeout);
    return { serviceId: id, state: 'created', runningTasks: running };
  }
  d.log(`updating swarm service ${name} (stop-first, parallelism ${spec.UpdateConfig!.Parallelism})\n`);
  await docker.getService(existing.ID).update({ ...spec, version: existing.Version.Index, authconfig: d.auth } as never);
  const deadline = Date.now() + timeout;
  for (;;) {
    const s = await docker.getService(existing.ID).inspect();
    const state: string | undefined = s.UpdateStatus?.State;
    if (state === 'completed') {
      const running = await waitTasks(docker, name, spec.Mode!.Replicated!.Replicas!, Math.max(1000, deadline - Date.now()));
      return { serviceId: existing.ID, state: 'completed', runningTasks: running };
    }
    if (state === 'rollback_completed' || state === 'rollback_paused' || state === 'paused') {
      throw new DeployError(`swarm update of ${name} failed and was ${state.startsWith('rollback') ? 'rolled back' : 'paused'}: ${s.UpdateStatus?.Message ?? ''}`, state.startsWith('rollback'));
    }
    if (Date.now() > deadline) throw new DeployError(`swarm update of ${name} did not converge within ${timeout} ms (state ${state ?? 'unknown'})`, false);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export async function removeSwarmService(docker: Docker, app: string, environment: string): Promise<boolean> {
  return docker
    .getService(swarmServiceName(app, environment))
    .remove()
    .then(() => true)
    .catch(() => false);
}

function serviceSpec(d: SwarmDeploy, name: string, agentNode: string | undefined): Docker.ServiceSpec {
  const s = d.service;
  const upd = s.deploy?.update_config;
  const limits = s.deploy?.resources?.limits;
  const cmd = (v: string | string[] | undefined) => (v === undefined ? undefined : typeof v === 'string' ? ['/bin/sh', '-c', v] : v);
  const health = s.healthcheck;
  const labels = { [LABEL.app]: d.app, [LABEL.environment]: d.environment, [LABEL.build]: d.build, [LABEL.port]: String(d.port), [LABEL.spec]: specHash(s) };
  // On the task containers only: the service itself is no container, and no shipper reads its labels.
  const containerLabels = { ...labels, ...(d.agent ? { [LABEL.agent]: d.agent, ...(agentNode ? { [SWARM_AGENT_NODE]: agentNode } : {}) } : {}) };
  const update = {
    Parallelism: upd?.parallelism ?? 1,
    Delay: (upd?.delay ?? 0) * NS,
    FailureAction: 'rollback',
    // A new task must stay healthy this long before the update moves on (and counts it as a success).
    Monitor: ((health?.start_period ?? 0) + (health?.interval ?? 2000) * ((health?.retries ?? 3) + 1)) * NS,
    MaxFailureRatio: 0,
    Order: 'stop-first',
  };
  return {
    Name: name,
    Labels: labels,
    TaskTemplate: {
      ContainerSpec: {
        Image: s.image,
        Command: cmd(s.entrypoint),
        Args: cmd(s.command),
        Env: Object.entries({ ...s.environment, PORT: String(d.port), SLIPWAY_APP: d.app, SLIPWAY_ENVIRONMENT: d.environment }).map(([k, v]) => `${k}=${v}`),
        Labels: containerLabels,
        User: s.user,
        Dir: s.working_dir,
        StopSignal: s.stop_signal,
        StopGracePeriod: s.stop_grace_period === undefined ? undefined : s.stop_grace_period * NS,
        HealthCheck: health ? dockerHealthcheck(health, d.port) : undefined,
      },
      Resources: { Limits: { MemoryBytes: limits?.memory, NanoCPUs: limits?.cpus === undefined ? undefined : Math.round(limits.cpus * 1e9) } },
      RestartPolicy: { Condition: s.deploy?.restart_policy?.condition ?? 'any', MaxAttempts: s.deploy?.restart_policy?.max_attempts },
      Placement: { MaxReplicas: 1 },
      Networks: [{ Target: 'host' }],
    } as Docker.TaskSpec,
    Mode: { Replicated: { Replicas: d.replicas ?? s.deploy?.replicas ?? 1 } },
    UpdateConfig: update,
    RollbackConfig: { ...update, FailureAction: 'pause' },
  };
}

/** The health model as Docker's in-container healthcheck (Swarm target only). */
export function dockerHealthcheck(h: HealthConfig, port: number): Docker.HealthConfig {
  const test =
    h.http !== undefined
      ? `wget -q -O /dev/null http://127.0.0.1:${port}${h.http} || curl -fsS -o /dev/null http://127.0.0.1:${port}${h.http}`
      : `nc -z 127.0.0.1 ${port}`;
  return { Test: ['CMD-SHELL', test], Interval: h.interval * NS, Timeout: h.timeout * NS, Retries: h.retries, StartPeriod: h.start_period * NS };
}

/** Waits until `want` tasks of the service run; returns how many do. */
async function waitTasks(docker: Docker, name: string, want: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const tasks = (await docker.listTasks({ filters: { service: [name], 'desired-state': ['running'] } })) as { Status?: { State?: string; Err?: string } }[];
    const running = tasks.filter((t) => t.Status?.State === 'running').length;
    if (running >= want) return running;
    if (Date.now() > deadline) {
      const errs = tasks.map((t) => t.Status?.Err).filter(Boolean);
      throw new DeployError(`swarm service ${name}: ${running} of ${want} task(s) running after ${timeoutMs} ms${errs.length ? `: ${errs.join('; ')}` : ''}`, false);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
