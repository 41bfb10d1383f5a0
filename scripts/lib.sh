# Shared helpers of the scripts behind `npm run up`, `npm test` and `npm run bench` (sourced, not run).
# They install what is missing on a fresh Debian 12 machine and say what to install where they cannot.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Node 20+ must be on PATH; we never install Node behind the user's back on a non-root machine.
require_node() {
  if ! command -v node >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      die "Node.js 20 is not installed. Install it first, e.g.: apt-get install -y nodejs npm (Debian 12 ships Node 18; use NodeSource or nvm for Node 20)"
    fi
    die "Node.js 20 is not installed. Install Node 20 (e.g. with nvm: nvm install 20) and run this again."
  fi
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  [ "$major" -ge 20 ] || die "Node.js $(node -v) is too old: Slipway needs Node 20 or newer."
}

# `npm ci` when node_modules is missing or package-lock.json is newer than the last install (npm rewrites
# node_modules/.package-lock.json on every install), so a second run never reinstalls for nothing.
ensure_node_modules() {
  local hidden="$REPO_ROOT/node_modules/.package-lock.json"
  if [ ! -f "$hidden" ] || [ "$REPO_ROOT/package-lock.json" -nt "$hidden" ]; then
    log "installing npm dependencies (npm ci)"
    (cd "$REPO_ROOT" && npm ci --no-audit --no-fund) >&2
  fi
}

# Debian packages later issues need (docker.io, etcd-server, nginx-light, ...): installed only when missing.
ensure_apt_packages() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    die "missing Debian packages: ${missing[*]}. Install them as root: apt-get install -y ${missing[*]}"
  fi
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# Installs the Debian package $2 when the binary $1 is missing (a package may be installed yet not provide it
# on PATH, e.g. sshd lives in /usr/sbin): `ensure_binary /usr/sbin/sshd openssh-server`.
ensure_binary() {
  local bin="$1" pkg="$2"
  if [ -x "$bin" ] || command -v "$bin" >/dev/null 2>&1; then return 0; fi
  if [ "$(id -u)" != 0 ]; then
    die "$bin is missing. Install it as root: apt-get install -y $pkg"
  fi
  log "installing $pkg (for $bin)"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$pkg" >&2
}

# The CLI, run from the repository root.
slipway() { (cd "$REPO_ROOT" && node --import tsx bin/slipway.ts "$@"); }

# True when the pid in FILE is a live process.
pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# SIGTERM the process in the pid FILE, wait up to $2 seconds (default 30), then SIGKILL; removes the file.
stop_pid_file() {
  local file="$1" wait="${2:-30}" pid i
  [ -f "$file" ] || return 0
  pid="$(cat "$file")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < wait * 10; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  fi
  rm -f "$file"
}

# Builds the web UI (web/ -> web/dist, served by the master) with Vite when web/dist is missing or older
# than any of its sources (web/src, web/index.html, web/vite.config.ts, shared/). About a second.
ensure_web_build() {
  local index="$REPO_ROOT/web/dist/index.html"
  if [ -f "$index" ] && [ -z "$(cd "$REPO_ROOT" && find web/src web/index.html web/vite.config.ts shared -newer "$index" -print -quit 2>/dev/null)" ]; then
    return 0
  fi
  log "building the web UI (vite build web)"
  (cd "$REPO_ROOT" && npx vite build web) >&2
}
