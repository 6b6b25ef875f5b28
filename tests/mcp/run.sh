#!/usr/bin/env bash
# Runs the end-to-end MCP suite: the official MCP Python client against `wxlink mcp` (stdio),
# with `wxlink sandbox` playing WeChat.
#
#   WXLINK_MCP_VENV  venv location (default: $HOME/.cache/wxlink/mcp-venv; see setup-venv.sh)
#   WXLINK_BIN       wxlink binary to test; when unset, `cargo build -p wxlink` is run and
#                    <cargo target dir>/debug/wxlink is used
#
# Extra arguments are passed to pytest. Exits with pytest's status.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "${HERE}/../.." && pwd)"

VENV="$(bash "${HERE}/setup-venv.sh" | tail -n 1)"

if [[ -z "${WXLINK_BIN:-}" ]]; then
    (cd "${ROOT}" && cargo build -q -p wxlink)
    TARGET_DIR="$(cd "${ROOT}" && cargo metadata --format-version 1 --no-deps \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
    export WXLINK_BIN="${TARGET_DIR}/debug/wxlink"
fi

# Loopback only: keep HTTP clients away from any configured proxy.
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,${NO_PROXY}}"
export no_proxy="${NO_PROXY}"

set +e
"${VENV}/bin/python" -m pytest -q -p no:cacheprovider "${HERE}" "$@"
status=$?
set -e
exit "${status}"
