#!/usr/bin/env bash
# `npm test`: installs what is missing, starts the services the tests need (the Docker engine when its socket
# does not answer, and a private registry on a free loopback port; etcd and nginx are installed and each
# discovery test starts its own),
# builds the web UI when web/dist is missing or stale, type-checks, runs the whole vitest suite and prints one line "Tests: N passed, N failed". Extra arguments
# go to vitest (e.g. npm test -- test/unit). Exit code is non-zero when type-checking or any test fails.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/services.sh"
cd "$REPO_ROOT"

WORK="$(mktemp -d -t slipway-test.XXXXXX)"

# Services started for the tests register their stop command here; stop_services runs them in reverse.
STOP_COMMANDS=()
start_services() {
  ensure_binary curl curl
  # The OS base layer of test images is Debian's static busybox (no image can be pulled here).
  ensure_apt_packages busybox-static
  # The container image test makes its Node base image from Debian's mirror (docker/local-base.sh).
  ensure_apt_packages debootstrap
  # ... and runs the stack of docker/compose.yml with Debian's docker-compose (1.29; no compose plugin here).
  ensure_apt_packages docker-compose
  # Discovery tests start their own etcd and nginx on free loopback ports (test/helpers/discovery.ts).
  ensure_apt_packages etcd-server nginx-light
  start_dockerd "$WORK/dockerd.log"
  start_registry "$WORK/registry"
}
stop_services() {
  run_stop_commands
  rm -rf "$WORK"
}
trap stop_services EXIT

require_node
ensure_node_modules
# Git everywhere (repositories, git http-backend and git daemon in the checkout tests).
ensure_binary git git
# The SSH host key tests start their own sshd on a loopback port (test/integration/ssh-server.ts).
ensure_binary /usr/sbin/sshd openssh-server
ensure_binary ssh-keygen openssh-client
# The scan step's shellcheck scanner (plugins/shellcheck-sarif) runs Debian's shellcheck (test/unit/quality-scanners.test.ts, quality-scan).
ensure_binary shellcheck shellcheck
# The browser test (test/e2e/web-ui.test.ts) drives Debian's chromium with playwright-core.
ensure_binary /usr/bin/chromium chromium
ensure_web_build
start_services

status=0
log "type-checking (tsc --noEmit)"
if ! npx tsc --noEmit; then
  status=1
  log "type-checking failed"
fi

log "running tests (vitest)"
report="$WORK/vitest.json"
npx vitest run --reporter=default --reporter=json --outputFile="$report" "$@" || status=1

if [ -s "$report" ]; then
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    // Files that fail to load count as failures even though they contain no counted test.
    const broken = (r.testResults || []).filter((f) => f.status === "failed" && !(f.assertionResults || []).length).length;
    console.log(`Tests: ${r.numPassedTests} passed, ${r.numFailedTests + broken} failed`);
  ' "$report"
else
  echo "Tests: 0 passed, 0 failed (vitest wrote no report)"
  status=1
fi
exit "$status"
