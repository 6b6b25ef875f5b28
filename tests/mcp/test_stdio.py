"""End to end: the official MCP Python client (``mcp`` 2.x) talks to ``wxlink mcp`` over stdio,
and ``wxlink sandbox`` plays WeChat (QR login, users writing, the CDN, what the bot sent).

Both protocol eras are exercised: ``mode="auto"`` negotiates 2026-07-28 (``server/discover``,
``subscriptions/listen``); ``mode="legacy"`` the initialize handshake (2025-11-25, with
``resources/subscribe``). Run through ``run.sh`` (it creates the venv and builds the binary).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import time
import warnings
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.subscriptions import ResourcesListChanged, ResourceUpdated

from conftest import FakeControl, Wxlink, qr_login, run

USER = "o9cq80mcptest0000000000@im.wechat"
STRANGER = "o9cq80stranger000000000@im.wechat"

TOOLS = {
    "recv",
    "send",
    "download",
    "history",
    "sessions",
    "login",
    "logout",
    "rename_session",
    "set_default",
    "typing",
    "contacts",
}
# WeiLink's nine tools (same names, parameters and defaults) plus typing and contacts: what a
# server without a Wechaty session lists. The Wechaty-MCP-SSE tools join them once a Wechaty
# session exists (test_wechaty.py), and always with `--tools all`.
STANDARD_FORMATS = {
    "date-time", "date", "time", "duration", "email", "idn-email", "hostname", "idn-hostname",
    "ipv4", "ipv6", "uri", "uri-reference", "iri", "iri-reference", "uuid", "uri-template",
    "json-pointer", "relative-json-pointer", "regex",
}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


async def call(c: Client, name: str, args: dict | None = None, **kw: Any) -> dict:
    """Calls a tool that must succeed; returns its structured content."""
    r = await c.call_tool(name, args or {}, **kw)
    assert not r.is_error, f"{name} failed: {r.content}"
    assert r.structured_content is not None, r
    # The text copy holds the same JSON.
    assert json.loads(r.content[0].text) == r.structured_content
    return r.structured_content


async def call_error(c: Client, name: str, args: dict | None = None) -> str:
    """Calls a tool that must fail with a tool error; returns its text."""
    r = await c.call_tool(name, args or {})
    assert r.is_error, f"{name} unexpectedly succeeded: {r.structured_content}"
    return " ".join(getattr(b, "text", "") for b in r.content)


async def login(c: Client, fake: FakeControl, user: str = USER, session: str = "") -> dict:
    """Logs in through the QR flow (the fake confirms as `user`)."""
    return await qr_login(c, fake, user, session)


async def wait_stored(c: Client, text: str, timeout: float = 10.0) -> dict:
    """Waits until a message containing `text` is in the store (via `history`)."""
    deadline = time.monotonic() + timeout
    while True:
        page = await call(c, "history", {"text_contains": text})
        if page["messages"]:
            return page["messages"][0]
        assert time.monotonic() < deadline, f"{text!r} never stored"
        await anyio.sleep(0.05)


def wait_requests(fake: FakeControl, endpoint: str, count: int, timeout: float = 10.0) -> list:
    reqs = fake.wait_for_requests(endpoint, count, timeout)
    assert len(reqs) >= count, f"{endpoint}: {len(reqs)} requests, wanted {count}"
    return reqs


# ---------------------------------------------------------------------------------------------
# discovery: tools, schemas, annotations, instructions
# ---------------------------------------------------------------------------------------------


def test_tools_have_schemas_and_annotations(wx: Wxlink):
    async def body():
        async with wx.client() as c:
            assert c.protocol_version == "2026-07-28"
            assert c.server_info.name == "wxlink"
            assert c.server_info.version
            tools = {t.name: t for t in (await c.list_tools()).tools}
        assert set(tools) == TOOLS
        for t in tools.values():
            assert t.description and len(t.description) > 40, t.name
            assert t.input_schema["type"] == "object", t.name
            assert t.output_schema and t.output_schema["type"] == "object", t.name
            assert t.title, t.name
            assert t.annotations is not None, t.name
        ann = {n: t.annotations for n, t in tools.items()}
        for name in ("history", "sessions", "contacts"):
            assert ann[name].read_only_hint is True, name
        for name in ("recv", "send", "download", "login", "logout", "typing"):
            assert ann[name].read_only_hint is False, name
        assert ann["logout"].destructive_hint is True
        assert ann["send"].destructive_hint is False
        for name in ("send", "typing", "login", "download"):
            assert ann[name].open_world_hint is True, name

        # WeiLink's parameter names and defaults.
        props = {n: t.input_schema.get("properties", {}) for n, t in tools.items()}
        assert props["recv"]["timeout"]["default"] == 5.0
        assert set(props["send"]) >= {
            "to", "text", "image_path", "file_path", "file_name", "video_path", "voice_path"
        }
        assert tools["send"].input_schema["required"] == ["to"]
        # Optional strings: left out means "not given" (WeiLink's default ""), so the schema
        # spends no bytes on an empty default.
        assert "text" not in tools["send"].input_schema["required"]
        assert props["send"]["text"]["type"] == "string"
        assert props["download"]["save_dir"].get("default", "") == ""
        assert props["history"]["limit"]["default"] == 50
        assert props["history"]["offset"]["default"] == 0
        for key in ("user_id", "bot_id", "msg_type", "direction", "since", "until", "text_contains"):
            assert props["history"][key].get("default", "") == "", key
            assert key not in tools["history"].input_schema.get("required", []), key
        assert props["login"]["timeout"]["default"] == 30.0
        assert props["login"]["force"]["default"] is False
        assert "session_name" not in tools["login"].input_schema.get("required", [])
        assert "session_name" not in tools["logout"].input_schema.get("required", [])
        assert set(tools["rename_session"].input_schema["required"]) == {"old_name", "new_name"}
        assert tools["set_default"].input_schema["required"] == ["session_name"]
        assert props["typing"]["on"]["default"] is True

    run(body())


def _schema_problems(node: Any, at: str = "#") -> list[str]:
    """What a strict client (ajv, the Inspector's --strict) reports in a schema."""
    out: list[str] = []
    if isinstance(node, dict):
        for k, v in node.items():
            here = f"{at}/{k}"
            if k == "format" and isinstance(v, str) and v not in STANDARD_FORMATS:
                out.append(f"{here}: format {v!r}")
            if k == "type" and isinstance(v, list):
                out.append(f"{here}: a type array {v}")
            if k == "description" and isinstance(v, str) and "\n" in v:
                out.append(f"{here}: a line break")
            if k == "$schema":
                out.append(f"{here}: $schema")
            if k not in ("default", "examples", "const", "enum"):
                out += _schema_problems(v, here)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _schema_problems(v, f"{at}/{i}")
    return out


def test_every_schema_is_portable(wx: Wxlink):
    """Every tool (`--tools all`): only standard JSON Schema formats, nullable values as
    `anyOf`, descriptions on one line — what the TypeScript SDK and the Inspector's --strict
    accept without a warning."""

    async def body():
        async with wx.client(extra=("--tools", "all")) as c:
            tools = (await c.list_tools()).tools
        assert len(tools) == len(TOOLS) + 9
        for t in tools:
            assert "\n" not in (t.description or ""), t.name
            for which, schema in (("input", t.input_schema), ("output", t.output_schema)):
                assert _schema_problems(schema or {}) == [], (t.name, which)

    run(body())


def test_the_default_tool_list_is_lean(wx: Wxlink):
    """Clients send tools/list with every request: the default list stays under 20 KB."""
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}},
    }
    lines, code, _ = _raw_session(
        wx, [init, {"jsonrpc": "2.0", "method": "notifications/initialized"}, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}]
    )
    assert code == 0, wx.stderr()
    reply = next(json.loads(line) for line in lines if json.loads(line).get("id") == 2)
    size = len(json.dumps(reply["result"], ensure_ascii=False, separators=(",", ":")).encode())
    assert {t["name"] for t in reply["result"]["tools"]} == TOOLS
    assert size <= 20_000, f"tools/list is {size} bytes"


def test_instructions_and_resources_are_advertised(wx: Wxlink):
    async def body():
        async with wx.client(mode="legacy") as c:
            assert c.protocol_version == "2025-11-25"
            text = c.instructions or ""
            caps = c.server_capabilities
            resources = (await c.list_resources()).resources
            templates = (await c.list_resource_templates()).resource_templates
        for word in ("login", "recv", "send", "10 replies", "16 KiB", "QR"):
            assert word in text, word
        assert caps.tools is not None and caps.tools.list_changed is True
        assert caps.resources is not None and caps.resources.subscribe is True
        assert caps.resources.list_changed is True
        assert [str(r.uri) for r in resources] == ["wxlink://inbox"]
        assert [t.uri_template for t in templates] == ["wxlink://conversation/{user_id}"]

    run(body())


# ---------------------------------------------------------------------------------------------
# login
# ---------------------------------------------------------------------------------------------


def test_login_through_the_qr_flow(wx: Wxlink, fake: FakeControl):
    fake.qr_script("wait", "wait", "scaned", {"status": "confirmed", "user_id": USER})
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(p: float, total: float | None, message: str | None) -> None:
        progress.append((p, total, message))

    async def body():
        async with wx.client() as c:
            r = await c.call_tool("login", {})
            assert not r.is_error, r.content
            first = r.structured_content
            assert first["status"] == "pending"
            assert first["session"] == "default"
            assert first["qr_url"].startswith(fake.base_url)
            assert "scan" in first["message"]
            images = [b for b in r.content if b.type == "image"]
            assert len(images) == 1 and images[0].mime_type == "image/png"
            png = base64.b64decode(images[0].data)
            assert png.startswith(PNG_MAGIC) and png[12:16] == b"IHDR"
            width = int.from_bytes(png[16:20], "big")
            assert 200 <= width <= 400 and png[16:20] == png[20:24]

            statuses = []
            out: dict = {}
            for _ in range(10):
                out = await call(c, "login", {"timeout": 10}, progress_callback=on_progress)
                statuses.append(out["status"])
                if out["status"] == "confirmed":
                    break
            assert statuses[-1] == "confirmed", statuses
            bots = fake.bots()
            assert out["bot_id"] == bots[0]["bot_id"] and out["user_id"] == USER
            sessions = (await call(c, "sessions"))["sessions"]
            assert [(s["name"], s["status"], s["default"]) for s in sessions] == [
                ("default", "connected", True)
            ]
            # Polling starts by itself on the new session.
            wait_requests(fake, "notifystart", 1)

            again = await call(c, "login", {})
            assert again["status"] == "already_logged_in" and "force" in again["message"]

        # Progress was reported while waiting, with the call's timeout as the total.
        assert progress, "no progress notifications"
        assert all(total == 10.0 for _, total, _ in progress)
        assert [p for p, _, _ in progress] == sorted(p for p, _, _ in progress)
        assert any(m and "scan" in m.lower() for _, _, m in progress)

    run(body())


def test_login_expired_qr_gives_a_new_one(wx: Wxlink, fake: FakeControl):
    # The first code expires after one long-poll, not at once: an immediate expiry could renew
    # it before the first call looked, which then showed the second code (seen on a slow run).
    fake.qr_script("wait", "expired")
    # The login goes on between calls: the new code waits (as a person would take a moment to
    # scan it) so the next call sees it before the confirmation.
    fake.qr_script("wait", "wait", "wait", {"status": "confirmed", "user_id": USER})

    async def body():
        async with wx.client() as c:
            first = await call(c, "login", {"session_name": "work"})
            r = await c.call_tool("login", {"timeout": 10})
            renewed = r.structured_content
            assert renewed["status"] == "expired", renewed
            assert renewed["qr_url"] != first["qr_url"]
            assert any(b.type == "image" for b in r.content)
            done = await call(c, "login", {"timeout": 10})
            assert done["status"] == "confirmed" and done["session"] == "work"

    run(body())


def test_login_with_verify_code(wx: Wxlink, fake: FakeControl):
    fake.qr_script(
        "scaned",
        {"status": "need_verifycode", "verify_code": "424242"},
        {"status": "confirmed", "user_id": USER},
    )

    async def body():
        async with wx.client() as c:
            await call(c, "login", {})
            need = await call(c, "login", {"timeout": 10})
            assert need["status"] == "need_verifycode", need
            assert "verify_code" in need["message"]
            wrong = await call(c, "login", {"timeout": 10, "verify_code": "000000"})
            assert wrong["status"] == "need_verifycode"
            assert "not accepted" in wrong["message"]
            ok = await call(c, "login", {"timeout": 10, "verify_code": "424242"})
            assert ok["status"] == "confirmed", ok

    run(body())


def test_login_already_bound(wx: Wxlink, fake: FakeControl):
    # A first poll that waits (as a phone takes a while to scan): the login runs in the
    # background, and without it could end before the first call has shown the QR code.
    fake.qr_script("wait", "binded_redirect")

    async def body():
        async with wx.client() as c:
            await call(c, "login", {})
            out = await call(c, "login", {"timeout": 10})
            assert out["status"] == "already_bound", out
            assert (await call(c, "sessions"))["sessions"] == []

    run(body())


# ---------------------------------------------------------------------------------------------
# receive, reply, download, search
# ---------------------------------------------------------------------------------------------


def test_recv_returns_at_once_and_reply_goes_out(wx: Wxlink, fake: FakeControl, tmp_path: Path):
    attachment = tmp_path / "report.pdf"
    attachment.write_bytes(b"%PDF-1.4 wxlink " * 500)

    async def body():
        async with wx.client() as c:
            await login(c, fake)
            # Nothing yet: the wait is the timeout, not more.
            t0 = time.monotonic()
            assert (await call(c, "recv", {"timeout": 0.5}))["messages"] == []
            assert time.monotonic() - t0 < 3

            async def inject_later():
                await anyio.sleep(0.3)
                # A waiting recv does not hold up other calls.
                t = time.monotonic()
                await call(c, "sessions")
                assert time.monotonic() - t < 2
                fake.inject(from_user_id=USER, text="你好，在吗？")

            async with anyio.create_task_group() as tg:
                tg.start_soon(inject_later)
                t0 = time.monotonic()
                got = await call(c, "recv", {"timeout": 60})
                elapsed = time.monotonic() - t0
            assert elapsed < 10, f"recv took {elapsed:.1f} s for a 60 s timeout"
            [m] = got["messages"]
            assert m["text"] == "你好，在吗？" and m["user"] == USER
            assert m["direction"] == "in" and m["type"] == "text" and m["session"] == "default"
            assert (await call(c, "recv", {"timeout": 0}))["messages"] == []

            report = await call(
                c,
                "send",
                {"to": m["user"], "text": "收到", "file_path": str(attachment), "file_name": "r.pdf"},
            )
            assert report["success"] is True and report["to"] == USER
            assert [i["type"] for i in report["sent"]] == ["text", "file"]
            assert report["quota_left"] == 8

            contacts = (await call(c, "contacts"))["contacts"]
            assert [(x["user"], x["sends_left"], x["stale"]) for x in contacts] == [(USER, 8, False)]

        sent = fake.sent()
        assert [s["item_type"] for s in sent] == [1, 4]
        assert sent[0]["text"] == "收到" and sent[0]["to_user_id"] == USER
        assert sent[1]["media_decrypts"] is True
        assert sent[1]["media_md5"] == hashlib.md5(attachment.read_bytes()).hexdigest()
        assert sent[1]["msg"]["item_list"][0]["file_item"]["file_name"] == "r.pdf"

    run(body())


def test_download_writes_the_right_bytes(wx: Wxlink, fake: FakeControl, tmp_path: Path):
    picture = bytes(range(256)) * 40

    async def body():
        async with wx.client() as c:
            await login(c, fake)
            fake.inject(
                from_user_id=USER,
                items=[{"kind": "image", "data_base64": base64.b64encode(picture).decode()}],
            )
            [m] = (await call(c, "recv", {"timeout": 10}))["messages"]
            assert m["type"] == "image"
            out_dir = tmp_path / "saved"
            files = (await call(c, "download", {"message_id": m["id"], "save_dir": str(out_dir)}))[
                "files"
            ]
            assert len(files) == 1 and files[0]["type"] == "image"
            path = Path(files[0]["path"])
            assert path.parent == out_dir and path.read_bytes() == picture
            assert files[0]["size"] == len(picture)
            # Default directory: the data directory's media/; never the same file twice.
            again = (await call(c, "download", {"message_id": m["id"]}))["files"]
            assert Path(again[0]["path"]).parent == wx.data_dir / "media"
            assert Path(again[0]["path"]).read_bytes() == picture
            err = await call_error(c, "download", {"message_id": "999999"})
            assert "no stored message" in err

    run(body())


def test_history_finds_chinese_inside_sentences(wx: Wxlink, fake: FakeControl):
    async def body():
        async with wx.client() as c:
            out = await login(c, fake)
            fake.inject(from_user_id=USER, text="我们明天下午开会讨论预算")
            fake.inject(from_user_id=USER, text="Budget meeting moved to Friday")
            await wait_stored(c, "Friday")
            await wait_stored(c, "预算")

            page = await call(c, "history", {"text_contains": "下午开会"})
            assert page["total"] == 1 and page["limit"] == 50 and page["offset"] == 0
            assert page["messages"][0]["text"] == "我们明天下午开会讨论预算"

            page = await call(
                c,
                "history",
                {"msg_type": "TEXT", "direction": "received", "user_id": USER, "bot_id": out["bot_id"]},
            )
            assert page["total"] == 2 and "note" not in page
            # Newest first, paged.
            page2 = await call(c, "history", {"limit": 1, "offset": 1})
            assert page2["total"] == 2 and page2["messages"][0]["text"] == "我们明天下午开会讨论预算"
            assert (await call(c, "history", {"direction": "sent"}))["total"] == 0
            assert (await call(c, "history", {"since": "2999-01-01"}))["total"] == 0
            nobody = await call(c, "history", {"bot_id": "nobody@im.bot"})
            assert nobody["total"] == 0 and "no session has bot id" in nobody["note"]
            bad = await call_error(c, "history", {"msg_type": "sticker"})
            assert "unknown message type" in bad
            bad = await call_error(c, "history", {"since": "last week"})
            assert "ISO 8601" in bad

    run(body())


def test_two_consumers_each_see_every_message(wx: Wxlink, fake: FakeControl):
    async def body():
        async with wx.client() as c:
            await login(c, fake)
            for consumer in ("agent-a", "agent-b"):  # register both read positions
                assert (await call(c, "recv", {"timeout": 0, "consumer": consumer}))["messages"] == []
            fake.inject(from_user_id=USER, text="one")
            fake.inject(from_user_id=USER, text="two")
            await wait_stored(c, "two")
            for consumer in ("agent-a", "agent-b"):
                got = await call(c, "recv", {"timeout": 5, "consumer": consumer})
                assert [m["text"] for m in got["messages"]] == ["one", "two"], consumer
                assert (await call(c, "recv", {"timeout": 0, "consumer": consumer}))[
                    "messages"
                ] == []

    run(body())


def test_unread_message_survives_a_restart(wx: Wxlink, fake: FakeControl):
    async def body():
        async with wx.client() as c:
            await login(c, fake)
            fake.inject(from_user_id=USER, text="read me after the restart")
            await wait_stored(c, "restart")
        async with wx.client() as c:
            got = await call(c, "recv", {"timeout": 5})
            assert [m["text"] for m in got["messages"]] == ["read me after the restart"]
            # And it can still be answered after the restart.
            report = await call(c, "send", {"to": USER, "text": "got it"})
            assert report["success"] is True

    run(body())


def test_typing(wx: Wxlink, fake: FakeControl):
    async def body():
        async with wx.client() as c:
            await login(c, fake)
            fake.inject(from_user_id=USER, text="are you there?")
            await wait_stored(c, "there")
            on = await call(c, "typing", {"to": USER})
            assert on == {"success": True, "session": "default", "to": USER, "on": True}
            off = await call(c, "typing", {"to": USER, "on": False})
            assert off["on"] is False
            err = await call_error(c, "typing", {"to": STRANGER})
            assert "no context token" in err
        typing = fake.typing()
        assert [t["status"] for t in typing] == [1, 2], typing
        # The ticket is fetched once and reused.
        assert len(fake.requests("getconfig")) == 1

    run(body())


# ---------------------------------------------------------------------------------------------
# sessions management
# ---------------------------------------------------------------------------------------------


def test_rename_default_and_logout(wx: Wxlink, fake: FakeControl):
    async def body():
        async with wx.client() as c:
            await login(c, fake)
            await login(c, fake, user="o9cq80second00000000000@im.wechat", session="home")
            renamed = await call(c, "rename_session", {"old_name": "default", "new_name": "work"})
            assert renamed == {"success": True, "old_name": "default", "new_name": "work"}
            assert (await call(c, "set_default", {"session_name": "home"})) == {
                "success": True,
                "default_session": "home",
            }
            sessions = {s["name"]: s for s in (await call(c, "sessions"))["sessions"]}
            assert set(sessions) == {"work", "home"} and sessions["home"]["default"] is True
            out = await call(c, "logout", {})
            assert out == {"success": True, "session": "home"}
            sessions = {s["name"]: s for s in (await call(c, "sessions"))["sessions"]}
            assert sessions["home"]["status"] == "logged_out"
            assert sessions["work"]["status"] == "connected"

            err = await call_error(c, "logout", {"session_name": "nope"})
            assert "no session named \"nope\"" in err and "`sessions`" in err
            err = await call_error(c, "rename_session", {"old_name": "nope", "new_name": "x"})
            assert "no session named" in err
            err = await call_error(c, "set_default", {"session_name": "nope"})
            assert "no session named" in err

    run(body())


# ---------------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------------


def test_errors_tell_the_agent_what_to_do(wx: Wxlink, fake: FakeControl, tmp_path: Path):
    async def body():
        async with wx.client() as c:
            err = await call_error(c, "recv", {"timeout": 0})
            assert "log in first" in err and "`login`" in err
            err = await call_error(c, "send", {"to": USER, "text": "hi"})
            assert "`login`" in err

            await login(c, fake)
            err = await call_error(c, "send", {"to": STRANGER, "text": "hi"})
            assert "has not written" in err and "no context token" in err

            fake.inject(from_user_id=USER, text="hello")
            await wait_stored(c, "hello")
            missing = tmp_path / "missing.png"
            err = await call_error(c, "send", {"to": USER, "text": "hi", "image_path": str(missing)})
            assert f"file not found: {missing}" in err
            err = await call_error(c, "send", {"to": USER, "text": "x" * (16 * 1024 + 1)})
            assert "16384" in err and "split" in err
            err = await call_error(c, "send", {"to": USER})
            assert "nothing to send" in err
            # Nothing of the refused sends went out.
            assert fake.sent() == []
            r = await c.call_tool("recv", {"timeout": "soon"})
            assert r.is_error

            # Quota: 10 replies per inbound message, refused before sending the 11th.
            for i in range(10):
                await call(c, "send", {"to": USER, "text": f"reply {i}"})
            err = await call_error(c, "send", {"to": USER, "text": "one too many"})
            assert "quota" in err and "writes again" in err
            assert len(fake.sent()) == 10

            with pytest.raises(Exception) as exc:
                await c.read_resource("wxlink://nowhere")
            assert "unknown resource" in str(exc.value)

    run(body())


# ---------------------------------------------------------------------------------------------
# resources and subscriptions
# ---------------------------------------------------------------------------------------------


def test_resources_and_legacy_subscription(wx: Wxlink, fake: FakeControl):
    updates: list[str] = []
    got_update = anyio.Event()

    async def handler(message: Any) -> None:
        root = getattr(message, "root", message)
        params = getattr(root, "params", None)
        if getattr(root, "method", None) == "notifications/resources/updated" and params:
            updates.append(str(params.uri))
            got_update.set()

    async def body():
        async with wx.client(mode="legacy", message_handler=handler) as c:
            await login(c, fake)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                await c.subscribe_resource("wxlink://inbox")
            fake.inject(from_user_id=USER, text="subscribed hello")
            with anyio.fail_after(10):
                await got_update.wait()
            assert updates[0] == "wxlink://inbox"

            inbox = await c.read_resource("wxlink://inbox")
            body = json.loads(inbox.contents[0].text)
            assert inbox.contents[0].mime_type == "application/json"
            assert [m["text"] for m in body["messages"]] == ["subscribed hello"]

            resources = [str(r.uri) for r in (await c.list_resources()).resources]
            conv = f"wxlink://conversation/{USER}"
            assert resources == ["wxlink://inbox", conv]
            await call(c, "send", {"to": USER, "text": "reply in the conversation"})
            convo = json.loads((await c.read_resource(conv)).contents[0].text)
            assert [(m["direction"], m["text"]) for m in convo["messages"]] == [
                ("out", "reply in the conversation"),
                ("in", "subscribed hello"),
            ]

    run(body())


def test_listen_subscription_2026(wx: Wxlink, fake: FakeControl):
    conv = f"wxlink://conversation/{USER}"

    async def body():
        async with wx.client() as c:
            assert c.protocol_version == "2026-07-28"
            await login(c, fake)
            async with c.listen(resource_subscriptions=[conv, "wxlink://nowhere"]) as sub:
                assert set(sub.honored.resource_subscriptions or []) == {conv}
                fake.inject(from_user_id=USER, text="listen hello")
                with anyio.fail_after(10):
                    async for event in sub:
                        assert isinstance(event, ResourceUpdated)
                        assert event.uri == conv
                        break
            convo = json.loads((await c.read_resource(conv)).contents[0].text)
            assert convo["messages"][0]["text"] == "listen hello"

    run(body())


def test_new_conversations_are_announced(wx: Wxlink, fake: FakeControl):
    """A user writing for the first time adds a conversation resource: announced with
    notifications/resources/list_changed, to a 2026-07-28 listener that asked for it and on a
    legacy session's stream."""

    async def modern():
        async with wx.client() as c:
            await login(c, fake)
            assert [str(r.uri) for r in (await c.list_resources()).resources] == ["wxlink://inbox"]
            async with c.listen(resources_list_changed=True) as sub:
                assert sub.honored.resources_list_changed
                fake.inject(from_user_id=USER, text="hello, new here")
                with anyio.fail_after(10):
                    async for event in sub:
                        assert isinstance(event, ResourcesListChanged), event
                        break
            uris = [str(r.uri) for r in (await c.list_resources()).resources]
            assert uris == ["wxlink://inbox", f"wxlink://conversation/{USER}"]

    run(modern())

    changed = anyio.Event()

    async def handler(message: Any) -> None:
        root = getattr(message, "root", message)
        if getattr(root, "method", None) == "notifications/resources/list_changed":
            changed.set()

    async def legacy():
        async with wx.client(mode="legacy", message_handler=handler) as c:
            assert c.server_capabilities.resources.list_changed is True
            fake.inject(from_user_id=STRANGER, text="me too")
            with anyio.fail_after(10):
                await changed.wait()
            uris = [str(r.uri) for r in (await c.list_resources()).resources]
            assert f"wxlink://conversation/{STRANGER}" in uris, uris

    run(legacy())


# ---------------------------------------------------------------------------------------------
# the process: stdout purity, start-up without network, clean shutdown
# ---------------------------------------------------------------------------------------------


def _raw_session(wx: Wxlink, requests: list[dict], extra_lines: list[str] = ()) -> tuple[list[str], int, float]:
    """Runs `wxlink mcp` with raw JSON-RPC lines on stdin; returns stdout lines, exit code and
    the time from stdin EOF to exit."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/"), "NO_PROXY": "*"}
    with open(wx.stderr_path, "ab") as err:
        proc = subprocess.Popen(
            wx.argv(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, env=env
        )
    payload = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in requests)
    payload += "".join(line + "\n" for line in extra_lines)
    assert proc.stdin and proc.stdout
    proc.stdin.write(payload.encode())
    proc.stdin.flush()
    # Let the calls finish before closing stdin.
    time.sleep(1.0)
    closed_at = time.monotonic()
    proc.stdin.close()
    code = proc.wait(timeout=15)
    exit_after = time.monotonic() - closed_at
    out = proc.stdout.read().decode()
    proc.stdout.close()
    return out.splitlines(), code, exit_after


def test_stdout_is_only_json_rpc(wx: Wxlink):
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "raw", "version": "0"},
        },
    }
    requests = [
        init,
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "sessions", "arguments": {}}},
        {"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "history", "arguments": {"text_contains": "中文"}}},
        {"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "recv", "arguments": {"timeout": 0}}},
        {"jsonrpc": "2.0", "id": 6, "method": "resources/read", "params": {"uri": "wxlink://inbox"}},
        {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "no_such_tool", "arguments": {}}},
    ]
    lines, code, exit_after = _raw_session(wx, requests, ["this is not json"])
    assert code == 0, wx.stderr()
    assert exit_after < 5, f"took {exit_after:.1f} s to exit after stdin EOF"
    assert lines, "no output"
    ids = set()
    for line in lines:
        msg = json.loads(line)  # every line is JSON…
        assert msg.get("jsonrpc") == "2.0", line  # …and JSON-RPC
        if "id" in msg:
            ids.add(msg["id"])
    assert {1, 2, 3, 4, 5, 6, 7} <= ids
    assert "wxlink" in wx.stderr()  # the banner went to stderr


def test_starts_without_network_and_stops_polling_cleanly(wx: Wxlink, fake: FakeControl):
    async def first_run():
        async with wx.client() as c:
            await login(c, fake)
            wait_requests(fake, "notifystart", 1)
        # Closing stdin stopped the poller cleanly.
        wait_requests(fake, "notifystop", 1, timeout=5)

    run(first_run())

    # Start again, but say nothing: no request may reach iLink before the first MCP request.
    before = len(fake.requests())
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/"), "NO_PROXY": "*"}
    with open(wx.stderr_path, "ab") as err:
        proc = subprocess.Popen(
            wx.argv("--no-banner"), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, env=env
        )
    try:
        time.sleep(1.0)
        assert len(fake.requests()) == before, fake.requests()[before:]
        assert proc.stdin and proc.stdout
        t0 = time.monotonic()
        proc.stdin.write(
            (
                json.dumps(
                    {
                        "jsonrpc": "2.0",
                        "id": 1,
                        "method": "initialize",
                        "params": {
                            "protocolVersion": "2025-06-18",
                            "capabilities": {},
                            "clientInfo": {"name": "raw", "version": "0"},
                        },
                    }
                )
                + "\n"
            ).encode()
        )
        proc.stdin.flush()
        reply = json.loads(proc.stdout.readline())
        startup = time.monotonic() - t0
        assert reply["id"] == 1 and reply["result"]["serverInfo"]["name"] == "wxlink"
        assert reply["result"]["protocolVersion"] == "2025-06-18"
        assert startup < 2.0, f"initialize took {startup:.2f} s"
        # Now the pollers run.
        wait_requests(fake, "notifystart", 2)
        proc.stdin.close()
        assert proc.wait(timeout=10) == 0
        wait_requests(fake, "notifystop", 2, timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()


def test_expired_session_is_reported(wx: Wxlink, fake: FakeControl):
    async def body():
        async with wx.client() as c:
            out = await login(c, fake)
            fake.inject(from_user_id=USER, text="before expiry")
            await wait_stored(c, "expiry")
            fake.expire(out["bot_id"])
            deadline = time.monotonic() + 10
            while (await call(c, "sessions"))["sessions"][0]["status"] != "expired":
                assert time.monotonic() < deadline, "session never marked expired"
                await anyio.sleep(0.05)
            # Unread messages are still handed out…
            got = await call(c, "recv", {"timeout": 30})
            assert [m["text"] for m in got["messages"]] == ["before expiry"]
            # …then recv says what to do instead of waiting for nothing.
            t0 = time.monotonic()
            err = await call_error(c, "recv", {"timeout": 30})
            assert time.monotonic() - t0 < 5
            assert "expired" in err and "`login`" in err and "force=true" in err
            err = await call_error(c, "send", {"to": USER, "text": "hi"})
            assert "`login`" in err
            # force=true logs the expired session in again under the same name.
            again = await login(c, fake)
            assert again["session"] == "default"

    run(body())
