#!/usr/bin/env bash
# `npm run up`: on a fresh Debian 12 machine, installs what is missing, starts the master (data in ./data,
# port $SLIPWAY_PORT or 8080, jobs from ./jobs) and one local agent per demo environment (ci, pre) in the
# background, and prints the URL, the admin login and how to trigger the demo job. Idempotent: what already
# runs is left alone. Logs: data/logs/. Stop everything with `npm run down`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/services.sh"
cd "$REPO_ROOT"

DATA="$REPO_ROOT/data"
PORT="${SLIPWAY_PORT:-8080}"
ENVIRONMENTS=(ci pre prod)
# Workspaces live outside data/ (kept 0700: database, keys, tokens) because, when the agent runs as root,
# steps run as the unprivileged build user, who must be able to reach its workspace.
WORK="$REPO_ROOT/.slipway/work"
# The script's own CLI session, so that it never overwrites the user's ~/.config/slipway login.
export SLIPWAY_CONFIG="$DATA/cli-session.json"
unset SLIPWAY_URL SLIPWAY_TOKEN

require_node
ensure_node_modules
# The master, the CLI and the agents run from the build (no tsx at run time); the agent is the same bundle
# the master serves to agent hosts at /agent/slipway-agent.mjs (see the README, "Installing an agent").
log "building (npm run build)"
node scripts/build.mjs >&2
slipway() { (cd "$REPO_ROOT" && node dist/bin/slipway.mjs "$@"); }
# The web UI the master serves at its URL (built when web/dist is missing or older than its sources).
ensure_web_build
# Agents check out Git repositories; the master resolves branch heads with git ls-remote.
ensure_binary git git
ensure_binary curl curl
mkdir -p "$DATA/logs" "$WORK"
chmod 700 "$DATA"

# The platform the demo deploys with: the Docker engine (started only when its socket does not answer) and a
# private registry kept in data/registry on 127.0.0.1:$SLIPWAY_REGISTRY_PORT (default 5000). The demo's OS
# layer is Debian's static busybox. What this script starts, `npm run down` stops.
ensure_apt_packages busybox-static
REGISTRY_PORT="${SLIPWAY_REGISTRY_PORT:-5000}"
STOP_COMMANDS=()
if docker_answers; then
  log "docker engine already running"
else
  start_dockerd "$DATA/logs/dockerd.log"
  echo "${STOP_COMMANDS[-1]}" >"$DATA/dockerd.stop"
fi
# Discovery: etcd for instance registration and nginx, which a local edge keeps routing to the demo's
# instances in pre on 127.0.0.1:$SLIPWAY_EDGE_PORT (default 8081).
ETCD_PORT="${SLIPWAY_ETCD_PORT:-2379}"
EDGE_PORT="${SLIPWAY_EDGE_PORT:-8081}"
PROD_EDGE_PORT="${SLIPWAY_PROD_EDGE_PORT:-8082}"
if curl -fsS --max-time 1 "http://127.0.0.1:$ETCD_PORT/health" >/dev/null 2>&1; then
  log "etcd already answers on 127.0.0.1:$ETCD_PORT"
  export SLIPWAY_ETCD="http://127.0.0.1:$ETCD_PORT"
else
  start_etcd "$DATA/etcd" "$ETCD_PORT"
  echo "${STOP_COMMANDS[-1]}" >"$DATA/etcd.stop"
fi
if pid_alive "$DATA/nginx/nginx.pid"; then
  log "nginx already running"
  SLIPWAY_NGINX_CONF="$DATA/nginx/nginx.conf" SLIPWAY_NGINX_INCLUDE="$DATA/nginx/edge.conf"
else
  start_nginx "$DATA/nginx"
  echo "${STOP_COMMANDS[-1]}" >"$DATA/nginx.stop"
fi
# The pre and prod agents register what they deploy in etcd; the pre agent is also the edge of this host
# (agent config files, README), routing the demo in pre and in prod.
cat >"$DATA/agent-pre.yml" <<YAML
etcd: { endpoints: [$SLIPWAY_ETCD] }
services:
  registration: { ttlSeconds: 10 }
  edge:
    file: $SLIPWAY_NGINX_INCLUDE
    nginx: [nginx, -p, $DATA/nginx, -c, $SLIPWAY_NGINX_CONF]
    routes:
      - { app: demo, environment: pre, listen: "127.0.0.1:$EDGE_PORT" }
      - { app: demo, environment: prod, listen: "127.0.0.1:$PROD_EDGE_PORT" }
  container-logs: {}   # ships the deployed demo's logs to the log center (slipway app-logs demo ...)
YAML
cat >"$DATA/agent-prod.yml" <<YAML
etcd: { endpoints: [$SLIPWAY_ETCD] }
services:
  registration: { ttlSeconds: 10 }
  container-logs: {}
YAML

if curl -fsS --max-time 1 "http://127.0.0.1:$REGISTRY_PORT/v2/" >/dev/null 2>&1; then
  log "registry already answers on 127.0.0.1:$REGISTRY_PORT"
  export SLIPWAY_REGISTRY="127.0.0.1:$REGISTRY_PORT"
else
  start_registry "$DATA/registry" "$REGISTRY_PORT"
  echo "${STOP_COMMANDS[-1]}" >"$DATA/registry.stop"
fi

# The admin password is chosen here on the first run (the master uses it only when it creates the admin).
if [ ! -f "$DATA/admin.password" ]; then
  if [ -f "$DATA/slipway.db" ]; then
    die "data/ already holds a master but no data/admin.password: log in with the password printed at its first start, or move data/ away"
  fi
  (umask 077 && node -e 'process.stdout.write(require("crypto").randomBytes(12).toString("base64url"))' >"$DATA/admin.password")
fi

wait_for_master() {
  local pid="$1" i
  for ((i = 0; i < 600; i++)); do
    if [ -f "$DATA/master.json" ] && node -e 'const j=require(process.argv[1]); process.exit(j.pid==process.argv[2]?0:1)' "$DATA/master.json" "$pid" 2>/dev/null; then
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { tail -n 20 "$DATA/logs/master.log" >&2; die "the master exited; see data/logs/master.log"; }
    sleep 0.1
  done
  die "the master did not start within 60 s; see data/logs/master.log"
}

if pid_alive "$DATA/master.pid"; then
  log "master already running (pid $(cat "$DATA/master.pid"))"
else
  log "starting the master on port $PORT"
  rm -f "$DATA/master.json"
  SLIPWAY_ADMIN_PASSWORD="$(cat "$DATA/admin.password")" nohup node dist/bin/slipway.mjs master start \
    --data-dir "$DATA" --port "$PORT" --jobs-dir "$REPO_ROOT/jobs" --etcd "$SLIPWAY_ETCD" >>"$DATA/logs/master.log" 2>&1 </dev/null &
  echo $! >"$DATA/master.pid"
  wait_for_master "$(cat "$DATA/master.pid")"
fi
URL="$(node -p 'require(process.argv[1]).url' "$DATA/master.json")"

slipway login --url "$URL" --user admin <"$DATA/admin.password" >/dev/null

# The demo team (created by jobs/demo.yml) pushes to and deploys from the local registry.
slipway registry add local --url "$SLIPWAY_REGISTRY" --teams demo >/dev/null
log "registry local ($SLIPWAY_REGISTRY) granted to team demo"

# The in-repo plugins: the sample step kind (plugins/dockerfile-lint), the scan step's eslint and shellcheck
# scanners (plugins/eslint-sarif, plugins/shellcheck-sarif), the report format tap (plugins/tap-junit) and
# the sample notifier (plugins/mattermost-notify, run by the master); agents load the others when they
# connect. Running up again leaves them as they are ("unchanged"); a refusal (edited without a new version)
# is only reported.
for plugin in dockerfile-lint eslint-sarif shellcheck-sarif tap-junit mattermost-notify; do
  if out="$(slipway plugin install "plugins/$plugin" 2>&1)"; then log "$out"; else log "plugin $plugin not installed: $out"; fi
done

existing_envs="$(slipway env list --json)"
for env in "${ENVIRONMENTS[@]}"; do
  if ! grep -q "\"name\": \"$env\"" <<<"$existing_envs"; then
    slipway env create "$env" --description "local demo environment $env" >/dev/null
    log "created environment $env"
  fi
done

for env in "${ENVIRONMENTS[@]}"; do
  pidfile="$DATA/agent-$env.pid"
  if pid_alive "$pidfile"; then
    log "agent local-$env already running (pid $(cat "$pidfile"))"
    continue
  fi
  tokenfile="$DATA/agent-$env.token"
  if [ ! -s "$tokenfile" ]; then
    (umask 077 && slipway agent token create --environment "$env" --name "local-$env-$(date +%s)" 2>/dev/null >"$tokenfile")
  fi
  log "starting agent local-$env"
  mkdir -p "$WORK/$env"
  config=()
  [ -f "$DATA/agent-$env.yml" ] && config=(--config "$DATA/agent-$env.yml")
  nohup node dist/agent/slipway-agent.mjs agent start --url "$URL" --token-file "$tokenfile" --name "local-$env" \
    --environment "$env" --work-dir "$WORK/$env" "${config[@]}" >>"$DATA/logs/agent-$env.log" 2>&1 </dev/null &
  echo $! >"$pidfile"
done

# Wait until both agents show up connected, so the demo job can run right away.
for ((i = 0; i < 300; i++)); do
  agents="$(slipway agents --json 2>/dev/null || true)"
  ready=0
  for env in "${ENVIRONMENTS[@]}"; do
    node -e '
      const a = JSON.parse(process.argv[1] || "[]").find((x) => x.name === process.argv[2]);
      process.exit(a && (a.state === "connected" || a.state === "busy") ? 0 : 1);
    ' "$agents" "local-$env" && ready=$((ready + 1))
  done
  [ "$ready" -eq "${#ENVIRONMENTS[@]}" ] && break
  sleep 0.2
done
[ "$ready" -eq "${#ENVIRONMENTS[@]}" ] || log "warning: not every agent is connected yet; see data/logs/agent-*.log"

cat <<INFO

Slipway is running.
  URL:    $URL   (health: $URL/healthz)
  Web UI: open $URL in a browser, log in as admin with the password in data/admin.password
  Login:  user admin, password in data/admin.password
          node dist/bin/slipway.mjs login --url $URL --user admin < data/admin.password
  Demo:   node dist/bin/slipway.mjs trigger demo -p GREETING=hi --follow
          builds the demo's image layers, pushes them to $SLIPWAY_REGISTRY, deploys 2 replicas to pre;
          then waits for your approval:  node dist/bin/slipway.mjs approve <build id>
          and promotes the same digest to prod
  App:    pre  http://127.0.0.1:$EDGE_PORT/   prod  http://127.0.0.1:$PROD_EDGE_PORT/   (nginx, routed by the local edge)
  Images: node dist/bin/slipway.mjs images local --prefix demo/
  Agents: local-ci (ci), local-pre (pre, edge), local-prod (prod), from the agent bundle; logs in data/logs/
          more hosts: slipway agent token create --environment ci --name HOST prints the install command
  Stop:   npm run down
INFO
