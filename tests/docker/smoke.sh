#!/usr/bin/env bash
# Smoke test of the container image: builds the Dockerfile, runs the image and checks it from
# outside. Needs a running Docker daemon (root); NOT part of scripts/test.sh or CI, which have
# none. Every published port is bound to 127.0.0.1; nothing else is contacted.
#
#   1. build (base images: RUST_IMAGE / RUNTIME_IMAGE, else local ones from local-bases.sh,
#      since Docker Hub may be out of reach); the image is tagged as server.json names it;
#   2. `serve` (the default command) with WXLINK_TOKEN, published on 127.0.0.1: the health
#      check turns healthy; /health, 401 without the token, initialize + tools/list with it
#      (probe.py http); the server runs as uid 10001, not root; wxlink.db lands in the volume
#      (0600, owned by that uid); without a token the container refuses to start;
#   3. stdio, started exactly as an MCP client would from server.json (probe.py stdio);
#   4. compose.yaml (when `docker compose` or WXLINK_COMPOSE is there): up with the token as a
#      secret, probe.py http on the published port, healthy, no token in the container's
#      environment; down -v.
#
#   WXLINK_SMOKE_IMAGE   test this image instead of building one
#   WXLINK_COMPOSE       the compose command (default: `docker compose` if it works)
#
# Prints the image size; exits non-zero on the first failure; removes what it created.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="${ROOT}/tests/docker"
cd "${ROOT}"

say() { echo "smoke: $*" >&2; }
die() { say "FAIL $*"; exit 1; }

docker info >/dev/null 2>&1 || die "no Docker daemon reachable ($(docker info 2>&1 | tail -n 1))"

VERSION="$(python3 -c 'import tomllib; print(tomllib.load(open("Cargo.toml","rb"))["workspace"]["package"]["version"])')"
IDENTIFIER="$(python3 -c 'import json; print(next(p["identifier"] for p in json.load(open("server.json"))["packages"] if p["registryType"]=="oci"))')"
NAME="$(python3 -c 'import json; print(json.load(open("server.json"))["name"])')"
RUN_ID="wxlink-smoke-$$"
TOKEN="$(python3 -c 'import secrets; print(secrets.token_hex(24))')"
CONTAINERS=()
VOLUMES=()
COMPOSE_UP=0

cleanup() {
    local c v
    for c in "${CONTAINERS[@]}"; do docker rm -f "${c}" >/dev/null 2>&1 || true; done
    if [[ ${COMPOSE_UP} == 1 ]]; then
        WXLINK_TOKEN="${TOKEN}" ${COMPOSE} -p "${RUN_ID}" -f compose.yaml down -v >/dev/null 2>&1 || true
    fi
    for v in "${VOLUMES[@]}"; do docker volume rm -f "${v}" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_healthy() { # CONTAINER
    local status=""
    for _ in $(seq 1 60); do
        status="$(docker inspect -f '{{.State.Health.Status}}' "$1" 2>/dev/null || echo gone)"
        [[ ${status} == healthy ]] && { say "ok  $1 is healthy"; return 0; }
        [[ ${status} == unhealthy || ${status} == gone ]] && break
        sleep 1
    done
    docker logs "$1" 2>&1 | tail -n 20 >&2 || true
    die "$1 is ${status}, not healthy"
}

# --- 1. build --------------------------------------------------------------------------------
if [[ -n "${WXLINK_SMOKE_IMAGE:-}" ]]; then
    IMAGE="${WXLINK_SMOKE_IMAGE}"
else
    if [[ -z "${RUST_IMAGE:-}" || -z "${RUNTIME_IMAGE:-}" ]]; then
        eval "$(bash "${HERE}/local-bases.sh" | grep -E '^(RUST|RUNTIME)_IMAGE=')"
    fi
    IMAGE="wxlink:smoke"
    say "building ${IMAGE} from ${RUST_IMAGE} and ${RUNTIME_IMAGE}"
    start=$(date +%s)
    # Host networking for the build only: cargo fetches crates the way the host does.
    docker build --network host --build-arg RUST_IMAGE="${RUST_IMAGE}" \
        --build-arg RUNTIME_IMAGE="${RUNTIME_IMAGE}" -t "${IMAGE}" . >&2
    say "built in $(( $(date +%s) - start )) s"
fi
docker tag "${IMAGE}" "${IDENTIFIER}"
docker tag "${IMAGE}" wxlink:local
size="$(docker image inspect -f '{{.Size}}' "${IMAGE}")"
say "image ${IMAGE} = ${IDENTIFIER}: $(( size / 1000000 )) MB"
label="$(docker image inspect -f '{{index .Config.Labels "io.modelcontextprotocol.server.name"}}' "${IMAGE}")"
[[ ${label} == "${NAME}" ]] || die "label io.modelcontextprotocol.server.name is '${label}', not ${NAME}"
say "ok  label io.modelcontextprotocol.server.name=${label}"

# --- 2. serve --------------------------------------------------------------------------------
VOL="${RUN_ID}-data"
VOLUMES+=("${VOL}")
C="${RUN_ID}-serve"
CONTAINERS+=("${C}")
PORT="$(free_port)"
docker run -d --name "${C}" -e WXLINK_TOKEN="${TOKEN}" -p "127.0.0.1:${PORT}:8000" \
    -v "${VOL}:/data" --health-interval=2s --health-start-period=1s "${IMAGE}" >/dev/null
wait_healthy "${C}"
python3 "${HERE}/probe.py" http "http://127.0.0.1:${PORT}" "${TOKEN}" "${VERSION}"
uid="$(docker exec "${C}" sh -c 'id -u; awk "/^Uid:/{print \$2}" /proc/1/status')"
[[ "$(echo "${uid}" | sort -u)" == 10001 ]] || die "runs as uid ${uid//$'\n'/,}, not 10001"
say "ok  the shell and PID 1 (wxlink) run as uid 10001"
db="$(docker exec "${C}" stat -c '%u %a' /data/wxlink.db)"
[[ ${db} == "10001 600" ]] || die "/data/wxlink.db is '${db}', not '10001 600'"
dir="$(docker exec "${C}" stat -c '%u %a' /data)"
[[ ${dir} == "10001 700" ]] || die "/data is '${dir}', not '10001 700'"
mount="$(docker volume inspect -f '{{.Mountpoint}}' "${VOL}")"
[[ -f "${mount}/wxlink.db" ]] || die "wxlink.db is not in the volume (${mount})"
say "ok  /data 0700 and wxlink.db 0600 owned by 10001, in volume ${VOL}"
docker stop -t 15 "${C}" >/dev/null
code="$(docker inspect -f '{{.State.ExitCode}}' "${C}")"
[[ ${code} == 0 ]] || die "serve exited ${code} on docker stop"
say "ok  serve stopped cleanly on SIGTERM"

# Without a token, serve must refuse to listen on 0.0.0.0 rather than run open.
if out="$(docker run --rm "${IMAGE}" 2>&1)"; then die "serve started without a token"; fi
[[ ${out} == *token* ]] || die "serve without a token said: ${out}"
say "ok  serve without a token refuses to start: $(echo "${out}" | tail -n 1)"

# --- 3. stdio, as server.json describes it ---------------------------------------------------
python3 "${HERE}/probe.py" stdio "${VERSION}" "${VOL}" -- docker

# --- 4. compose ------------------------------------------------------------------------------
COMPOSE="${WXLINK_COMPOSE:-}"
if [[ -z ${COMPOSE} ]] && docker compose version >/dev/null 2>&1; then COMPOSE="docker compose"; fi
if [[ -z ${COMPOSE} ]]; then
    say "SKIP compose: no \`docker compose\` (set WXLINK_COMPOSE to a Compose v2 command)"
else
    CPORT="$(free_port)"
    COMPOSE_UP=1
    WXLINK_TOKEN="${TOKEN}" WXLINK_PORT="${CPORT}" ${COMPOSE} -p "${RUN_ID}" -f compose.yaml \
        up -d --no-build >&2
    cid="$(WXLINK_TOKEN="${TOKEN}" ${COMPOSE} -p "${RUN_ID}" -f compose.yaml ps -q wxlink)"
    [[ -n ${cid} ]] || die "compose started no container"
    # compose's health check runs every 30 s: probe /health ourselves until it answers.
    for _ in $(seq 1 30); do
        curl -fsS -o /dev/null "http://127.0.0.1:${CPORT}/health" 2>/dev/null && break
        sleep 1
    done
    python3 "${HERE}/probe.py" http "http://127.0.0.1:${CPORT}" "${TOKEN}" "${VERSION}"
    wait_healthy "${cid}"
    if docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "${cid}" | grep -q "${TOKEN}"; then
        die "the token is in the compose container's environment"
    fi
    say "ok  compose: token from the secret, not in the container's environment"
    published="$(docker port "${cid}" 8000/tcp)"
    [[ ${published} == "127.0.0.1:${CPORT}" ]] || die "compose publishes on '${published}'"
    say "ok  compose publishes on ${published} only"
fi

say "all checks passed"
