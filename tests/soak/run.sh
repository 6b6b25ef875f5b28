#!/usr/bin/env bash
# The soak as a test: bench/soak.py with 20 SIGKILLs of `wxlink mcp -t http` (fixed seed) while
# messages stream in, sends are in flight and the fake injects every fault it has. Fails when a
# consumer lost or got twice any inbound message, when the victim died by itself, or — unless
# SOAK_REQUIRE_SENDS_ACCOUNTED=0 — when a send the fake accepted is missing from `history`.
# Takes about 20 s with a debug build, 35 s when something is lost (the drain then waits 15 s
# for it).
#
#   WXLINK_BIN                    wxlink binary; when unset, `cargo build -p wxlink` is run and
#                                 <cargo target dir>/debug/wxlink is used
#   SOAK_REQUIRE_SENDS_ACCOUNTED  1 (default): unaccounted sends fail the run; 0: reported only
#   SOAK_KILLS, SOAK_SEED         override the 20 kills and the seed (default 20260701)
#
# Extra arguments go to bench/soak.py (e.g. --keep to keep the data and logs).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

if [[ -z "${WXLINK_BIN:-}" ]]; then
    (cd "${ROOT}" && cargo build -q -p wxlink)
    TARGET_DIR="$(cd "${ROOT}" && cargo metadata --format-version 1 --no-deps \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
    WXLINK_BIN="${TARGET_DIR}/debug/wxlink"
fi

export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,${NO_PROXY}}"
export no_proxy="${NO_PROXY}"

args=(--bin "${WXLINK_BIN}" --kills "${SOAK_KILLS:-20}" --seed "${SOAK_SEED:-20260701}")
case "${SOAK_REQUIRE_SENDS_ACCOUNTED:-1}" in
    1) ;;
    0) args+=(--no-require-sends-accounted)
       echo "soak: unaccounted sends are reported, not failed (SOAK_REQUIRE_SENDS_ACCOUNTED=0)" >&2 ;;
    *) echo "soak: SOAK_REQUIRE_SENDS_ACCOUNTED must be 0 or 1" >&2; exit 2 ;;
esac

exec python3 "${ROOT}/bench/soak.py" "${args[@]}" "$@"
