# etcd for docker/compose.yml's `etcd` profile, on a host that has no etcd of its own: Debian's etcd-server
# (3.4) on the same BASE as the Slipway images (a Debian 12 image; docker/local-base.sh makes one).
# Not a Slipway component: production runs an etcd cluster; this is a single member, data in a volume.
#   docker build -f docker/etcd.Dockerfile --build-arg BASE=... -t slipway-etcd docker
ARG BASE=debian:bookworm-slim
FROM ${BASE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends etcd-server \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
 && mkdir -p /var/lib/etcd && chown etcd: /var/lib/etcd
VOLUME /var/lib/etcd
USER etcd
ENTRYPOINT ["etcd"]
