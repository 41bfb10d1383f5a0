#!/usr/bin/env bash
# `npm run bench`: runs every test/bench/*.bench.ts as its own process (each reports its figures through
# test/helpers/bench.ts), merges them into bench-results.json at the repository root and prints them.
# A benchmark that fails or passes its time limit fails the run; the figures of the others are still kept.
# BENCH_TIMEOUT_S (default 300) bounds each file; a file that fails or times out has the last 40 lines of its
# output printed again after the reason (scripts/bench-run.sh). Arguments select files: npm run bench -- dispatch
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/services.sh"
source "$(dirname "${BASH_SOURCE[0]}")/bench-run.sh"
cd "$REPO_ROOT"

require_node
ensure_node_modules
ensure_binary git git
ensure_binary curl curl
# The web UI benchmark drives Debian's chromium with playwright-core.
ensure_binary /usr/bin/chromium chromium

WORK="$(mktemp -d -t slipway-bench.XXXXXX)"
STOP_COMMANDS=()
stop_services() {
  run_stop_commands
  rm -rf "$WORK"
}
trap stop_services EXIT
# The images benchmark: the Docker engine, a registry, debootstrap for its Debian OS layer; discovery: etcd, nginx.
ensure_apt_packages debootstrap etcd-server nginx-light
start_dockerd "$WORK/dockerd.log"
start_registry "$WORK/registry"

files=()
for f in test/bench/*.bench.ts; do
  [ -e "$f" ] || continue
  if [ "$#" -gt 0 ]; then
    match=0
    for want in "$@"; do [[ "$f" == *"$want"* ]] && match=1; done
    [ "$match" = 1 ] || continue
  fi
  files+=("$f")
done
[ "${#files[@]}" -gt 0 ] || die "no benchmark in test/bench/*.bench.ts${*:+ matching $*}"

status=0
failed=()
for f in "${files[@]}"; do
  name="$(basename "$f" .bench.ts)"
  log "bench $name"
  if ! run_bench_file "$name" "$f" "$WORK/$name.json" "$WORK/$name.out"; then
    failed+=("$name")
    status=1
  fi
done

# Merge into the existing file so running one benchmark keeps the others' last figures.
node -e '
  const fs = require("fs"), path = require("path");
  const [dir, out] = process.argv.slice(1);
  let merged = {};
  try { merged = JSON.parse(fs.readFileSync(out, "utf8")); } catch {}
  for (const f of fs.readdirSync(dir).filter((f) => f.endsWith(".json")).sort()) {
    Object.assign(merged, JSON.parse(fs.readFileSync(path.join(dir, f), "utf8")));
  }
  merged.generated_at = new Date().toISOString();
  fs.writeFileSync(out + ".tmp", JSON.stringify(merged, null, 2) + "\n");
  fs.renameSync(out + ".tmp", out);
  console.log(JSON.stringify(merged, null, 2));
' "$WORK" "$REPO_ROOT/bench-results.json"
# After the figures, so that the end of the run's output names what failed (its output's tail is above).
[ "${#failed[@]}" = 0 ] || log "failed: ${failed[*]} (the last lines of each one's output are printed after its 'bench NAME failed' line)"
exit "$status"
