#!/usr/bin/env bash
# Runs the weilink 0.6.2 <-> ilink-fake interop suite.
#
#   WXLINK_VENV  venv location (default: $HOME/.cache/wxlink/venv; see setup-venv.sh)
#   WXLINK_BIN   wxlink binary to test; when unset, `cargo build -p wxlink` is run and
#                <cargo target dir>/debug/wxlink is used
#
# Extra arguments are passed to pytest. Exits with pytest's status.
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/../run-pytest.sh" "$(dirname "${BASH_SOURCE[0]}")" "$@"
