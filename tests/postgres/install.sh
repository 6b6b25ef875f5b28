#!/usr/bin/env bash
# Makes sure a PostgreSQL server is installed for the tests that start one
# (crates/pg-testserver): Debian's `postgresql` package (initdb, pg_ctl, psql, pg_trgm), from
# apt when missing. Idempotent; prints the bin directory it found.
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
if ! find_bindir >/dev/null; then
  echo "postgres: installing Debian's postgresql" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi
echo "postgres: $(find_bindir)" >&2
