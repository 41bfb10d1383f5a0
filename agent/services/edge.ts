/**
 * The `edge` agent service (an agent on an nginx host): keeps nginx routing to the live instances registered in
 * etcd (agent/discovery/nginx-edge.ts): an etcd watch per route, a rendered include file swapped atomically,
 * a reload by SIGHUP with `nginx -t` beside it, the last good file put back when a check fails (reported as
 * degraded; nginx itself keeps running on its old configuration when it refuses a file).
 *
 *   services:
 *     edge:
 *       file: /etc/nginx/conf.d/slipway.conf      # the include this edge owns
 *       nginx: [nginx]                            # command line to check and reload (e.g. [nginx, -p, P, -c, C])
 *       template: /etc/slipway/edge.mustache      # optional user template
 *       pidFile: /run/nginx.pid                   # optional; default: the pid directive of `nginx -T`
 *       routes:
 *         - { app: shop-web, environment: prod, listen: "80", serverName: shop.example.com }
 */
import { readFileSync } from 'node:fs';
import { Etcd3 } from 'etcd3';
import { z } from 'zod';
import { DEFAULT_EDGE_DEBOUNCE_MS, DEFAULT_EDGE_RESYNC_MS, NginxEdge } from '../discovery/nginx-edge';
import type { AgentService, ServiceFactory } from './types';

const NAME = /^[a-z0-9][a-z0-9_.-]{0,62}$/;

const settings = z.strictObject({
  endpoints: z.array(z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' })).min(1).optional(),
  prefix: z.string().startsWith('/', 'a key prefix starting with /').default('/'),
  file: z.string().startsWith('/', 'must be an absolute path'),
  nginx: z.array(z.string().min(1)).min(1).default(['nginx']),
  template: z.string().startsWith('/', 'must be an absolute path').optional(),
  pidFile: z.string().startsWith('/', 'must be an absolute path').optional(),
  debounceMs: z.number().int().min(0).max(10_000).default(DEFAULT_EDGE_DEBOUNCE_MS),
  resyncMs: z.number().int().min(100).max(3_600_000).default(DEFAULT_EDGE_RESYNC_MS),
  routes: z
    .array(
      z.strictObject({
        app: z.string().regex(NAME, 'an app name as deploys use it'),
        environment: z.string().regex(NAME, 'an environment name'),
        listen: z.string().regex(/^([A-Za-z0-9.[\]:-]+:)?\d{1,5}$/, 'a port or address:port'),
        serverName: z.string().regex(/^[A-Za-z0-9.*_-]+( [A-Za-z0-9.*_-]+)*$/, 'server names separated by spaces').optional(),
      }),
    )
    .min(1, 'list at least one route'),
});

export const edgeService: ServiceFactory<z.output<typeof settings>> = {
  name: 'edge',
  settings,
  create(s, ctx): AgentService {
    let client: Etcd3 | undefined;
    let edge: NginxEdge | undefined;
    return {
      name: 'edge',
      async start() {
        const endpoints = s.endpoints ?? ctx.host.etcd?.endpoints;
        if (!endpoints?.length) throw new Error('no etcd endpoints: set services.edge.endpoints or etcd.endpoints');
        const template = s.template ? readFileSync(s.template, 'utf8') : undefined;
        client = new Etcd3({ hosts: endpoints, dialTimeout: 3000 });
        edge = new NginxEdge({ etcd: client, prefix: s.prefix, routes: s.routes, file: s.file, nginx: s.nginx, pidFile: s.pidFile, template, debounceMs: s.debounceMs, resyncMs: s.resyncMs, log: (m) => ctx.log.warn({ service: 'edge' }, m) });
        await edge.start();
      },
      async health() {
        if (!edge) return { state: 'failed', detail: 'not started' };
        const st = edge.status;
        const instances = Object.values(st.upstreams).reduce((n, v) => n + v.length, 0);
        const facts = { reloads: st.applied, refused: st.refused, routes: s.routes.length, instances, rewatches: edge.rewatches };
        if (st.lastError) return { state: 'degraded', detail: st.lastError.slice(0, 1000), facts };
        return { state: 'running', detail: `${s.routes.length} route(s), ${instances} instance(s) routed, ${st.applied} reload(s)`, facts };
      },
      async stop() {
        await edge?.stop().catch(() => undefined);
        client?.close();
        edge = undefined;
        client = undefined;
      },
    };
  },
};
