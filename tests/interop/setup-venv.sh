#!/usr/bin/env bash
# Create (or reuse) the Python venv used by the wxlink <-> weilink interop tests.
#
#   WXLINK_VENV    venv location   (default: $HOME/.cache/wxlink/venv)
#   WXLINK_PYTHON  base interpreter (default: python3; weilink needs >= 3.10)
#
# Idempotent: when "$VENV/.wxlink-requirements" already holds exactly the
# requirement list below, nothing is installed. Prints the venv path last.
set -euo pipefail

VENV="${WXLINK_VENV:-${HOME}/.cache/wxlink/venv}"
PYTHON="${WXLINK_PYTHON:-python3}"
MARKER="${VENV}/.wxlink-requirements"

# weilink[server] pulls toolregistry-server[mcp,openapi]; mcp 2.x and
# toolregistry >= 0.12 break WeiLink's MCP server, hence the two pins.
PINS=(mcp==1.30.0 toolregistry==0.11.2 pytest==8.4.2)
WEILINK_EXTRA="weilink[server]==0.6.2"
WEILINK_PLAIN="weilink==0.6.2"
WANTED="$(printf '%s\n' "${WEILINK_EXTRA}" "${PINS[@]}")"

if [[ -x "${VENV}/bin/python" && -f "${MARKER}" ]] && [[ "$(cat "${MARKER}")" == "${WANTED}" ]]; then
    echo "setup-venv: requirements unchanged, skipping install" >&2
    echo "${VENV}"
    exit 0
fi

"${PYTHON}" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "weilink 0.6.2 needs Python >= 3.10")'
mkdir -p "$(dirname "${VENV}")"
[[ -x "${VENV}/bin/python" ]] || "${PYTHON}" -m venv "${VENV}"
rm -f "${MARKER}"

PIP=("${VENV}/bin/python" -m pip install --disable-pip-version-check --no-input -q)
if ! "${PIP[@]}" "${WEILINK_EXTRA}" "${PINS[@]}"; then
    echo "setup-venv: ${WEILINK_EXTRA} does not resolve with the pins; installing ${WEILINK_PLAIN}" >&2
    "${PIP[@]}" "${WEILINK_PLAIN}" "${PINS[@]}"
fi

# Sanity check before writing the marker.
"${VENV}/bin/python" - <<'PY'
import importlib.metadata as md
import weilink, weilink._protocol, weilink._cdn, pytest  # noqa: F401
assert md.version("weilink") == "0.6.2", md.version("weilink")
PY
"${VENV}/bin/python" -m pip freeze --disable-pip-version-check > "${VENV}/.wxlink-freeze.txt"
printf '%s' "${WANTED}" > "${MARKER}"
echo "${VENV}"
