#!/usr/bin/env bash
# The MCP servers side by side: `wxlink mcp` vs WeiLink 0.6.2's `weilink mcp`, both logged in to
# the same fake iLink server (wxlink sandbox) in one run: stdio start-up to the first tools/list,
# send and recv latency over stdio, tools/call throughput on Streamable HTTP (1 and 16 clients,
# crates/wxlink/examples/mcp_load.rs), RSS. Prints every figure and the ratios.
#
#   bench/mcp.sh [--runs N] [--sends-wx N] [--sends-wl N] [--recvs N] [--secs S]
#
#   WXLINK_BASELINE          a git revision (a commit, HEAD~10, a tag) to measure alongside:
#                            built in release from a worktree under target/baseline/ (kept for
#                            the next run), with before/after ratios
#   WXLINK_WEILINK_MCP_VENV  WeiLink's venv (default: $HOME/.cache/wxlink/weilink-mcp-venv),
#                            created on the first run with weilink[mcp]==0.6.2 and the pins its
#                            MCP server needs (mcp 2.x and toolregistry >= 0.12 break it)
#   WXLINK_PYTHON            base interpreter for that venv (default: python3, >= 3.10)
#   CARGO_TARGET_DIR         honoured, as by cargo
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${WXLINK_WEILINK_MCP_VENV:-${HOME}/.cache/wxlink/weilink-mcp-venv}"
PINS=("weilink[mcp]==0.6.2" mcp==1.30.0 toolregistry==0.11.2)
MARKER="${VENV}/.wxlink-requirements"
if ! [[ -x "${VENV}/bin/python" && -f "${MARKER}" && "$(cat "${MARKER}")" == "${PINS[*]}" ]]; then
    "${WXLINK_PYTHON:-python3}" -m venv "${VENV}"
    rm -f "${MARKER}"
    "${VENV}/bin/python" -m pip install --disable-pip-version-check --no-input -q "${PINS[@]}"
    "${VENV}/bin/python" -c 'import importlib.metadata as m, weilink.server.app, toolregistry_server.mcp
assert (m.version("weilink"), m.version("mcp"), m.version("toolregistry")) == ("0.6.2", "1.30.0", "0.11.2")'
    printf '%s' "${PINS[*]}" >"${MARKER}"
fi

# Two builds, not one: built together with an example, the binary's dependencies get the
# dev-dependencies' features, which change their symbol names, so crates/wxlink/link-order.txt
# no longer lays out its start-up code (idle RSS measured 13.0 MB instead of 8.6, the HTTP
# server's 16.9 instead of 11.9). Measure the binary users install (cargo install builds it alone).
cargo build --release -q -p wxlink --bin wxlink
cargo build --release -q -p wxlink --example mcp_load
TARGET=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,${NO_PROXY}}" no_proxy="127.0.0.1,localhost${no_proxy:+,${no_proxy}}"
BASELINE_ARGS=()
if [[ -n "${WXLINK_BASELINE:-}" ]]; then
    REV=$(git rev-parse --short "${WXLINK_BASELINE}^{commit}")
    TREE="${TARGET}/baseline/${REV}"
    if [[ ! -x "${TREE}/target/release/wxlink" ]]; then
        [[ -d "${TREE}/.git" || -f "${TREE}/.git" ]] || git worktree add --detach -f "${TREE}" "${REV}" >/dev/null
        (cd "${TREE}" && CARGO_TARGET_DIR="${TREE}/target" cargo build --release -q --locked -p wxlink --bin wxlink)
    fi
    BASELINE_ARGS=(--baseline "${TREE}/target/release/wxlink" --baseline-name "wxlink ${REV}")
fi
exec "${VENV}/bin/python" bench/mcp_bench.py "${TARGET}/release/wxlink" "${TARGET}/release/examples/mcp_load" "${BASELINE_ARGS[@]}" "$@"
