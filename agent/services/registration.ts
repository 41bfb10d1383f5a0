/**
 * The `registration` agent service: keeps the instances this agent deploys registered in etcd
 * (agent/discovery/registrar.ts, instance-registration.ts). It gives deploy steps their live/leaving hooks,
 * deregisters instances whose container dies, and re-registers running healthy ones at start and every
 * `resyncMs`. Stopping it keeps the keys until their lease runs out (a restarting agent does not cut traffic).
 *
 *   services:
 *     registration: { ttlSeconds: 10, prefix: /, address: 10.0.0.5, drainMs: 1000 }   # endpoints default to etcd.endpoints
 */
import { z } from 'zod';
import { dockerClient } from '../docker/engine';
import { InstanceRegistration } from '../discovery/instance-registration';
import { EtcdRegistrar, MIN_TTL_S } from '../discovery/registrar';
import type { AgentService, ServiceFactory } from './types';

const settings = z.strictObject({
  /** etcd client URLs (default: the agent file's etcd.endpoints). */
  endpoints: z.array(z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' })).min(1).optional(),
  ttlSeconds: z.number().int().min(MIN_TTL_S, `at least ${MIN_TTL_S} seconds (a shorter lease is unsafe)`).default(10),
  prefix: z.string().startsWith('/', 'a key prefix starting with /').default('/'),
  /** Address the edge reaches this host's instances at (default 127.0.0.1). */
  address: z.string().regex(/^[A-Za-z0-9.:[\]-]+$/, 'an IP address or host name').default('127.0.0.1'),
  resyncMs: z.number().int().min(1000).default(5000),
  /** Wait after deregistering instances before stopping them, so every edge has reloaded (default 1 s). */
  drainMs: z.number().int().min(0).max(60_000).default(1000),
});

export const registrationService: ServiceFactory<z.output<typeof settings>> = {
  name: 'registration',
  settings,
  create(s, ctx): AgentService {
    let registrar: EtcdRegistrar | undefined;
    let reg: InstanceRegistration | undefined;
    return {
      name: 'registration',
      async start() {
        const endpoints = s.endpoints ?? ctx.host.etcd?.endpoints;
        if (!endpoints?.length) throw new Error('no etcd endpoints: set services.registration.endpoints or etcd.endpoints');
        registrar = new EtcdRegistrar({ endpoints, ttlSeconds: s.ttlSeconds, prefix: s.prefix, log: (m) => ctx.log.warn({ service: 'registration' }, m) });
        await registrar.start();
        reg = new InstanceRegistration(dockerClient({ socketPath: ctx.host.docker?.socket }), registrar, s.address, (m) => ctx.log.info({ service: 'registration' }, m), s.resyncMs, s.drainMs, ctx.environment);
        await reg.start();
        ctx.deployHooks.set(reg.hooks);
      },
      async health() {
        if (!registrar || !reg) return { state: 'failed', detail: 'not started' };
        const facts = { registered: registrar.registered().length, reRegistrations: registrar.reRegistrations, deaths: reg.deaths, ttlSeconds: registrar.ttl };
        if (registrar.lastError) return { state: 'degraded', detail: `etcd: ${registrar.lastError}`, facts };
        return { state: 'running', detail: `${facts.registered} instance(s) registered under a ${registrar.ttl} s lease`, facts };
      },
      async stop() {
        ctx.deployHooks.set(undefined);
        reg?.stop();
        await registrar?.stop().catch(() => undefined);
        reg = undefined;
        registrar = undefined;
      },
    };
  },
};
