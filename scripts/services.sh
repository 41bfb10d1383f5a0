# The platform services Slipway deploys with (sourced by lib.sh users, not run): the Docker engine and a
# private image registry. Each start_* function installs its Debian package when missing, starts the service
# on a loopback address, waits until it answers, exports where it listens and appends its stop command to
# the caller's STOP_COMMANDS array (stopped in reverse order). A service that already answers is reused and
# never stopped by us.

# Runs the registered stop commands, newest first (for an EXIT trap).
run_stop_commands() {
  # The loop variable has a name no stop command uses (they are eval'ed in this scope).
  local __stop_index
  for ((__stop_index = ${#STOP_COMMANDS[@]} - 1; __stop_index >= 0; __stop_index--)); do
    eval "${STOP_COMMANDS[$__stop_index]}" || true
  done
}

# Waits up to SECONDS for CHECK (a command) to succeed while the service's process PID lives; dies naming
# WHAT and its LOG otherwise.  wait_for_service WHAT PID LOG SECONDS CHECK...
wait_for_service() {
  local what="$1" pid="$2" logfile="$3" seconds="$4" n
  shift 4
  for ((n = 0; n < seconds * 10; n++)); do
    "$@" && return 0
    kill -0 "$pid" 2>/dev/null || { tail -n 20 "$logfile" >&2; die "$what exited; see $logfile"; }
    sleep 0.1
  done
  "$@" || die "$what did not answer within $seconds s; see $logfile"
}

http_answers() { curl -fsS --max-time 1 "$1" >/dev/null 2>&1; }

# Docker engine: reused when /var/run/docker.sock answers; otherwise dockerd is started without iptables or
# a bridge (host networking only, as deploys use it), its state under /var/lib/docker as usual.
start_dockerd() {
  local logfile="$1"
  ensure_apt_packages docker.io
  if docker_answers; then
    log "docker engine already running"
    return 0
  fi
  log "starting dockerd (log: $logfile)"
  nohup dockerd --iptables=false --ip6tables=false --bridge=none --host unix:///var/run/docker.sock \
    >>"$logfile" 2>&1 </dev/null &
  local pid=$!
  wait_for_service dockerd "$pid" "$logfile" 30 docker_answers
  STOP_COMMANDS+=("kill -TERM $pid; for _ in \$(seq 100); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done")
}

docker_answers() {
  [ -S /var/run/docker.sock ] && curl -fsS --max-time 2 --unix-socket /var/run/docker.sock http://localhost/_ping >/dev/null 2>&1
}

# A free TCP port on 127.0.0.1 (the kernel picks it; a race with another process is possible but rare,
# and each start_* below checks that its service really answers).
free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# Private registry (Debian's docker-registry, the distribution project) on 127.0.0.1:PORT with filesystem
# storage under DIR and delete enabled; exports SLIPWAY_REGISTRY=127.0.0.1:PORT. Docker pushes to a loopback
# registry over plain HTTP without further configuration.
start_registry() {
  local dir="$1" port="${2:-}"
  ensure_apt_packages docker-registry
  [ -n "$port" ] || port="$(free_port)"
  mkdir -p "$dir/storage"
  cat >"$dir/config.yml" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $dir/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
YAML
  nohup docker-registry serve "$dir/config.yml" >>"$dir/registry.log" 2>&1 </dev/null &
  local pid=$!
  wait_for_service docker-registry "$pid" "$dir/registry.log" 20 http_answers "http://127.0.0.1:$port/v2/"
  log "registry on 127.0.0.1:$port"
  export SLIPWAY_REGISTRY="127.0.0.1:$port"
  STOP_COMMANDS+=("kill -TERM $pid")
}

# etcd (Debian's etcd-server) on 127.0.0.1:PORT (client) and PORT+1 (peer), data under DIR; exports
# SLIPWAY_ETCD=http://127.0.0.1:PORT.
start_etcd() {
  local dir="$1" port="${2:-2379}"
  ensure_apt_packages etcd-server
  mkdir -p "$dir"
  local url="http://127.0.0.1:$port" peer="http://127.0.0.1:$((port + 1))"
  nohup etcd --name slipway --data-dir "$dir/data" --listen-client-urls "$url" --advertise-client-urls "$url" \
    --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" --initial-cluster "slipway=$peer" \
    --log-level error >>"$dir/etcd.log" 2>&1 </dev/null &
  local pid=$!
  wait_for_service etcd "$pid" "$dir/etcd.log" 15 http_answers "$url/health"
  log "etcd on $url"
  export SLIPWAY_ETCD="$url"
  STOP_COMMANDS+=("kill -TERM $pid")
}

# nginx (Debian's nginx-light) with its own prefix DIR: DIR/nginx.conf includes DIR/edge.conf, which the
# Slipway edge service owns. Exports SLIPWAY_NGINX_CONF and SLIPWAY_NGINX_INCLUDE.
start_nginx() {
  local dir="$1"
  ensure_apt_packages nginx-light
  mkdir -p "$dir/logs"
  [ -f "$dir/edge.conf" ] || : >"$dir/edge.conf"
  cat >"$dir/nginx.conf" <<CONF
daemon off;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
worker_processes 1;
# Long connections must not keep old workers alive for ever after a reload.
worker_shutdown_timeout 10s;
events { worker_connections 512; }
http {
  access_log $dir/logs/access.log;
  client_body_temp_path $dir/tmp-body;
  proxy_temp_path $dir/tmp-proxy;
  include $dir/edge.conf;
}
CONF
  nohup nginx -p "$dir" -c "$dir/nginx.conf" >>"$dir/logs/nginx.out" 2>&1 </dev/null &
  local pid=$!
  wait_for_service nginx "$pid" "$dir/logs/error.log" 10 test -s "$dir/nginx.pid"
  log "nginx with prefix $dir"
  export SLIPWAY_NGINX_CONF="$dir/nginx.conf" SLIPWAY_NGINX_INCLUDE="$dir/edge.conf"
  STOP_COMMANDS+=("kill -QUIT $pid")
}
