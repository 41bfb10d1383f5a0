/**
 * The compose files Slipway deploys: a subset of the Compose specification (services with image, command,
 * environment, deploy.replicas/resources/update_config/restart_policy, stop_grace_period...) plus one Slipway
 * model of health. Every instance runs with host networking and gets its own free port as PORT, so `ports`
 * and other network keys are refused with a message saying so. Keys outside the subset are refused by name
 * (`unsupported compose keys: services.web.links, services.web.sysctls`), never silently dropped.
 *
 * Health model (one, for HTTP and TCP): after `start_period` the agent probes every `interval`, each probe
 * bounded by `timeout`; an instance is healthy at its first passing probe, and failed after `retries`
 * consecutive failing probes once the start period is over, or when `deadline` has passed since its start,
 * or when its container exits. Defaults suit a Node or JVM app that needs about 20 s to start: start_period
 * 20s, interval 2s, timeout 2s, retries 3, deadline 90s.
 *
 * Host-level powers (bind mounts of host paths, privileged, cap_add, pid: host, the Docker socket) are refused
 * unless the environment's deploy policy allows them (an admin setting, named in the error).
 */
import { z } from 'zod';
import { durationSchema, ENV_KEY_RE, NAME_RE } from '../job/schema';

/** Compose keys of a service that Slipway applies. Anything else is an unsupported key. */
const listOrString = z.union([z.string().min(1), z.array(z.string())]);

const environmentSchema = z
  .union([
    z.record(z.string().regex(ENV_KEY_RE, 'environment variable names are letters, digits and _'), z.union([z.string(), z.number(), z.boolean(), z.null()])),
    z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*(=.*)?$/s, 'environment entries are NAME=value')),
  ])
  .transform((v) => {
    if (!Array.isArray(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, x === null ? '' : String(x)]));
    return Object.fromEntries(v.map((e) => (e.includes('=') ? [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)] : [e, ''])));
  });

/** A whole number, also as a string: interpolated values (`replicas: ${REPLICAS}`) are strings. */
const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .union([z.number(), z.string().regex(/^\d+$/, 'expected a whole number')])
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

/** Memory like 256m, 1g, 512M or bytes -> bytes. */
const memorySchema = z.union([z.number().int().positive(), z.string()]).transform((v, ctx) => {
  if (typeof v === 'number') return v;
  const m = /^(\d+(?:\.\d+)?)\s*([bkmg]?)b?$/i.exec(v.trim());
  if (!m) {
    ctx.addIssue({ code: 'custom', message: `not a memory size: ${JSON.stringify(v)} (use e.g. 256m or 1g)` });
    return z.NEVER;
  }
  const unit = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2].toLowerCase() as '' | 'b' | 'k' | 'm' | 'g'];
  return Math.round(Number(m[1]) * unit);
});

const cpusSchema = z.union([z.number().positive(), z.string().regex(/^\d+(\.\d+)?$/, 'cpus is a number such as 0.5')]).transform(Number);

export const healthSchema = z
  .strictObject({
    /** Probe GET http://127.0.0.1:$PORT<http>; 2xx and 3xx pass. */
    http: z.string().startsWith('/', 'http is a path starting with /').optional(),
    /** Probe a TCP connect to the instance's port. */
    tcp: z.literal(true).optional(),
    start_period: durationSchema.default(20_000),
    interval: durationSchema.default(2_000),
    timeout: durationSchema.default(2_000),
    retries: int(1, 100).default(3),
    deadline: durationSchema.default(90_000),
  })
  .refine((h) => (h.http !== undefined) !== (h.tcp !== undefined), 'healthcheck needs exactly one of http: /path or tcp: true');
export type HealthConfig = z.infer<typeof healthSchema>;

export const updateConfigSchema = z.strictObject({
  /** Instances replaced per batch. */
  parallelism: int(1).default(1),
  /** Pause between batches. */
  delay: durationSchema.optional(),
  /** start-first: a new instance is healthy before an old one stops; stop-first frees the old one first. */
  order: z.enum(['start-first', 'stop-first']).default('start-first'),
  /** rollback: a failed update restores the previous instances (the only supported action). */
  failure_action: z.enum(['rollback']).default('rollback'),
});
export type UpdateConfig = z.infer<typeof updateConfigSchema>;

const deploySchema = z.strictObject({
  replicas: int(0, 100).default(1),
  resources: z
    .strictObject({ limits: z.strictObject({ cpus: cpusSchema.optional(), memory: memorySchema.optional() }).optional() })
    .optional(),
  update_config: updateConfigSchema.optional(),
  restart_policy: z
    .strictObject({
      condition: z.enum(['none', 'on-failure', 'any']).default('any'),
      max_attempts: int(0).optional(),
    })
    .optional(),
  labels: z.record(z.string(), z.string()).optional(),
});

const volumeSchema = z.string().min(1);

/** One service. Unknown keys are collected by parseCompose as unsupported, not failed one by one. */
export const serviceSchema = z.strictObject({
  image: z.string().min(1),
  command: listOrString.optional(),
  entrypoint: listOrString.optional(),
  environment: environmentSchema.optional(),
  labels: z.record(z.string(), z.string()).optional(),
  user: z.string().optional(),
  working_dir: z.string().optional(),
  healthcheck: healthSchema.optional(),
  deploy: deploySchema.optional(),
  stop_grace_period: durationSchema.optional(),
  stop_signal: z.string().regex(/^SIG[A-Z0-9]+$/, 'stop_signal is a signal name such as SIGTERM').optional(),
  network_mode: z.literal('host', 'network_mode can only be host: every instance gets its own port as PORT').optional(),
  volumes: z.array(volumeSchema).optional(),
  privileged: z.boolean().optional(),
  cap_add: z.array(z.string()).optional(),
  pid: z.string().optional(),
});
export type ServiceConfig = z.infer<typeof serviceSchema>;

export const composeSchema = z.strictObject({
  name: z.string().optional(),
  services: z
    .record(z.string().regex(NAME_RE, 'service names are 1-63 characters of a-z, 0-9, ., _ or -'), serviceSchema)
    .refine((s) => Object.keys(s).length > 0, 'a compose file needs at least one service'),
});
export type ComposeConfig = z.infer<typeof composeSchema>;

/** Keys refused with a reason instead of "unsupported". */
export const REFUSED_WITH_REASON: Record<string, string> = {
  ports: 'every instance runs with host networking and listens on its own PORT; remove ports',
  networks: 'every instance runs with host networking; remove networks',
  build: 'images are built by an image step and deployed by digest; remove build',
  container_name: 'instances are named by Slipway (app-env-N); remove container_name',
};

/** What an environment allows beyond the default (admin settings of the environment). */
export interface DeployPolicy {
  allowBindMounts: boolean;
  allowPrivileged: boolean;
  allowDockerSocket: boolean;
}

export const DEFAULT_DEPLOY_POLICY: DeployPolicy = { allowBindMounts: false, allowPrivileged: false, allowDockerSocket: false };

/** Problems a service has under an environment's policy, as [field path, message]. */
export function policyProblems(service: string, s: ServiceConfig, policy: DeployPolicy, environment: string): [(string | number)[], string][] {
  const out: [(string | number)[], string][] = [];
  const flag: Record<keyof DeployPolicy, string> = { allowBindMounts: 'bind-mounts', allowPrivileged: 'privileged', allowDockerSocket: 'docker-socket' };
  const setting = (name: keyof DeployPolicy) =>
    `not allowed in environment ${environment} (an admin can allow it: slipway env update ${environment} --allow ${flag[name]}, setting ${name})`;
  (s.volumes ?? []).forEach((v, i) => {
    const source = v.split(':')[0];
    const isHostPath = source.startsWith('/') || source.startsWith('.') || source.startsWith('~');
    if (/docker\.sock/.test(source) && !policy.allowDockerSocket) out.push([['services', service, 'volumes', i], `mounting the Docker socket is ${setting('allowDockerSocket')}`]);
    else if (isHostPath && !policy.allowBindMounts) out.push([['services', service, 'volumes', i], `bind-mounting the host path ${source} is ${setting('allowBindMounts')}`]);
  });
  if (s.privileged && !policy.allowPrivileged) out.push([['services', service, 'privileged'], `privileged containers are ${setting('allowPrivileged')}`]);
  if (s.cap_add?.length && !policy.allowPrivileged) out.push([['services', service, 'cap_add'], `adding capabilities is ${setting('allowPrivileged')}`]);
  if (s.pid === 'host' && !policy.allowPrivileged) out.push([['services', service, 'pid'], `the host PID namespace is ${setting('allowPrivileged')}`]);
  return out;
}
