#!/usr/bin/env bash
# Makes sure the servers the replica tests start are installed: a PostgreSQL server
# (crates/pg-testserver: Debian's `postgresql` package — initdb, pg_ctl, psql, pg_trgm) and
# HAProxy (the proxy of compose.replicas.yaml, docker/haproxy.cfg), from apt when missing.
# Idempotent; prints what it found.
set -euo pipefail
find_bindir() {
  if [[ -n "${WXLINK_PG_BINDIR:-}" && -x "$WXLINK_PG_BINDIR/initdb" ]]; then
    echo "$WXLINK_PG_BINDIR"; return 0
  fi
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [[ -n "$d" && -x "$d/initdb" ]]; then echo "$d"; return 0; fi
  return 1
}
missing=()
find_bindir >/dev/null || missing+=(postgresql)
command -v haproxy >/dev/null || [[ -x /usr/sbin/haproxy ]] || missing+=(haproxy)
if (( ${#missing[@]} )); then
  echo "postgres: installing Debian's ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "postgres: $(find_bindir); haproxy: $(command -v haproxy || echo /usr/sbin/haproxy)" >&2
