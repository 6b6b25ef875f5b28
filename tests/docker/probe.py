#!/usr/bin/env python3
"""Probes a running wxlink container for tests/docker/smoke.sh (Python standard library only).

  probe.py http BASE_URL TOKEN VERSION
      GET /health (no token): 200, status ok, the version; POST /mcp without the token: 401;
      with it: initialize (a 2025-06-18 session), notifications/initialized, tools/list.
  probe.py stdio VERSION DATA_VOLUME -- [docker run prefix...]
      Runs the image the way an MCP client does from server.json: `docker run -i --rm`, the
      package's runtimeArguments (its {data} variable set to DATA_VOLUME), the identifier, the
      packageArguments; then initialize and tools/list over stdin/stdout.

Prints one line per check; exits non-zero on the first failure.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PROTOCOL = "2025-06-18"


def ok(what: str) -> None:
    print(f"probe: ok  {what}", flush=True)


def fail(what: str) -> None:
    print(f"probe: FAIL {what}", file=sys.stderr, flush=True)
    sys.exit(1)


def check(cond: bool, what: str) -> None:
    ok(what) if cond else fail(what)


def request(url: str, body: Any | None, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers=headers, method="GET" if data is None else "POST")
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def rpc_result(headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """The JSON-RPC message of a Streamable HTTP answer (JSON, or one SSE `data:` event)."""
    if headers.get("content-type", "").startswith("text/event-stream"):
        for line in body.decode().splitlines():
            if line.startswith("data:") and line[5:].strip():
                return json.loads(line[5:])
        fail(f"no data event in {body[:200]!r}")
    return json.loads(body)


def http(base: str, token: str, version: str) -> None:
    status, _, body = request(f"{base}/health", None, {})
    health = json.loads(body) if status == 200 else {}
    check(status == 200 and health.get("status") == "ok", f"GET /health -> {status} {health.get('status')}")
    check(health.get("version") == version, f"/health reports version {health.get('version')}")

    mcp_headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": PROTOCOL,
            "capabilities": {},
            "clientInfo": {"name": "wxlink-docker-smoke", "version": "1"},
        },
    }
    status, _, _ = request(f"{base}/mcp", init, mcp_headers)
    check(status == 401, f"POST /mcp without the token -> {status}")

    auth = {**mcp_headers, "Authorization": f"Bearer {token}"}
    status, headers, body = request(f"{base}/mcp", init, auth)
    result = rpc_result(headers, body).get("result", {}) if status == 200 else {}
    info = result.get("serverInfo", {})
    check(status == 200 and info.get("version") == version, f"initialize -> {status} {info}")
    session = headers.get("mcp-session-id")
    if session:
        auth["Mcp-Session-Id"] = session
        auth["Mcp-Protocol-Version"] = PROTOCOL
    status, _, _ = request(f"{base}/mcp", {"jsonrpc": "2.0", "method": "notifications/initialized"}, auth)
    check(status in (200, 202), f"notifications/initialized -> {status}")
    status, headers, body = request(f"{base}/mcp", {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, auth)
    tools = [t["name"] for t in rpc_result(headers, body).get("result", {}).get("tools", [])]
    check(status == 200 and {"send", "recv", "login"} <= set(tools), f"tools/list -> {len(tools)} tools")


def stdio_argv(prefix: list[str], data: str) -> list[str]:
    server = json.loads((ROOT / "server.json").read_text(encoding="utf-8"))
    pkg = next(p for p in server["packages"] if p["registryType"] == "oci")

    def render(arg: dict[str, Any]) -> list[str]:
        value = arg.get("value", "")
        for name in re.findall(r"\{(\w+)\}", value):
            if name != "data":
                fail(f"server.json uses an unknown variable {{{name}}}")
            value = value.replace("{data}", data)
        return [arg["name"], value] if arg["type"] == "named" else [value]

    argv = [*prefix, "run", "-i", "--rm"]
    for arg in pkg.get("runtimeArguments", []):
        argv += render(arg)
    argv.append(pkg["identifier"])
    for arg in pkg.get("packageArguments", []):
        argv += render(arg)
    return argv


def stdio(version: str, data: str, prefix: list[str]) -> None:
    argv = stdio_argv(prefix or ["docker"], data)
    ok("server.json's command: " + " ".join(argv))
    messages = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": PROTOCOL,
                "capabilities": {},
                "clientInfo": {"name": "wxlink-docker-smoke", "version": "1"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
    ]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    answers: dict[int, dict[str, Any]] = {}
    try:
        for m in messages:
            proc.stdin.write((json.dumps(m) + "\n").encode())
            proc.stdin.flush()
            if "id" in m:
                line = proc.stdout.readline()
                if not line:
                    fail(f"no answer to {m['method']}: {proc.stderr.read().decode()[-2000:] if proc.poll() is not None else ''}")
                msg = json.loads(line)
                answers[msg.get("id")] = msg
        proc.stdin.close()
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    info = answers.get(1, {}).get("result", {}).get("serverInfo", {})
    check(info.get("version") == version, f"stdio initialize -> {info}")
    tools = [t["name"] for t in answers.get(2, {}).get("result", {}).get("tools", [])]
    check({"send", "recv", "login"} <= set(tools), f"stdio tools/list -> {len(tools)} tools")
    check(code == 0, f"stdio server exited {code} when stdin closed")


def main(argv: list[str]) -> None:
    if len(argv) == 4 and argv[0] == "http":
        http(argv[1], argv[2], argv[3])
    elif len(argv) >= 3 and argv[0] == "stdio":
        rest = argv[3:]
        prefix = rest[1:] if rest[:1] == ["--"] else rest
        stdio(argv[1], argv[2], prefix)
    else:
        fail("usage: probe.py http BASE TOKEN VERSION | probe.py stdio VERSION DATA [-- docker...]")


if __name__ == "__main__":
    main(sys.argv[1:])
