/**
 * The nginx include file an edge writes: the routes it serves (EdgeRoute), the default template, the view
 * templates are rendered with, and the rendering (pure: no I/O). The edge itself is nginx-edge.ts.
 */
import Mustache from 'mustache';

export interface EdgeRoute {
  app: string;
  environment: string;
  /** Port (or address:port) nginx listens on for this route. */
  listen: string;
  /** server_name (default `_`). */
  serverName?: string;
}

/** Names valid as nginx upstream identifiers. */
function upstreamName(r: EdgeRoute): string {
  return `slipway_${r.app}_${r.environment}`.replace(/[^A-Za-z0-9_]/g, '_');
}

const SERVER_RE = /^[A-Za-z0-9.:[\]-]+:\d{1,5}$/;

/**
 * The default template (mustache syntax: `{{name}}`, sections `{{#list}}...{{/list}}`, inverted sections
 * `{{^list}}...{{/list}}`). Variables, documented in the README for user templates:
 *   routes[]: app, environment, listen, listenOptions (` reuseport` on the first route of each listen
 *             address, see below), serverName, upstream (a valid nginx identifier),
 *             instances[]: address (`ip:port`), ip, port;  empty: true when there is no instance.
 * Values are inserted unescaped ({{{...}}} and {{...}} are the same here): addresses are checked to be
 * `host:port` before they reach the template.
 */
export const DEFAULT_EDGE_TEMPLATE = `# Written by the Slipway edge from etcd; do not edit (changes are overwritten).
{{#routes}}
{{^empty}}
upstream {{upstream}} {
{{#instances}}
    server {{address}} max_fails=1 fail_timeout=2s;
{{/instances}}
    keepalive 16;
}
{{/empty}}
server {
    listen {{listen}}{{listenOptions}};
    server_name {{serverName}};
{{^empty}}
    location / {
        proxy_pass http://{{upstream}};
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        # An instance that stops mid-deploy refuses connections: try the next one instead of failing.
        proxy_next_upstream error timeout http_502 http_503;
    }
{{/empty}}
{{#empty}}
    location / { return 503 "no live instance of {{app}} in {{environment}}\\n"; }
{{/empty}}
}

{{/routes}}
`;

/**
 * The view a template is rendered with (see DEFAULT_EDGE_TEMPLATE).
 *
 * `reuseport` gives each nginx worker its own listening socket: after a reload the kernel hands new
 * connections to the new workers at once (about 7 ms here), instead of to the old worker that nginx keeps
 * accepting for its fixed 100 ms hand-over (without it a new instance was routed only after ~100 ms). nginx
 * allows the option once per address, so only the first route of an address carries it.
 */
export function edgeView(routes: EdgeRoute[], instances: Map<string, string[]>) {
  const seenListen = new Set<string>();
  return {
    routes: routes.map((r) => {
      const listenOptions = seenListen.has(r.listen) ? '' : ' reuseport';
      seenListen.add(r.listen);
      // Values come from etcd: anything that is not host:port is skipped, never pasted into the config.
      const servers = [...new Set((instances.get(`${r.app}_${r.environment}`) ?? []).filter((s) => SERVER_RE.test(s)))].sort();
      return {
        app: r.app,
        environment: r.environment,
        listen: r.listen,
        listenOptions,
        serverName: r.serverName ?? '_',
        upstream: upstreamName(r),
        empty: servers.length === 0,
        instances: servers.map((address) => ({ address, ip: address.slice(0, address.lastIndexOf(':')), port: Number(address.slice(address.lastIndexOf(':') + 1)) })),
      };
    }),
  };
}

/** The include file for these routes and instances (pure; instances are `ip:port` values from etcd). */
export function renderEdgeConfig(routes: EdgeRoute[], instances: Map<string, string[]>, template = DEFAULT_EDGE_TEMPLATE): string {
  // No HTML escaping: this is an nginx file, and every value was checked above.
  return Mustache.render(template, edgeView(routes, instances), {}, { escape: (v: unknown) => String(v) });
}
