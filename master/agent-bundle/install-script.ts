/**
 * The agent installer the master serves at GET /agent/install.sh, with the master's URL as its default
 * --url. `slipway agent token create` prints the one command that runs it on a new host (shared/agent-install.ts).
 * What it does, in order (each step fails with one clear line and changes nothing after it):
 *  1. checks Node (the version the bundle needs, from slipway-agent.json) and curl;
 *  2. downloads /agent/slipway-agent.mjs, compares its sha256 with the master's slipway-agent.json and
 *     refuses a mismatch; replaces the bundle atomically (so running it again upgrades in place);
 *  3. writes SLIPWAY_AGENT_TOKEN to <config-dir>/<service>.token, mode 0600 in a 0700 directory;
 *  4. writes the systemd unit and starts (or restarts, draining) it; with --foreground it runs the agent
 *     itself instead and starts it again when it exits 75 (it upgraded itself, agent/self-upgrade.ts).
 * --uninstall removes unit, token file, bundle and work dir, and says which token to revoke on the master.
 * The unit's content is tested in test/integration/agent-install.test.ts (systemd cannot run in the tests).
 */

/** URLs the script may carry as its default --url: scheme, host, port, path; nothing a shell would read. */
const SAFE_URL = /^https?:\/\/[A-Za-z0-9.\-\[\]:]+(\/[A-Za-z0-9._~\/-]*)?$/;

/** The installer with `masterUrl` as its default --url (left empty when it is not a plain URL). */
export function installScript(masterUrl: string): string {
  const url = SAFE_URL.test(masterUrl) ? masterUrl.replace(/\/+$/, '') : '';
  return SCRIPT.replace('__SLIPWAY_MASTER_URL__', url);
}

const SCRIPT = `#!/usr/bin/env bash
# Slipway agent installer, served by the master at /agent/install.sh (master/agent-bundle/install-script.ts).
# \`slipway agent token create\` prints the command that runs it, as root, on the new agent host:
#   curl -fsSL MASTER/agent/install.sh | SLIPWAY_AGENT_TOKEN=TOKEN bash -s -- --environment ENV --name NAME
# It checks Node, downloads the agent bundle from the master and verifies its sha256 against the master's
# slipway-agent.json, writes the token to a root-only file, installs and starts a systemd unit (or, with
# --foreground, runs the agent here). Run again, it upgrades in place. --uninstall removes it. --help: options.
set -euo pipefail

# Everything runs from main, called on the last line: a download cut short executes nothing.
main() {
MASTER_URL='__SLIPWAY_MASTER_URL__'
ENVIRONMENT=''
NAME="$(hostname)"
LABELS=''
CAPACITY=''
CA_FILE=''
AGENT_CONFIG=''
PREFIX=/opt/slipway-agent
CONFIG_DIR=/etc/slipway
WORK_DIR=/var/lib/slipway-agent
UNIT_DIR=/etc/systemd/system
SERVICE=slipway-agent
FOREGROUND=0
NO_START=0
UNINSTALL=0
NODE="$(command -v node || true)"

say() { printf 'slipway install: %s\\n' "$*" >&2; }
die() { printf 'slipway install: error: %s\\n' "$*" >&2; exit 1; }

usage() {
  cat <<USAGE
Installs or upgrades a Slipway agent from the master $MASTER_URL.
The token comes from SLIPWAY_AGENT_TOKEN (kept in <config-dir>/<service>.token, mode 0600); on an upgrade
the token file already there is kept.
  --environment ENV   environment the token is bound to (required)
  --name NAME         agent name, unique in its environment (default: the host name)
  --labels a,b        labels stages may require
  --capacity N        stages run at once (default 1)
  --ca-file FILE      PEM CA of an https master with a private CA
  --config FILE       agent config file (docker/etcd/nginx settings, services; see the README)
  --url URL           the master (default $MASTER_URL)
  --foreground        run the agent here instead of installing a systemd unit (containers, other supervisors)
  --no-start          write the systemd unit but do not start it
  --uninstall         stop and remove the unit, the token file, the bundle and the work dir
  --prefix DIR        where the bundle goes (default /opt/slipway-agent)
  --config-dir DIR    where the token file goes (default /etc/slipway)
  --work-dir DIR      build workspaces (default /var/lib/slipway-agent)
  --unit-dir DIR      systemd unit directory (default /etc/systemd/system)
  --service-name S    systemd unit name, for several agents on one host (default slipway-agent)
  --node PATH         the node binary (default: node on PATH)
USAGE
}

while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --foreground) FOREGROUND=1; shift; continue ;;
    --no-start) NO_START=1; shift; continue ;;
    --uninstall) UNINSTALL=1; shift; continue ;;
  esac
  [ $# -ge 2 ] || die "$1 needs a value (see --help)"
  case "$1" in
    --url) MASTER_URL="$2" ;;
    --environment) ENVIRONMENT="$2" ;;
    --name) NAME="$2" ;;
    --labels) LABELS="$2" ;;
    --capacity) CAPACITY="$2" ;;
    --ca-file) CA_FILE="$2" ;;
    --config) AGENT_CONFIG="$2" ;;
    --prefix) PREFIX="$2" ;;
    --config-dir) CONFIG_DIR="$2" ;;
    --work-dir) WORK_DIR="$2" ;;
    --unit-dir) UNIT_DIR="$2" ;;
    --service-name) SERVICE="$2" ;;
    --node) NODE="$2" ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift 2
done
MASTER_URL="\${MASTER_URL%/}"
TOKEN_FILE="$CONFIG_DIR/$SERVICE.token"
UNIT="$UNIT_DIR/$SERVICE.service"
BUNDLE="$PREFIX/slipway-agent.mjs"
have_systemd() { command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; }

if [ "$UNINSTALL" = 1 ]; then
  [ "$(id -u)" = 0 ] || die "run as root to uninstall"
  # Checked before anything is removed: a mistyped --prefix or --work-dir must not take a system directory.
  for d in "$PREFIX" "$WORK_DIR"; do
    case "$(cd "$d" 2>/dev/null && pwd -P || echo "$d")" in
      / | /bin | /boot | /dev | /etc | /home | /lib | /opt | /proc | /root | /run | /sbin | /srv | /sys | /tmp | /usr | /var | /var/lib) die "refusing to remove $d" ;;
    esac
  done
  if have_systemd && [ -f "$UNIT" ]; then systemctl disable --now "$SERVICE" >/dev/null 2>&1 || true; fi
  rm -f "$UNIT"
  if have_systemd; then systemctl daemon-reload || true; fi
  rm -f "$TOKEN_FILE"
  rm -rf "$PREFIX" "$WORK_DIR"
  say "removed $UNIT, $TOKEN_FILE, $PREFIX and $WORK_DIR"
  say "the agent token was NOT revoked: revoke it on the master (slipway agent token list --environment ENV, slipway agent token revoke ID)"
  exit 0
fi

[ -n "$ENVIRONMENT" ] || die "--environment is required (the environment the agent token is bound to)"
if [ "$FOREGROUND" = 0 ]; then
  [ "$(id -u)" = 0 ] || die "run as root: the agent is installed as a systemd service (or use --foreground)"
  if [ "$NO_START" = 0 ] && ! have_systemd; then
    die "systemd is not running on this host: use --foreground (containers, another supervisor) or --no-start"
  fi
fi
command -v curl >/dev/null 2>&1 || die "curl is required (apt-get install -y curl)"
CURL=(curl -fsS --retry 2)
[ -z "$CA_FILE" ] || CURL+=(--cacert "$CA_FILE")

# Node: the version the bundle needs comes from the master (package.json engines.node of its build).
if [ -z "$NODE" ] || ! [ -x "$NODE" ]; then
  die "Node.js is not installed: the Slipway agent needs Node.js 20.19 or newer (NodeSource or nvm; Debian 12's nodejs is 18), or pass --node /path/to/node"
fi
INFO="$("\${CURL[@]}" "$MASTER_URL/agent/slipway-agent.json")" || die "cannot fetch $MASTER_URL/agent/slipway-agent.json (is the master reachable, and was \\\`npm run build\\\` run on it?)"
read -r VERSION SHA NEED < <("$NODE" -e '
  const i = JSON.parse(process.argv[1]);
  console.log([i.version, i.sha256, i.node].join(" "));' "$INFO") || die "the master answered slipway-agent.json with something else: $INFO"
if ! "$NODE" -e '
  const m = /(\\d+)(?:\\.(\\d+))?/.exec(process.argv[1]);
  const [a, b] = process.versions.node.split(".").map(Number);
  const need = m ? [Number(m[1]), Number(m[2] || 0)] : [20, 0];
  process.exit(a > need[0] || (a === need[0] && b >= need[1]) ? 0 : 1);' "$NEED"; then
  die "Node.js $("$NODE" -v) at $NODE is too old: the Slipway agent $VERSION needs Node.js $NEED (install Node 20.19+ with NodeSource or nvm, or pass --node)"
fi

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1
  else "$NODE" -e 'process.stdout.write(require("crypto").createHash("sha256").update(require("fs").readFileSync(process.argv[1])).digest("hex"))' "$1"; fi
}

mkdir -p "$PREFIX"
TMP="$(mktemp "$PREFIX/.slipway-agent.XXXXXX")"
trap 'rm -f "$TMP"' EXIT
"\${CURL[@]}" -o "$TMP" "$MASTER_URL/agent/slipway-agent.mjs" || die "cannot download $MASTER_URL/agent/slipway-agent.mjs"
GOT="$(sha256_of "$TMP")"
if [ "$GOT" != "$SHA" ]; then
  die "checksum mismatch: $MASTER_URL/agent/slipway-agent.mjs has sha256 $GOT, the master announced $SHA (version $VERSION). Not installed; nothing was changed. Run the command again; if it fails again, the download is being tampered with."
fi
chmod 755 "$TMP"
OLD=''
[ -f "$BUNDLE" ] && OLD="$("$NODE" "$BUNDLE" --version 2>/dev/null || echo unknown)"
mv -f "$TMP" "$BUNDLE"
if [ -n "$OLD" ]; then say "agent bundle $OLD replaced by $VERSION (sha256 verified) in $BUNDLE"; else say "agent bundle $VERSION (sha256 verified) installed in $BUNDLE"; fi

# The token: only root (or, in the foreground, the user running it) can read it.
mkdir -p "$CONFIG_DIR"
chmod 700 "$CONFIG_DIR"
if [ -n "\${SLIPWAY_AGENT_TOKEN:-}" ]; then
  (umask 077 && printf '%s\\n' "$SLIPWAY_AGENT_TOKEN" >"$TOKEN_FILE.tmp" && mv -f "$TOKEN_FILE.tmp" "$TOKEN_FILE")
  say "token written to $TOKEN_FILE (mode 0600)"
elif [ -s "$TOKEN_FILE" ]; then
  say "keeping the token in $TOKEN_FILE"
else
  die "no agent token: set SLIPWAY_AGENT_TOKEN (printed by slipway agent token create), or keep $TOKEN_FILE from an earlier install"
fi
chmod 600 "$TOKEN_FILE"
mkdir -p "$WORK_DIR"

ARGS=(agent start --auto-upgrade --url "$MASTER_URL" --token-file "$TOKEN_FILE" --name "$NAME" --environment "$ENVIRONMENT" --work-dir "$WORK_DIR")
[ -z "$LABELS" ] || ARGS+=(--labels "$LABELS")
[ -z "$CAPACITY" ] || ARGS+=(--capacity "$CAPACITY")
[ -z "$CA_FILE" ] || ARGS+=(--ca-file "$CA_FILE")
[ -z "$AGENT_CONFIG" ] || ARGS+=(--config "$AGENT_CONFIG")

if [ "$FOREGROUND" = 1 ]; then
  say "running agent $NAME ($ENVIRONMENT) in the foreground; SIGTERM or Ctrl-C drains it and stops"
  child=''
  trap 'rm -f "$TMP"; [ -z "$child" ] || kill -TERM "$child" 2>/dev/null || true' TERM INT
  while :; do
    "$NODE" "$BUNDLE" "\${ARGS[@]}" </dev/null &
    child=$!
    set +e
    wait "$child"
    rc=$?
    # A signal handled by the trap above interrupts wait: wait again for the agent's own exit status.
    while kill -0 "$child" 2>/dev/null; do wait "$child"; rc=$?; done
    set -e
    # 75: the agent replaced its bundle with the master's version (--auto-upgrade) and asks to be started again.
    [ "$rc" = 75 ] || exit "$rc"
    say "the agent upgraded itself to $("$NODE" "$BUNDLE" --version 2>/dev/null || echo '?'); starting it again"
  done
fi

# systemd quoting: every argument in double quotes; \\ and " escaped, % doubled (unit specifiers).
q() { local s="\${1//\\\\/\\\\\\\\}"; s="\${s//\\"/\\\\\\"}"; s="\${s//%/%%}"; printf '"%s"' "$s"; }
EXEC="$(q "$NODE") $(q "$BUNDLE")"
for a in "\${ARGS[@]}"; do EXEC+=" $(q "$a")"; done
mkdir -p "$UNIT_DIR"
cat >"$UNIT.tmp" <<UNIT
# Written by the Slipway agent installer from $MASTER_URL; run the install command again to upgrade.
[Unit]
Description=Slipway agent $NAME (environment $ENVIRONMENT)
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
ExecStart=$EXEC
# SIGTERM to the agent alone: it drains (running stages finish, no step is killed) and exits.
KillMode=mixed
KillSignal=SIGTERM
TimeoutStopSec=30min
Restart=always
RestartSec=2
# 75: the agent replaced its bundle with the master's version and exits to be started again at once.
RestartForceExitStatus=75
SuccessExitStatus=75

[Install]
WantedBy=multi-user.target
UNIT
mv -f "$UNIT.tmp" "$UNIT"
say "systemd unit written to $UNIT"
if [ "$NO_START" = 1 ]; then
  say "not started (--no-start): systemctl enable --now $SERVICE"
  exit 0
fi
systemctl daemon-reload
systemctl enable "$SERVICE" >/dev/null 2>&1
if systemctl is-active --quiet "$SERVICE"; then
  # --no-block: the old agent drains its running stages first, which may take a while.
  systemctl restart --no-block "$SERVICE"
  say "upgrading in place: $SERVICE drains its running stages, then restarts on $VERSION"
else
  systemctl start "$SERVICE"
  say "$SERVICE started: the agent $NAME connects to $MASTER_URL (journalctl -u $SERVICE)"
fi
}

main "$@"
`;
