#!/usr/bin/env bash
# `npm run faults`: the full fault matrix (test/faults/): agent kill -9 with and without retry, agent freezes
# shorter and longer than the lease (40 s and 60 s with the master's default 30 s lease), master kill -9 and
# down for longer than the lease, agent SIGTERM drain. Real master and agent processes. Prints one line per
# case (final state, attempts, lines lost / duplicated / cut, time to final state) and writes the detail to
# fault-results.json. `npm run faults -- --short` runs the short form that `npm test` runs. Exit code 1 when
# a case fails.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

require_node
ensure_node_modules
exec node --import tsx test/faults/main.ts "$@"
