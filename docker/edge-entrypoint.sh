#!/bin/sh
# Entry point of the edge image (docker/Dockerfile, target edge): nginx and the agent whose `edge` service keeps
# nginx routing to the instances registered in etcd, in one container (the service runs `nginx -t` and reloads
# nginx with SIGHUP, so both need the same binary and process namespace).
#   SLIPWAY_NGINX_PREFIX   nginx's prefix (default /var/lib/slipway-edge, a volume): nginx.conf is written
#                          there when missing; it includes edge.conf, the file the edge service owns
# Everything else is the agent image's (docker/agent-entrypoint.sh: SLIPWAY_URL, SLIPWAY_ENVIRONMENT, token...).
# The agent's config file sets the edge service (README "Service discovery"), with
#   file: <prefix>/edge.conf   nginx: [nginx, -p, <prefix>, -c, <prefix>/nginx.conf]
set -eu
prefix="${SLIPWAY_NGINX_PREFIX:-/var/lib/slipway-edge}"
mkdir -p "$prefix/logs"
[ -f "$prefix/edge.conf" ] || : >"$prefix/edge.conf"
if [ ! -f "$prefix/nginx.conf" ]; then
  cat >"$prefix/nginx.conf" <<CONF
pid $prefix/nginx.pid;
error_log stderr warn;
worker_processes 1;
# Long connections must not keep old workers alive for ever after a reload.
worker_shutdown_timeout 10s;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $prefix/tmp-body;
  proxy_temp_path $prefix/tmp-proxy;
  include $prefix/edge.conf;
}
CONF
fi
rm -f "$prefix/nginx.pid"
# nginx daemonizes (its master stays in this container after the agent's entry point replaces this shell);
# a configuration it refuses stops the container here, with nginx's message.
nginx -p "$prefix" -c "$prefix/nginx.conf"
exec /usr/local/bin/slipway-agent "$@"
