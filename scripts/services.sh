# The platform services Slipway deploys with (sourced by lib.sh users, not run): the Docker engine and a
# private image registry. Each start_* function installs its Debian package when missing, starts the service
# on a loopback address, waits until it answers, exports where it listens and appends its stop command to
# the caller's STOP_COMMANDS array (stopped in reverse order). A service that already answers is reused and
# never stopped by us.

# Runs the registered stop commands, newest first (for an EXIT trap).
run_stop_commands() {
  local i
  for ((i = ${#STOP_COMMANDS[@]} - 1; i >= 0; i--)); do
    eval "${STOP_COMMANDS[$i]}" || true
  done
}

# Docker engine: reused when /var/run/docker.sock answers; otherwise dockerd is started without iptables or
# a bridge (host networking only, as deploys use it), its state under /var/lib/docker as usual.
start_dockerd() {
  local logfile="$1" i
  ensure_apt_packages docker.io
  if docker_answers; then
    log "docker engine already running"
    return 0
  fi
  log "starting dockerd (log: $logfile)"
  nohup dockerd --iptables=false --ip6tables=false --bridge=none --host unix:///var/run/docker.sock \
    >>"$logfile" 2>&1 </dev/null &
  local pid=$!
  for ((i = 0; i < 300; i++)); do
    docker_answers && break
    kill -0 "$pid" 2>/dev/null || { tail -n 20 "$logfile" >&2; die "dockerd exited; see $logfile"; }
    sleep 0.1
  done
  docker_answers || die "dockerd did not answer within 30 s; see $logfile"
  STOP_COMMANDS+=("kill -TERM $pid; for i in \$(seq 100); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done")
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
  local dir="$1" port="${2:-}" i
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
  for ((i = 0; i < 200; i++)); do
    curl -fsS --max-time 1 "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { tail -n 20 "$dir/registry.log" >&2; die "docker-registry exited; see $dir/registry.log"; }
    sleep 0.1
  done
  curl -fsS --max-time 1 "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 || die "the registry did not answer on 127.0.0.1:$port"
  log "registry on 127.0.0.1:$port"
  export SLIPWAY_REGISTRY="127.0.0.1:$port"
  STOP_COMMANDS+=("kill -TERM $pid")
}
