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
exec bash "$(dirname "${BASH_SOURCE[0]}")/../run-pytest.sh" "$(dirname "${BASH_SOURCE[0]}")" "$@"
