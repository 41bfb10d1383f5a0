#!/bin/sh
# Entry point of the agent image (docker/Dockerfile, target agent): `slipway agent start` from SLIPWAY_*
# variables, restarted in place after a self-upgrade (exit 75), like the installer's --foreground loop.
#   SLIPWAY_URL                  the master, as this container reaches it (required)
#   SLIPWAY_ENVIRONMENT          the environment the token is bound to (required)
#   SLIPWAY_AGENT_TOKEN_FILE     file holding the agent token (a mounted secret); or SLIPWAY_AGENT_TOKEN
#   SLIPWAY_AGENT_NAME           default: the container's host name
#   SLIPWAY_AGENT_LABELS         comma-separated labels
#   SLIPWAY_AGENT_CAPACITY       stages at once (default 1)
#   SLIPWAY_AGENT_WORK_DIR       workspaces (default /var/lib/slipway-agent, a volume)
#   SLIPWAY_AGENT_AUTO_UPGRADE   1 (default): follow the master's agent version; 0: keep the image's
# Arguments are added to `agent start` (e.g. --config /etc/slipway/agent.yml, --service disk-space).
set -eu
: "${SLIPWAY_URL:?set SLIPWAY_URL to the master URL as this container reaches it}"
: "${SLIPWAY_ENVIRONMENT:?set SLIPWAY_ENVIRONMENT to the environment of the agent token}"
bundle=/opt/slipway-agent/slipway-agent.mjs
set -- agent start --url "$SLIPWAY_URL" --environment "$SLIPWAY_ENVIRONMENT" \
  --name "${SLIPWAY_AGENT_NAME:-$(hostname)}" --work-dir "${SLIPWAY_AGENT_WORK_DIR:-/var/lib/slipway-agent}" \
  --capacity "${SLIPWAY_AGENT_CAPACITY:-1}" ${SLIPWAY_AGENT_LABELS:+--labels "$SLIPWAY_AGENT_LABELS"} "$@"
if [ -n "${SLIPWAY_AGENT_TOKEN_FILE:-}" ]; then
  set -- "$@" --token-file "$SLIPWAY_AGENT_TOKEN_FILE"
elif [ -z "${SLIPWAY_AGENT_TOKEN:-}" ]; then
  echo "slipway-agent: set SLIPWAY_AGENT_TOKEN_FILE (a mounted secret) or SLIPWAY_AGENT_TOKEN" >&2
  exit 2
fi
[ "${SLIPWAY_AGENT_AUTO_UPGRADE:-1}" = 1 ] && set -- "$@" --auto-upgrade
# The agent drains on SIGTERM (docker stop): forward it, and give `docker stop -t` time for running stages.
trap 'interrupted=1; kill -TERM "$pid" 2>/dev/null' TERM INT
while :; do
  node "$bundle" "$@" &
  pid=$!
  interrupted=1
  # wait returns early (143) when the trap ran: wait again for the agent's own exit status (its drain).
  while [ "$interrupted" = 1 ]; do
    interrupted=0
    status=0
    wait "$pid" || status=$?
  done
  [ "$status" = 75 ] || exit "$status"
  echo "slipway-agent: upgraded; starting the new agent" >&2
done
