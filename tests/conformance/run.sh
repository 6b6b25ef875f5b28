#!/usr/bin/env bash
# Runs the official MCP conformance suite (@modelcontextprotocol/conformance, pinned with the
# Node 22 it needs in package.json / package-lock.json) against wxlink's MCP server over
# Streamable HTTP:
#
#   1. `npm ci` into tests/conformance/node_modules (skipped while package-lock.json is unchanged);
#   2. builds `wxlink-conformance` (crates/wxlink-conformance, unpublished): wxlink's own handler
#      and HTTP server, as `wxlink mcp -t http` runs them, with the suite's fixture tools,
#      resources and prompts around the handler (never compiled into the wxlink binary);
#   3. starts `wxlink-conformance -p 0` on a throwaway data directory, with an iLink base that is
#      never contacted (no session is logged in), and waits for /health;
#   4. runs `--suite all` at `--spec-version 2025-11-25` and `2026-07-28`, then exactly what each
#      revision requires (`--requirements 2025-11-25`, `--requirements 2026-07-28`);
#   5. prints the checks per run and exits non-zero if any check failed or any run failed.
#
#   WXLINK_CONFORMANCE_BIN  a wxlink-conformance binary (skips the build)
#   CONFORMANCE_OUT         where results go (default: a temporary directory, removed on success)
#
# No expected-failures baseline: every check must pass.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "${HERE}/../.." && pwd)"
SPEC_VERSIONS=(2025-11-25 2026-07-28)

# 1. The pinned suite and Node 22 (the machine's Node may be older; the suite needs >= 22).
command -v npm >/dev/null || {
    echo "conformance: npm (Node.js) is needed to install the pinned suite" >&2
    exit 1
}
MARKER="${HERE}/node_modules/.wxlink-lock"
if [[ ! -x "${HERE}/node_modules/.bin/conformance" || ! -x "${HERE}/node_modules/.bin/node" ]] ||
    ! cmp -s "${HERE}/package-lock.json" "${MARKER}"; then
    echo "conformance: npm ci" >&2
    npm ci --prefix "${HERE}" --no-audit --no-fund --loglevel=error >&2
    cp "${HERE}/package-lock.json" "${MARKER}"
fi
export PATH="${HERE}/node_modules/.bin:${PATH}"
echo "conformance: node $(node --version), suite $(node -p 'require(process.argv[1]).version' \
    "${HERE}/node_modules/@modelcontextprotocol/conformance/package.json")" >&2

# 2. The fixtures' server, copied out so a concurrent build cannot replace it mid-run.
WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
    if [[ -n "${SERVER_PID}" ]] && kill -0 "${SERVER_PID}" 2>/dev/null; then
        kill "${SERVER_PID}" 2>/dev/null || true
        wait "${SERVER_PID}" 2>/dev/null || true
    fi
    rm -rf "${WORK}"
}
trap cleanup EXIT
if [[ -n "${WXLINK_CONFORMANCE_BIN:-}" ]]; then
    BIN="${WXLINK_CONFORMANCE_BIN}"
else
    (cd "${ROOT}" && cargo build -q --locked -p wxlink-conformance)
    TARGET_DIR="$(cd "${ROOT}" && cargo metadata --format-version 1 --no-deps \
        | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')"
    cp "${TARGET_DIR}/debug/wxlink-conformance" "${WORK}/wxlink-conformance"
    BIN="${WORK}/wxlink-conformance"
fi

# 3. The server, on a free port (-p 0; the port is read from the banner).
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,${NO_PROXY}}"
export no_proxy="${NO_PROXY}"
"${BIN}" -d "${WORK}/data" --ilink-base http://127.0.0.1:9 --cdn-base http://127.0.0.1:9 \
    --host 127.0.0.1 -p 0 2>"${WORK}/server.log" &
SERVER_PID=$!
URL=""
for _ in $(seq 1 100); do
    URL="$(sed -n 's/^.*Streamable HTTP: \(http:[^ ]*\/mcp\).*$/\1/p' "${WORK}/server.log" | head -n 1)"
    if [[ -n "${URL}" ]] && curl -fsS "${URL%/mcp}/health" >/dev/null 2>&1; then
        break
    fi
    if ! kill -0 "${SERVER_PID}" 2>/dev/null; then
        echo "conformance: wxlink-conformance exited early:" >&2
        cat "${WORK}/server.log" >&2
        exit 1
    fi
    URL=""
    sleep 0.1
done
if [[ -z "${URL}" ]]; then
    echo "conformance: wxlink-conformance did not become healthy:" >&2
    cat "${WORK}/server.log" >&2
    exit 1
fi
echo "conformance: testing ${URL}" >&2

# 4. The runs.
OUT="${CONFORMANCE_OUT:-${WORK}/results}"
mkdir -p "${OUT}"
RUNS=()
for v in "${SPEC_VERSIONS[@]}"; do
    RUNS+=("suite-all-${v}|--suite all --spec-version ${v}")
done
for v in "${SPEC_VERSIONS[@]}"; do
    RUNS+=("requirements-${v}|--requirements ${v}")
done
status=0
total_passed=0
total_failed=0
for run in "${RUNS[@]}"; do
    name="${run%%|*}"
    read -r -a flags <<<"${run#*|}"
    rm -rf "${OUT:?}/${name}"
    set +e
    conformance server --url "${URL}" "${flags[@]}" -o "${OUT}/${name}" >"${OUT}/${name}.log" 2>&1
    rc=$?
    set -e
    # 5. Count every check of the run (the suite's own summary counts per scenario), including
    #    those of scenarios a --requirements run executes without scoring them (the Tasks
    #    extension, pending scenarios): all must pass. The first line is "PASSED FAILED SUMMARY",
    #    then one line per failed check.
    report="$(node -e '
        const fs = require("fs"), path = require("path");
        const dir = process.argv[1], n = {}, bad = [];
        let scenarios = 0;
        for (const d of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
            const f = path.join(dir, d, "checks.json");
            if (!fs.existsSync(f)) continue;
            scenarios++;
            const scenario = d.replace(/^server-/, "").replace(/-\d{4}-\d{2}-\d{2}T.*$/, "");
            for (const c of JSON.parse(fs.readFileSync(f, "utf8"))) {
                n[c.status] = (n[c.status] || 0) + 1;
                if (c.status === "FAILURE") bad.push(`  FAILED ${scenario}: ${c.id}: ${c.errorMessage || ""}`);
            }
        }
        const ok = n.SUCCESS || 0, failed = n.FAILURE || 0;
        const extra = ["WARNING", "SKIPPED", "INFO"].filter(s => n[s]).map(s => `${n[s]} ${s.toLowerCase()}`);
        console.log(`${ok} ${failed} ${scenarios} scenarios: ${ok} passed, ${failed} failed` +
            (extra.length ? ` (${extra.join(", ")})` : ""));
        for (const b of bad) console.log(b);
    ' "${OUT}/${name}")"
    read -r passed failed summary <<<"${report%%$'\n'*}"
    total_passed=$((total_passed + passed))
    total_failed=$((total_failed + failed))
    printf '%-26s %s (exit %d)\n' "${name}" "${summary}" "${rc}"
    if [[ "${report}" == *$'\n'* ]]; then
        printf '%s\n' "${report#*$'\n'}"
    fi
    if [[ "${rc}" -ne 0 || "${failed}" -ne 0 || "${passed}" -eq 0 ]]; then
        status=1
        echo "  log: ${OUT}/${name}.log" >&2
        tail -n 40 "${OUT}/${name}.log" >&2
    fi
done
echo "conformance: ${total_passed} passed, ${total_failed} failed"

if [[ "${status}" -ne 0 ]]; then
    # Keep the evidence.
    if [[ -z "${CONFORMANCE_OUT:-}" ]]; then
        KEEP="$(mktemp -d "${TMPDIR:-/tmp}/wxlink-conformance.XXXXXX")"
        cp -r "${OUT}/." "${KEEP}/"
        cp "${WORK}/server.log" "${KEEP}/"
        echo "conformance: FAILED; results kept in ${KEEP}" >&2
    fi
    exit 1
fi
echo "conformance: every check passed" >&2
