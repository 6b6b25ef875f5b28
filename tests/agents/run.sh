#!/usr/bin/env bash
# The real agents read what `wxlink setup` wrote: Claude Code, Codex and OpenCode from npm
# (exact versions, with the Node 22 Claude Code asks for, pinned in package.json /
# package-lock.json) against `wxlink setup <client>` in a temporary HOME, with `wxlink sandbox`
# playing WeChat (check.py says what is checked):
#
#   1. the pinned CLIs into tests/agents/node_modules (skipped while package-lock.json is
#      unchanged) — with `npm install --no-save`, which installs what the lock says and writes
#      nothing, rather than `npm ci`: the lock was made against a registry that serves OpenCode's
#      Linux x64 binaries only, and `npm ci` refuses a lock without the other platforms'
#      optional packages as out of sync;
#   2. the wxlink binary: $WXLINK_BIN, else `cargo build -p wxlink` and
#      <cargo target dir>/debug/wxlink (copied out, so a concurrent build cannot replace it);
#   3. python3 check.py with the agents' binaries first on PATH.
#
# None of the commands used needs an account or a login: `claude mcp list`, `opencode mcp
# list` and `codex app-server` (mcpServerStatus/list, hooks/list, config/read).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "${HERE}/../.." && pwd)"

command -v npm >/dev/null || {
    echo "agents: npm (Node.js) is needed to install the pinned agent CLIs" >&2
    exit 1
}
command -v python3 >/dev/null || {
    echo "agents: python3 is needed to run the checks" >&2
    exit 1
}
MARKER="${HERE}/node_modules/.wxlink-lock"
if [[ ! -x "${HERE}/node_modules/.bin/claude" || ! -x "${HERE}/node_modules/.bin/codex" ||
    ! -x "${HERE}/node_modules/.bin/opencode" ]] || ! cmp -s "${HERE}/package-lock.json" "${MARKER}"; then
    echo "agents: npm install (pinned)" >&2
    npm install --prefix "${HERE}" --no-save --no-audit --no-fund --loglevel=error >&2
    cp "${HERE}/package-lock.json" "${MARKER}"
fi

WORK="$(mktemp -d)"
trap 'rm -rf "${WORK}"' EXIT
if [[ -z "${WXLINK_BIN:-}" ]]; then
    (cd "${ROOT}" && cargo build -q --locked -p wxlink)
    TARGET_DIR="$(cd "${ROOT}" && cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
    cp "${TARGET_DIR}/debug/wxlink" "${WORK}/wxlink"
    WXLINK_BIN="${WORK}/wxlink"
fi
export WXLINK_BIN
export PATH="${HERE}/node_modules/.bin:${PATH}"
python3 "${HERE}/check.py"
