"""End to end over HTTP: the official MCP Python client (``mcp`` 2.x) talks to
``wxlink mcp -t http`` (one process, one port) with a bearer token, and ``wxlink sandbox`` plays
WeChat.

- Streamable HTTP on ``/mcp``, both eras: ``mode="auto"`` (stateless 2026-07-28) and
  ``mode="legacy"`` (initialize, ``Mcp-Session-Id``): tools/list, a QR login, ``recv`` of an
  injected message, ``send``.
- Legacy HTTP+SSE on ``/sse`` (``mcp.client.sse.sse_client``): the same.
- ``/health`` without a token; 401 without one on ``/mcp``, saying plainly that a bearer token
  is needed; 404 for OAuth discovery (``/.well-known/…``) and registration; a clean exit on
  SIGTERM; ``DELETE /mcp`` answered so that the client closes its session without a warning.
- The official client refused without the right token (Streamable HTTP and SSE); 403 for a
  foreign ``Origin`` and 421 for a rebound ``Host``.

Run through ``run.sh`` (it creates the venv and builds the binary).
"""

from __future__ import annotations

import json
import logging
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator

import httpx2
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from conftest import FakeControl, McpServerProcess, qr_login, run

USER = "o9cq80httptest000000000@im.wechat"
TOKEN = "e2e-bearer-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class HttpServer(McpServerProcess):
    """``wxlink mcp -t http -p 0 --token …`` on one data directory, pointed at the sandbox."""

    def __init__(self, fake: FakeControl, data_dir: Path, stderr_path: Path) -> None:
        super().__init__(fake, data_dir, stderr_path, transport="http", token=TOKEN)

    @asynccontextmanager
    async def streamable(self, mode: str = "auto") -> AsyncIterator[Client]:
        async with httpx2.AsyncClient(headers=AUTH, timeout=httpx2.Timeout(30, read=300)) as http:
            transport = streamable_http_client(f"{self.url}/mcp", http_client=http)
            async with Client(transport, mode=mode) as c:
                yield c

    @asynccontextmanager
    async def sse(self) -> AsyncIterator[Client]:
        async with Client(sse_client(f"{self.url}/sse", headers=AUTH), mode="legacy") as c:
            yield c


@pytest.fixture
def server(fake: FakeControl, tmp_path: Path, request: pytest.FixtureRequest):
    srv = HttpServer(fake, tmp_path / "data", tmp_path / "server.stderr")
    try:
        yield srv
    finally:
        code = srv.stop()
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.failed:
            import sys

            sys.stderr.write(f"\n--- wxlink mcp stderr ---\n{srv.stderr()[-4000:]}\n")
    assert code == 0, f"exit code {code} after SIGTERM"


async def call(c: Client, name: str, args: dict | None = None) -> dict:
    """Calls a tool that must succeed; returns its structured content."""
    r = await c.call_tool(name, args or {})
    assert not r.is_error, f"{name} failed: {r.content}"
    assert r.structured_content is not None, r
    assert json.loads(r.content[0].text) == r.structured_content
    return r.structured_content


async def login(c: Client, fake: FakeControl) -> None:
    await qr_login(c, fake, USER)


async def recv_and_reply(c: Client, fake: FakeControl, text: str, reply: str) -> None:
    fake.inject(from_user_id=USER, text=text)
    got = await call(c, "recv", {"timeout": 10})
    assert [(m["text"], m["user"]) for m in got["messages"]] == [(text, USER)]
    report = await call(c, "send", {"to": USER, "text": reply})
    assert report["success"] is True and report["to"] == USER


def sent_texts(fake: FakeControl) -> list[str]:
    return [s["text"] for s in fake.sent()]


def test_health_and_auth(server: HttpServer):
    health = httpx2.get(f"{server.url}/health").json()
    assert health["status"] == "ok" and health["version"]
    assert set(health) >= {"uptime", "timestamp", "connections", "sessions"}
    r = httpx2.post(f"{server.url}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert r.status_code == 401
    # Plainly a bearer token, not OAuth: no resource_metadata to discover.
    assert r.headers["www-authenticate"] == 'Bearer realm="wxlink"'
    assert "needs a bearer token" in r.json()["error"]["message"]
    assert httpx2.get(f"{server.url}/sse", headers={"Authorization": "Bearer wrong"}).status_code == 401
    # OAuth discovery finds nothing, with or without a token, so clients do not start OAuth.
    for path in (
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-authorization-server",
    ):
        assert httpx2.get(f"{server.url}{path}").status_code == 404, path
        assert httpx2.get(f"{server.url}{path}", headers=AUTH).status_code == 404, path
    reg = httpx2.post(f"{server.url}/register", json={"client_name": "x"})
    assert reg.status_code == 404 and "bearer token" in reg.json()["error_description"]


def test_closing_a_session_logs_no_warning(server: HttpServer, caplog: pytest.LogCaptureFixture):
    """The official client ends its Streamable HTTP session with DELETE /mcp: wxlink answers
    204, which it takes without a warning (it logged "Session termination failed: 202")."""

    async def body():
        async with server.streamable(mode="legacy") as c:
            await c.list_tools()

    with caplog.at_level(logging.DEBUG, logger="mcp.client.streamable_http"):
        run(body())
    complaints = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert complaints == [], complaints
    terminated = [r for r in caplog.records if "termination" in r.getMessage().lower()]
    assert not any("failed" in r.getMessage() for r in terminated), terminated


def test_streamable_http(server: HttpServer, fake: FakeControl):
    async def body():
        async with server.streamable() as c:
            assert c.server_info.name == "wxlink"
            names = {t.name for t in (await c.list_tools()).tools}
            assert {"recv", "send", "login", "sessions"} <= names
            await login(c, fake)
            await recv_and_reply(c, fake, "hello over streamable HTTP", "hi (auto)")
        # The legacy era (initialize, Mcp-Session-Id) on the same endpoint and store.
        async with server.streamable(mode="legacy") as c:
            sessions = (await call(c, "sessions"))["sessions"]
            assert [s["name"] for s in sessions] == ["default"]
            await recv_and_reply(c, fake, "hello over a legacy session", "hi (legacy)")
        health = httpx2.get(f"{server.url}/health").json()
        assert [(s["name"], s["connected"]) for s in health["sessions"]] == [("default", True)]

    run(body())
    assert sent_texts(fake) == ["hi (auto)", "hi (legacy)"]


def test_legacy_sse(server: HttpServer, fake: FakeControl):
    async def body():
        async with server.sse() as c:
            names = {t.name for t in (await c.list_tools()).tools}
            assert {"recv", "send", "login", "sessions"} <= names
            await login(c, fake)
            health = httpx2.get(f"{server.url}/health").json()
            assert health["connections"] >= 1, health
            await recv_and_reply(c, fake, "hello over SSE", "hi (sse)")

    run(body())
    assert sent_texts(fake) == ["hi (sse)"]


def _chain(e: BaseException) -> str:
    """Every message in an exception, its causes and (for groups) its members."""
    out = [repr(e)]
    for sub in getattr(e, "exceptions", ()) or ():
        out.append(_chain(sub))
    if e.__cause__ is not None:
        out.append(_chain(e.__cause__))
    if e.__context__ is not None and e.__context__ is not e.__cause__:
        out.append(_chain(e.__context__))
    return " | ".join(out)


def test_the_official_client_is_refused_without_the_right_token(server: HttpServer):
    async def connect_streamable(headers: dict[str, str]) -> None:
        async with httpx2.AsyncClient(headers=headers, timeout=10) as http:
            transport = streamable_http_client(f"{server.url}/mcp", http_client=http)
            async with Client(transport, mode="legacy") as c:
                await c.list_tools()

    async def connect_sse(headers: dict[str, str]) -> None:
        async with Client(sse_client(f"{server.url}/sse", headers=headers), mode="legacy") as c:
            await c.list_tools()

    for attempt, headers in [
        (connect_streamable, {"Authorization": "Bearer wrong"}),
        (connect_streamable, {}),
        (connect_sse, {"Authorization": "Bearer wrong"}),
        (connect_sse, {}),
    ]:
        # The client surfaces the 401 as an error response (mcp 2.3 keeps no status code).
        with pytest.raises(BaseException) as caught:
            run(attempt(headers))
        chain = _chain(caught.value)
        assert "MCPError" in chain or "401" in chain, chain
        # The same connection with the right token works: the token was the only difference.
        run(attempt(AUTH))


def test_dns_rebinding_and_cross_origin_requests_are_refused(server: HttpServer):
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    accept = {"Accept": "application/json, text/event-stream"}
    port = server.url.rsplit(":", 1)[1]
    # A page on another origin that the browser lets post to localhost: 403.
    r = httpx2.post(f"{server.url}/mcp", json=ping, headers={**AUTH, **accept, "Origin": "http://evil.example"})
    assert r.status_code == 403, r.text
    # A rebound DNS name pointing at 127.0.0.1: the Host header gives it away, 421.
    r = httpx2.post(f"{server.url}/mcp", json=ping, headers={**AUTH, **accept, "Host": f"evil.example:{port}"})
    assert r.status_code == 421, r.text
    # The same checks guard the legacy SSE endpoints.
    r = httpx2.get(f"{server.url}/sse", headers={**AUTH, "Origin": "http://evil.example"})
    assert r.status_code == 403, r.text
    r = httpx2.post(f"{server.url}/messages?sessionId=x", json=ping)
    assert r.status_code == 401, r.text
    # A loopback origin with the token is fine.
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "origin-test", "version": "1"},
        },
    }
    r = httpx2.post(f"{server.url}/mcp", json=init, headers={**AUTH, **accept, "Origin": f"http://127.0.0.1:{port}"})
    assert r.status_code == 200, r.text
