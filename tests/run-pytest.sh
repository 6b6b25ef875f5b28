#!/usr/bin/env bash
# Shared runner of the Python suites (tests/interop, tests/mcp): sets up the suite's venv with
# its own setup-venv.sh, builds wxlink unless WXLINK_BIN names a binary (then uses
# <cargo target dir>/debug/wxlink), keeps loopback traffic off any proxy, and runs pytest on
# the suite's directory with the extra arguments. Exits with pytest's status.
#
#   tests/run-pytest.sh SUITE_DIR [PYTEST ARGS...]
set -euo pipefail

SUITE="$(cd "$1" && pwd)"
shift
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

VENV="$(bash "${SUITE}/setup-venv.sh" | tail -n 1)"

if [[ -z "${WXLINK_BIN:-}" ]]; then
    (cd "${ROOT}" && cargo build -q -p wxlink)
    TARGET_DIR="$(cd "${ROOT}" && cargo metadata --format-version 1 --no-deps \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
    export WXLINK_BIN="${TARGET_DIR}/debug/wxlink"
fi

export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,${NO_PROXY}}"
export no_proxy="${NO_PROXY}"

set +e
"${VENV}/bin/python" -m pytest -q -p no:cacheprovider "${SUITE}" "$@"
status=$?
set -e
exit "${status}"
