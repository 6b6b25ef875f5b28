#!/usr/bin/env bash
# Create (or reuse) the Python venv used by the wxlink MCP end-to-end tests: the official MCP
# Python SDK as a client, talking to `wxlink mcp` over stdio (jsonschema and PyYAML for
# test_registry.py). Separate from the interop venv,
# which pins mcp==1.30.0 for WeiLink's server.
#
#   WXLINK_MCP_VENV  venv location    (default: $HOME/.cache/wxlink/mcp-venv)
#   WXLINK_PYTHON    base interpreter (default: python3; mcp 2.x needs >= 3.10)
#
# Idempotent: when "$VENV/.wxlink-requirements" already holds exactly the requirement list
# below, nothing is installed. Prints the venv path last.
set -euo pipefail

VENV="${WXLINK_MCP_VENV:-${HOME}/.cache/wxlink/mcp-venv}"
PYTHON="${WXLINK_PYTHON:-python3}"
MARKER="${VENV}/.wxlink-requirements"

PINS=(mcp==2.3.0 pytest==8.4.2 openapi-spec-validator==0.9.0 jsonschema==4.26.0 PyYAML==6.0.4)
WANTED="$(printf '%s\n' "${PINS[@]}")"

if [[ -x "${VENV}/bin/python" && -f "${MARKER}" ]] && [[ "$(cat "${MARKER}")" == "${WANTED}" ]]; then
    echo "setup-venv: requirements unchanged, skipping install" >&2
    echo "${VENV}"
    exit 0
fi

"${PYTHON}" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "the mcp client needs Python >= 3.10")'
mkdir -p "$(dirname "${VENV}")"
[[ -x "${VENV}/bin/python" ]] || "${PYTHON}" -m venv "${VENV}"
rm -f "${MARKER}"

"${VENV}/bin/python" -m pip install --disable-pip-version-check --no-input -q "${PINS[@]}"

# Sanity check before writing the marker.
"${VENV}/bin/python" - <<'PY'
import importlib.metadata as md
import mcp, pytest, openapi_spec_validator, jsonschema, yaml  # noqa: F401
from mcp import Client, StdioServerParameters  # noqa: F401
assert md.version("mcp") == "2.3.0", md.version("mcp")
PY
"${VENV}/bin/python" -m pip freeze --disable-pip-version-check > "${VENV}/.wxlink-freeze.txt"
printf '%s' "${WANTED}" > "${MARKER}"
echo "${VENV}"
