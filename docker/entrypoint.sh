#!/bin/sh
# The container's entrypoint (installed as /usr/local/bin/wxlink-entrypoint).
#
#   serve [OPTIONS]   `wxlink serve` on ${WXLINK_BIND:-0.0.0.0}, port ${PORT:-8000} (Smithery and
#                     other hosts set PORT): MCP, REST and the admin panel. Listening on 0.0.0.0
#                     needs a token: WXLINK_TOKEN, or WXLINK_TOKEN_FILE naming a file that holds
#                     it (a Docker/compose secret). Set PORT rather than passing --port/--host.
#                     WXLINK_DATABASE_URL (or WXLINK_DATABASE_URL_FILE) and
#                     WXLINK_DATABASE_KEY_FILE put it on a shared PostgreSQL database (replicas).
#   anything else     `wxlink ARGS...` as given (`mcp` for stdio, `login`, `status`, ...).
#
# No arguments means `serve`.
set -eu

# A token from a file (compose/swarm secrets), unless one is given directly.
if [ -z "${WXLINK_TOKEN:-}" ] && [ -n "${WXLINK_TOKEN_FILE:-}" ]; then
    if [ ! -r "$WXLINK_TOKEN_FILE" ]; then
        echo "wxlink-entrypoint: cannot read WXLINK_TOKEN_FILE ($WXLINK_TOKEN_FILE)" >&2
        exit 2
    fi
    WXLINK_TOKEN="$(tr -d '\r\n' < "$WXLINK_TOKEN_FILE")"
    export WXLINK_TOKEN
fi

# The PostgreSQL URL (it holds a password) from a file too: replicas on a shared database.
if [ -z "${WXLINK_DATABASE_URL:-}" ] && [ -n "${WXLINK_DATABASE_URL_FILE:-}" ]; then
    if [ ! -r "$WXLINK_DATABASE_URL_FILE" ]; then
        echo "wxlink-entrypoint: cannot read WXLINK_DATABASE_URL_FILE ($WXLINK_DATABASE_URL_FILE)" >&2
        exit 2
    fi
    WXLINK_DATABASE_URL="$(tr -d '\r\n' < "$WXLINK_DATABASE_URL_FILE")"
    export WXLINK_DATABASE_URL
fi

[ "$#" -gt 0 ] || set -- serve

if [ "$1" = serve ]; then
    shift
    exec wxlink serve --host "${WXLINK_BIND:-0.0.0.0}" --port "${PORT:-8000}" "$@"
fi
exec wxlink "$@"
