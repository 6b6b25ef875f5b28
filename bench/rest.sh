#!/usr/bin/env bash
# REST API vs MCP on one `wxlink serve`: history and send requests/s and latency, 1 and 16
# clients (bench/rest_bench.py). CARGO_TARGET_DIR is honoured.
set -euo pipefail
cd "$(dirname "$0")/.."
# Built apart: with the example, the binary would get the dev-dependencies' features (see mcp.sh).
cargo build --release -q -p wxlink --bin wxlink
cargo build --release -q -p wxlink --example mcp_load
TARGET="${CARGO_TARGET_DIR:-target}"
exec python3 bench/rest_bench.py "${TARGET}/release/wxlink" "${TARGET}/release/examples/mcp_load" "$@"
