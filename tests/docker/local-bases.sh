#!/usr/bin/env bash
# Builds the two base images the Dockerfile takes as build arguments, locally, for machines
# that cannot pull from Docker Hub (only Debian's mirror and the package registries are
# reachable here). Prints `RUST_IMAGE=...` and `RUNTIME_IMAGE=...` last. Needs root, a running
# Docker daemon, mmdebstrap (Debian package) and a Rust toolchain on the host (`rustc`).
#
#   wxlink-local/debian:bookworm-slim   Debian bookworm, variant minbase (what debian:*-slim is)
#   wxlink-local/rust:<version>         the same plus gcc and libc6-dev, with the host's Rust
#                                       toolchain (rustc --print sysroot, without its docs)
#                                       in /usr/local/rust, and the host's CA bundle (so
#                                       cargo reaches crates.io as the host does, also
#                                       through a TLS-inspecting proxy)
#
# Existing images are reused; WXLINK_DEBIAN_MIRROR overrides the mirror.
set -euo pipefail

MIRROR="${WXLINK_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SECURITY="${MIRROR%/debian}/debian-security"
RUNTIME_IMAGE=wxlink-local/debian:bookworm-slim
RUST_VERSION="$(rustc --version | awk '{print $2}')"
RUST_IMAGE="wxlink-local/rust:${RUST_VERSION}"
WORK="$(mktemp -d)"
trap 'rm -rf "${WORK}"' EXIT

have() { docker image inspect "$1" >/dev/null 2>&1; }

debian() { # debian OUT.tar [PACKAGES]
    local include=()
    [[ -n "${2:-}" ]] && include=(--include="$2")
    mmdebstrap --quiet --variant=minbase "${include[@]}" bookworm "$1" \
        "deb ${MIRROR} bookworm main" "deb ${SECURITY} bookworm-security main" >&2
}

if ! have "${RUNTIME_IMAGE}"; then
    echo "local-bases: building ${RUNTIME_IMAGE} with mmdebstrap" >&2
    debian "${WORK}/runtime.tar"
    docker import "${WORK}/runtime.tar" "${RUNTIME_IMAGE}" >/dev/null
fi

if ! have "${RUST_IMAGE}"; then
    echo "local-bases: building ${RUST_IMAGE} (Debian + gcc + the host's Rust ${RUST_VERSION})" >&2
    have wxlink-local/debian-build:bookworm || {
        debian "${WORK}/build.tar" gcc,libc6-dev,ca-certificates
        docker import "${WORK}/build.tar" wxlink-local/debian-build:bookworm >/dev/null
    }
    sysroot="$(rustc --print sysroot)"
    mkdir -p "${WORK}/ctx"
    cat > "${WORK}/ctx/Dockerfile" <<'DOCKERFILE'
FROM wxlink-local/debian-build:bookworm
COPY rust/ /usr/local/rust/
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENV PATH=/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    CARGO_HOME=/usr/local/cargo
RUN rustc --version && cargo --version
DOCKERFILE
    # The build context as a tar stream: the Dockerfile, and the toolchain under rust/ (its
    # HTML docs left out).
    cp /etc/ssl/certs/ca-certificates.crt "${WORK}/ctx/"
    tar -C "${WORK}/ctx" -cf "${WORK}/ctx.tar" Dockerfile ca-certificates.crt
    tar -C "${sysroot}" --exclude=./share/doc --transform 's,^\.,rust,' -rf "${WORK}/ctx.tar" .
    docker build -q -t "${RUST_IMAGE}" - < "${WORK}/ctx.tar" >/dev/null
fi

echo "RUST_IMAGE=${RUST_IMAGE}"
echo "RUNTIME_IMAGE=${RUNTIME_IMAGE}"
