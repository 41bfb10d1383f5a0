/**
 * Instances are containers labelled with their app, environment, build and port. The labels are the only
 * state a deploy relies on (no local database), and the only handle it uses: a deploy lists, stops and
 * removes exactly the containers labelled for its own app and environment, never another app's.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import type Docker from 'dockerode';
import type { ServiceConfig } from '../../shared/compose/schema';

export const LABEL = {
  app: 'io.slipway.app',
  environment: 'io.slipway.environment',
  build: 'io.slipway.build',
  port: 'io.slipway.port',
  /** Hash of the applied service config and image: equal hash, same instance. */
  spec: 'io.slipway.spec',
  /** Creation time in ms and a sequence number (`1733222400123.7`): Docker's Created has only seconds. */
  created: 'io.slipway.created',
  /** The applied service config (JSON): the template when scaling. */
  service: 'io.slipway.service',
  /** The agent that created the instance: of the agents of its environment on this engine, only it ships the instance's logs. */
  agent: 'io.slipway.agent',
} as const;

export interface Instance {
  id: string;
  name: string;
  app: string;
  environment: string;
  build: string;
  port: number;
  spec: string;
  image: string;
  running: boolean;
  /** Creation time in ms (oldest first is the order instances are kept in when scaling down). */
  created: number;
}

export interface InstanceTarget {
  app: string;
  environment: string;
}

/** The instances of one app in one environment, oldest first. */
export async function listInstances(docker: Docker, t: InstanceTarget): Promise<Instance[]> {
  const list = await docker.listContainers({
    all: true,
    filters: { label: [`${LABEL.app}=${t.app}`, `${LABEL.environment}=${t.environment}`] },
  });
  return list
    .map((c) => ({
      id: c.Id,
      name: (c.Names[0] ?? c.Id).replace(/^\//, ''),
      app: c.Labels[LABEL.app],
      environment: c.Labels[LABEL.environment],
      build: c.Labels[LABEL.build] ?? '',
      port: Number(c.Labels[LABEL.port]),
      spec: c.Labels[LABEL.spec] ?? '',
      image: c.Image,
      running: c.State === 'running',
      created: Number(c.Labels[LABEL.created] ?? c.Created * 1000),
    }))
    .sort((a, b) => a.created - b.created || a.name.localeCompare(b.name));
}

/** The service config an instance was created from (its label). */
export async function serviceOf(docker: Docker, i: Instance): Promise<ServiceConfig> {
  const info = await docker.getContainer(i.id).inspect();
  const json = info.Config.Labels?.[LABEL.service];
  if (!json) throw new Error(`instance ${i.name} carries no ${LABEL.service} label`);
  return JSON.parse(json) as ServiceConfig;
}

/** A stable hash of what an instance is made of (service config without replicas, plus the image). */
export function specHash(service: ServiceConfig): string {
  const { deploy, ...rest } = service;
  const relevant = { ...rest, deploy: deploy && { ...deploy, replicas: undefined, update_config: undefined } };
  return createHash('sha256').update(stableJson(relevant)).digest('hex').slice(0, 16);
}

function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/** A TCP port no process listens on now and no instance of any app claims (see `verify` in rollout). */
export async function freePort(docker: Docker): Promise<number> {
  const claimed = new Set(
    (await docker.listContainers({ all: true, filters: { label: [LABEL.port] } })).map((c) => Number(c.Labels[LABEL.port])),
  );
  for (let i = 0; i < 20; i++) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '0.0.0.0', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    if (!claimed.has(port)) return port;
  }
  throw new Error('no free port found in 20 tries');
}

let createdSeq = 0;

export interface CreateInstance extends InstanceTarget {
  service: ServiceConfig;
  build: string;
  port: number;
  /** The deploying agent's name (LABEL.agent). */
  agent?: string;
}

/** Creates (not starts) one instance: host networking, PORT, limits, restart policy, labels. */
export async function createInstance(docker: Docker, c: CreateInstance): Promise<Docker.Container> {
  const s = c.service;
  const limits = s.deploy?.resources?.limits;
  const restart = s.deploy?.restart_policy;
  const restartName = !restart || restart.condition === 'any' ? 'unless-stopped' : restart.condition === 'on-failure' ? 'on-failure' : 'no';
  const cmd = (v: string | string[] | undefined) => (v === undefined ? undefined : typeof v === 'string' ? ['/bin/sh', '-c', v] : v);
  const volumes = s.volumes ?? [];
  return docker.createContainer({
    name: `${c.app}-${c.environment}-${randomBytes(3).toString('hex')}`,
    Image: s.image,
    Cmd: cmd(s.command),
    Entrypoint: cmd(s.entrypoint),
    Env: Object.entries({ ...s.environment, PORT: String(c.port), SLIPWAY_APP: c.app, SLIPWAY_ENVIRONMENT: c.environment }).map(([k, v]) => `${k}=${v}`),
    User: s.user,
    WorkingDir: s.working_dir,
    StopSignal: s.stop_signal,
    StopTimeout: s.stop_grace_period === undefined ? undefined : Math.ceil(s.stop_grace_period / 1000),
    Labels: {
      ...s.labels,
      ...s.deploy?.labels,
      [LABEL.app]: c.app,
      [LABEL.environment]: c.environment,
      [LABEL.build]: c.build,
      [LABEL.port]: String(c.port),
      [LABEL.spec]: specHash(s),
      [LABEL.service]: JSON.stringify(s),
      [LABEL.created]: `${Date.now()}.${String(++createdSeq % 1e6).padStart(6, '0')}`,
      ...(c.agent ? { [LABEL.agent]: c.agent } : {}),
    },
    HostConfig: {
      NetworkMode: 'host',
      Memory: limits?.memory,
      NanoCpus: limits?.cpus === undefined ? undefined : Math.round(limits.cpus * 1e9),
      RestartPolicy: { Name: restartName, MaximumRetryCount: restartName === 'on-failure' ? (restart?.max_attempts ?? 0) : undefined },
      Binds: volumes.length ? volumes : undefined,
      Privileged: s.privileged,
      CapAdd: s.cap_add,
      PidMode: s.pid,
    },
  });
}
