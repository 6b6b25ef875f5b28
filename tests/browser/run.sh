#!/usr/bin/env bash
# Runs the admin panel's browser suite: real headless Chromium over WebDriver (Debian's
# `chromium` and `chromium-driver`) against `wxlink serve`, with `wxlink sandbox` playing WeChat.
#
#   WXLINK_BIN          wxlink binary to test (default: <cargo target dir>/debug/wxlink, where
#                       the target dir honours CARGO_TARGET_DIR); nothing is built here
#   BROWSER_ARTIFACTS   screenshots and, for failed tests, page logs
#                       (default: <cargo target dir>/browser-artifacts)
#   WXLINK_BROWSER_VENV the venv (default: tests/browser/.venv; pins in requirements.txt)
#   CHROMIUM, CHROMEDRIVER  the browser and its driver (default: found on PATH)
#
# Chromium and its driver are installed with apt-get when missing (as root), with a CJK font
# so the Chinese screenshots are legible. Extra arguments are passed to pytest; `-s` shows the
# BENCH line live. Exits with pytest's status.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "${HERE}/../.." && pwd)"

find_browser() {
    CHROMIUM="${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}"
    CHROMEDRIVER="${CHROMEDRIVER:-$(command -v chromedriver || true)}"
}
find_browser
if [[ -z "${CHROMIUM}" || -z "${CHROMEDRIVER}" ]]; then
    if [[ "$(id -u)" -ne 0 ]]; then
        echo "browser tests: chromium and chromedriver are missing; install them with" >&2
        echo "  sudo apt-get install chromium chromium-driver fonts-wqy-microhei" >&2
        echo "or set CHROMIUM and CHROMEDRIVER" >&2
        exit 1
    fi
    echo "browser tests: installing chromium and chromium-driver" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
    find_browser
fi
# Chinese text in screenshots needs a CJK font (optional: the tests do not depend on it).
if [[ "$(id -u)" -eq 0 ]] && command -v fc-list >/dev/null && [[ -z "$(fc-list :lang=zh 2>/dev/null)" ]]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei >/dev/null 2>&1 \
        || echo "browser tests: no CJK font installed; Chinese screenshots show boxes" >&2
fi
export CHROMIUM CHROMEDRIVER

if [[ -n "${CARGO_TARGET_DIR:-}" ]]; then
    TARGET_DIR="${CARGO_TARGET_DIR}"
elif command -v cargo >/dev/null; then
    TARGET_DIR="$(cd "${ROOT}" && cargo metadata --format-version 1 --no-deps \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
else
    TARGET_DIR="${ROOT}/target"
fi
export WXLINK_BIN="${WXLINK_BIN:-${TARGET_DIR}/debug/wxlink}"
if [[ ! -x "${WXLINK_BIN}" ]]; then
    echo "browser tests: no wxlink binary at ${WXLINK_BIN}: run \`cargo build -p wxlink\` or set WXLINK_BIN" >&2
    exit 1
fi
export BROWSER_ARTIFACTS="${BROWSER_ARTIFACTS:-${TARGET_DIR}/browser-artifacts}"
mkdir -p "${BROWSER_ARTIFACTS}"

VENV="${WXLINK_BROWSER_VENV:-${HERE}/.venv}"
MARKER="${VENV}/.wxlink-requirements"
if ! { [[ -x "${VENV}/bin/python" && -f "${MARKER}" ]] && cmp -s "${MARKER}" "${HERE}/requirements.txt"; }; then
    [[ -x "${VENV}/bin/python" ]] || python3 -m venv "${VENV}"
    rm -f "${MARKER}"
    "${VENV}/bin/python" -m pip install --disable-pip-version-check --no-input -q -r "${HERE}/requirements.txt"
    cp "${HERE}/requirements.txt" "${MARKER}"
fi

export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,${NO_PROXY}}"
export no_proxy="${NO_PROXY}"

set +e
"${VENV}/bin/python" -m pytest -q -p no:cacheprovider "${HERE}" "$@"
status=$?
set -e
exit "${status}"
