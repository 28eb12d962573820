#!/usr/bin/env bash
# Builds the local base images the Docker stack needs where Docker Hub cannot be reached, once: each
# image's tag carries a hash of what it is made from, so a second run finds it and builds nothing.
#   debian   a Debian root file system made by debootstrap from this machine's Debian mirror
#   node     Node.js (the official binary from the npm package node-linux-<arch>) and npm on it
#   postgres, redis   from Debian's packages on the debian image
#   s3       s3rver behind a `minio` command, for the compose stack's `s3` profile
# Prints NODE_IMAGE=… POSTGRES_IMAGE=… REDIS_IMAGE=… S3_IMAGE=… for docker compose. Needs root
# (debootstrap) and a running Docker engine.
#   NODE_VERSION (24.22.3), NPM_VERSION (11.21.2), DEBIAN_MIRROR (from /etc/apt), EXTRA_CA_CERTS (PEM)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
NODE_VERSION=${NODE_VERSION:-24.22.3}
NPM_VERSION=${NPM_VERSION:-11.21.2}
SUITE=bookworm
cache=${DOCKER_BASE_CACHE:-/var/tmp/mnist-jobs-docker}
mkdir -p "$cache"
log() { echo "[base-images] $*" >&2; }

# The Debian mirror this machine's apt uses (deb822 .sources or one-line .list), else Debian's CDN.
mirror() {
  local m
  m=$(grep -hs -A3 -E '^Types:.*deb' /etc/apt/sources.list.d/*.sources | awk '/^URIs:/ {print $2}' | grep -v -- '-security' | head -n1 || true)
  [ -n "$m" ] || m=$(grep -hs -E '^deb +(\[[^]]*\] +)?http' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | grep -v -- '-security' | awk '{for (i=2;i<=NF;i++) if ($i ~ /^http/) {print $i; exit}}' || true)
  echo "${m:-http://deb.debian.org/debian}"
}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-$(mirror)}
SECURITY_MIRROR=${SECURITY_MIRROR:-${DEBIAN_MIRROR%/debian}/debian-security}

hash_of() { { printf '%s\n' "$@"; } | sha256sum | cut -c1-12; }
have() { docker image inspect "$1" >/dev/null 2>&1; }

case "$(uname -m)" in
  x86_64) node_arch=x64 ;;
  aarch64) node_arch=arm64 ;;
  *) echo "no Node.js build for $(uname -m)" >&2; exit 1 ;;
esac

# ---- debian: debootstrap + docker import ------------------------------------------------------
debian_image="mnist-jobs-local/debian:$SUITE-$(hash_of "$SUITE" "$DEBIAN_MIRROR" v1)"
if ! have "$debian_image"; then
  command -v debootstrap >/dev/null || { echo "debootstrap is missing: apt-get install -y debootstrap" >&2; exit 1; }
  root="$cache/rootfs-$SUITE"
  rm -rf "$root"
  log "debootstrap $SUITE from $DEBIAN_MIRROR (about a minute)"
  debootstrap --variant=minbase --include=ca-certificates "$SUITE" "$root" "$DEBIAN_MIRROR" >"$cache/debootstrap.log" 2>&1 \
    || { tail -n 20 "$cache/debootstrap.log" >&2; exit 1; }
  cat >"$root/etc/apt/sources.list" <<SOURCES
deb $DEBIAN_MIRROR $SUITE main
deb $DEBIAN_MIRROR $SUITE-updates main
deb $SECURITY_MIRROR $SUITE-security main
SOURCES
  # Smaller and quieter apt in images, as Docker's official Debian images have it.
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' >"$root/etc/apt/apt.conf.d/90docker"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | docker import -c 'CMD ["bash"]' -c 'ENV LANG=C.UTF-8' - "$debian_image" >/dev/null
  rm -rf "$root"
  log "built $debian_image"
fi

# ---- node: the official binary from the npm registry, on debian --------------------------------
node_image="mnist-jobs-local/node:$NODE_VERSION-$SUITE-$(hash_of "$debian_image" "$NODE_VERSION" "$NPM_VERSION" "$(cat "$here/node.Dockerfile")")"
if ! have "$node_image"; then
  ctx="$cache/node-ctx"
  rm -rf "$ctx" && mkdir -p "$ctx"
  log "fetching node-linux-$node_arch@$NODE_VERSION and npm@$NPM_VERSION from the npm registry"
  (cd "$ctx" && npm pack --silent "node-linux-$node_arch@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)
  tar -xzf "$ctx"/node-linux-*.tgz -C "$ctx" package/bin/node && mv "$ctx/package/bin/node" "$ctx/node"
  rm -rf "$ctx/package" && mkdir "$ctx/npm" && tar -xzf "$ctx"/npm-*.tgz -C "$ctx/npm" --strip-components=1
  rm -f "$ctx"/*.tgz
  docker build -q -f "$here/node.Dockerfile" --build-arg DEBIAN_IMAGE="$debian_image" -t "$node_image" "$ctx" >/dev/null
  rm -rf "$ctx"
  log "built $node_image"
fi

# ---- postgres, redis, s3: small Dockerfiles beside this script ----------------------------------
build_from() { # name dockerfile base-arg base-image [extra build args...]
  local image=$1 file=$2 arg=$3 base=$4
  shift 4
  if ! have "$image"; then
    log "building $image"
    docker build -q -f "$here/$file" --build-arg "$arg=$base" "$@" -t "$image" "$here" >/dev/null
    log "built $image"
  fi
}
files_hash() { cat "$here/$1" "${@:2}" | sha256sum | cut -c1-12; }
postgres_image="mnist-jobs-local/postgres:15-$(hash_of "$debian_image" "$(files_hash postgres.Dockerfile "$here/postgres-entrypoint.sh")")"
redis_image="mnist-jobs-local/redis:7-$(hash_of "$debian_image" "$(files_hash redis.Dockerfile "$here/redis-entrypoint.sh")")"
s3_image="mnist-jobs-local/s3rver:3.7.1-$(hash_of "$node_image" "$(files_hash s3.Dockerfile "$here/minio-shim.cjs")")"
build_from "$postgres_image" postgres.Dockerfile DEBIAN_IMAGE "$debian_image"
build_from "$redis_image" redis.Dockerfile DEBIAN_IMAGE "$debian_image"
build_from "$s3_image" s3.Dockerfile NODE_IMAGE "$node_image" --build-arg "EXTRA_CA_CERTS=${EXTRA_CA_CERTS:-}"

echo "NODE_IMAGE=$node_image"
echo "POSTGRES_IMAGE=$postgres_image"
echo "REDIS_IMAGE=$redis_image"
echo "S3_IMAGE=$s3_image"
