#!/usr/bin/env bash
# The project's whole test suite, as README.md documents it:
#   0. npm ci of tests/wechaty-peer — the Wechaty Puppet Service the wechaty crate's tests start;
#      tests/postgres/install.sh — Debian's postgresql, which crates/pg-testserver starts (initdb +
#      pg_ctl in a temporary directory on a loopback port) for the tests that need a real server,
#      and haproxy, which tests/replicas.rs puts in front of three replicas;
#   1. cargo test --workspace — unit tests, the store contract suite on SQLite and PostgreSQL,
#      ilink against the fake over real sockets, the CLI, the wechaty client against the peer,
#      replicas on one PostgreSQL (failover, wake-ups, the proxy), migrate-store;
#   2. tests/soak/run.sh — bench/soak.py with 20 SIGKILLs of `wxlink mcp -t http` while
#      messages stream in, sends are in flight and the fake injects faults: no inbound message
#      lost or twice for any consumer, and (unless SOAK_REQUIRE_SENDS_ACCOUNTED=0) every send
#      the fake accepted is in `history`;
#   3. tests/interop/run.sh — the real WeiLink 0.6.2 SDK (from PyPI, in a venv this creates)
#      against the fake, proving the fake speaks the real protocol;
#   4. tests/mcp/run.sh — the official MCP Python client (in its own venv) against `wxlink mcp`
#      over stdio, with the fake playing WeChat;
#   5. tests/conformance/run.sh — the official MCP conformance suite (npm, with the Node 22 it
#      needs, pinned in tests/conformance/package-lock.json) against wxlink's MCP server over
#      Streamable HTTP with the suite's fixtures around it (crates/wxlink-conformance), for spec
#      2025-11-25 and 2026-07-28; every check must pass;
#   6. tests/browser/run.sh — the admin panel in real headless Chromium (Debian's chromium and
#      chromium-driver, installed when missing) over WebDriver (Selenium, in its own venv),
#      against `wxlink serve` and the sandbox; screenshots in target/browser-artifacts/;
#   7. tests/agents/run.sh — the real agents read what `wxlink setup` wrote: Claude Code, Codex
#      and OpenCode (npm, exact versions pinned in tests/agents/package-lock.json, with Node 22)
#      in a temporary HOME with the sandbox — `claude mcp list` and `opencode mcp list` show
#      wxlink connected, Codex's app-server lists its tools, its hook and its approval mode;
#      after `--uninstall` none of them sees wxlink.
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci --prefix tests/wechaty-peer --no-audit --no-fund --loglevel=error
bash tests/postgres/install.sh
cargo test --workspace --locked
bash tests/soak/run.sh
bash tests/interop/run.sh
bash tests/mcp/run.sh
bash tests/conformance/run.sh
cargo build -p wxlink --locked
bash tests/browser/run.sh
bash tests/agents/run.sh
