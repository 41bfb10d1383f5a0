#!/usr/bin/env bash
# Makes a local Node base image for docker/master.Dockerfile and docker/agent.Dockerfile on a machine that
# cannot pull from Docker Hub: a Debian bookworm (minbase) root filesystem made with debootstrap from the
# apt mirror this machine uses, plus this host's Node binary (Debian bookworm's own nodejs is 18, too old for
# the engines >= 20.19 Slipway needs). Then: docker build --build-arg BASE=<tag> ...
#
#   docker/local-base.sh [TAG]     default TAG: slipway-local/bookworm-node:<node version>
#
# Nothing is done when TAG exists already (delete it with `docker rmi TAG` to make it again). Needs root,
# debootstrap and docker; takes about 30 s and 200 MB.
set -euo pipefail

node_bin="$(readlink -f "$(command -v node)")"
node_version="$("$node_bin" -p 'process.versions.node')"
tag="${1:-slipway-local/bookworm-node:$node_version}"

if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "$tag"
  exit 0
fi
[ "$(id -u)" = 0 ] || { echo "error: debootstrap needs root" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "error: debootstrap is missing: apt-get install -y debootstrap" >&2; exit 1; }

# The first deb.debian.org-style URI of this machine's apt sources (deb822 or one-line format).
mirror="${SLIPWAY_DEBIAN_MIRROR:-}"
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list.d/debian.sources ]; then
  mirror="$(awk '/^URIs:/ && $2 !~ /security/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources)"
fi
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
  mirror="$(awk '/^deb / && $0 !~ /security/ { print $2; exit }' /etc/apt/sources.list)"
fi
mirror="${mirror:-http://deb.debian.org/debian}"

root="$(mktemp -d /tmp/slipway-base-XXXXXX)"
trap 'rm -rf "$root"' EXIT
echo "debootstrap bookworm from $mirror into $root" >&2
debootstrap --variant=minbase bookworm "$root" "$mirror" >/dev/null
install -m 0755 "$node_bin" "$root/usr/local/bin/node"
# Node links only libstdc++, libgcc, libc: minbase has them. Fail now, not at the first docker run.
chroot "$root" /usr/local/bin/node -e 'process.exit(0)' || { echo "error: $node_bin does not run inside the bookworm root filesystem" >&2; exit 1; }
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | docker import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' --change 'CMD ["node"]' - "$tag" >/dev/null
echo "$tag"
