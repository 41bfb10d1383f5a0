#!/usr/bin/env bash
# `npm run down`: stops what `npm run up` started (agents first, so they drain, then the master).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
DATA="$REPO_ROOT/data"
for pidfile in "$DATA"/agent-*.pid; do
  [ -e "$pidfile" ] || continue
  log "stopping $(basename "$pidfile" .pid)"
  stop_pid_file "$pidfile" 60
done
if [ -f "$DATA/master.pid" ]; then
  log "stopping the master"
  stop_pid_file "$DATA/master.pid" 30
fi
# nginx, etcd, the registry and the Docker engine, only if `npm run up` started them. Deployed demo instances keep running
# with the engine they run on; `docker ps --filter label=io.slipway.app` lists them.
for svc in nginx etcd registry dockerd; do
  if [ -f "$DATA/$svc.stop" ]; then
    log "stopping $svc"
    eval "$(cat "$DATA/$svc.stop")" || true
    rm -f "$DATA/$svc.stop"
  fi
done
log "stopped"
