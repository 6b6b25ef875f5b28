"""End to end with a Wechaty Puppet Service: the official MCP Python client drives
``wxlink mcp -t sse`` (legacy HTTP+SSE on ``/sse``, as Wechaty-MCP-SSE clients connect) and
``wxlink mcp -t http`` (Streamable HTTP on ``/mcp``), and the project's test peer
(``tests/wechaty-peer``: a real ``wechaty-puppet-service`` PuppetServer over PuppetMock) plays
WeChat.

Seed data of the peer (its README): contacts Alice (remark "Alice (work)"), Bob, 张三 (remark
老张), 李四 (remark 四哥), two 王五 (one with the remark 王五（同事）), the official account
新闻早报; rooms 项目组, 家庭群, two 读书会, Weekend Hiking.

Covered: the Wechaty-MCP-SSE tools with their texts (found, sent, ambiguous, not found), remark
matches, fuzzy, `index`, room members, files, the `login` tool with backend="wechaty" (QR image,
token refused), `contacts`, inbound one-to-one and group messages in `recv` and `history`,
reconnection after the peer's gRPC side restarts, group tools on an iLink session,
`/health`, `/messages` answers and `server_shutdown` on SIGTERM.
"""

from __future__ import annotations

import base64
import json
import re
import signal
import subprocess
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.client.subscriptions import ToolsListChanged

from conftest import FakeControl, McpServerProcess, WechatyPeer, qr_login, run, wxlink_bin

WECHATY_TOOLS = {
    "findFriend",
    "findRoomByTopic",
    "sendMessageToFriend",
    "sendMessageToFriendByNickname",
    "sendMessageToRoom",
    "sendMessageToRoomByTopic",
    "sendMessageToFriendByWxId",
    "sendMessageToRoomByWxId",
    "getRoomMembers",
}
# Wechaty-MCP-SSE's second names of sendMessageToFriend and sendMessageToRoom: listed where its
# compatibility is asked for (`-t sse`), callable everywhere.
ALIASES = {"sendMessageToFriendByNickname", "sendMessageToRoomByTopic"}
SENT_RE = re.compile(r"^消息发送消息到「(.+)」成功，发送时间 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)$")
ILINK_USER = "o9cq80wechatytest0000000@im.wechat"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class Server(McpServerProcess):
    """``wxlink mcp -t sse|http -p 0`` (no token: loopback, like Wechaty-MCP-SSE) on one data
    directory; the iLink side points at the sandbox."""

    def __init__(self, fake: FakeControl, data_dir: Path, stderr_path: Path, transport: str) -> None:
        super().__init__(fake, data_dir, stderr_path, transport=transport)

    @asynccontextmanager
    async def client(self) -> AsyncIterator[Client]:
        """A client over the transport the server was started for: SSE at ``/sse`` (the URL a
        Wechaty-MCP-SSE client is configured with) or Streamable HTTP at ``/mcp``."""
        if self.transport == "sse":
            async with Client(sse_client(f"{self.url}/sse"), mode="legacy") as c:
                yield c
        else:
            async with httpx2.AsyncClient(timeout=httpx2.Timeout(30, read=300)) as http:
                async with Client(streamable_http_client(f"{self.url}/mcp", http_client=http)) as c:
                    yield c


@pytest.fixture(params=["sse", "http"])
def server(request: pytest.FixtureRequest, fake: FakeControl, tmp_path: Path):
    srv = Server(fake, tmp_path / "data", tmp_path / "server.stderr", request.param)
    try:
        yield srv
    finally:
        code = srv.stop()
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.failed:
            import sys

            sys.stderr.write(f"\n--- wxlink mcp stderr ---\n{srv.stderr()[-6000:]}\n")
    assert code == 0, f"exit code {code} after SIGTERM"


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def text_items(r: Any) -> list[str]:
    return [b.text for b in r.content if b.type == "text"]


async def call(c: Client, name: str, args: dict | None = None) -> dict:
    """A tool call that must succeed; its structured content."""
    r = await c.call_tool(name, args or {})
    assert not r.is_error, f"{name} failed: {text_items(r)}"
    assert r.structured_content is not None, r
    return r.structured_content


async def call_raw(c: Client, name: str, args: dict) -> Any:
    return await c.call_tool(name, args)


async def call_error(c: Client, name: str, args: dict) -> list[str]:
    """A tool call that must be a tool error; its text items."""
    r = await c.call_tool(name, args)
    assert r.is_error, f"{name} unexpectedly succeeded: {text_items(r)}"
    return text_items(r)


async def login_wechaty(c: Client, peer: WechatyPeer, **extra: Any) -> dict:
    """Logs in through the `login` tool with backend="wechaty" until `confirmed`."""
    args = {"backend": "wechaty", "endpoint": peer.grpc, "token": peer.token, "timeout": 10, **extra}
    out = await call(c, "login", args)
    for _ in range(10):
        if out["status"] in ("confirmed", "already_logged_in"):
            assert out["backend"] == "wechaty", out
            return out
        out = await call(c, "login", {"backend": "wechaty", "timeout": 10})
    raise AssertionError(f"the Wechaty login did not confirm: {out}")


def sent_to(peer: WechatyPeer, since: int = 0) -> list[tuple[str, str]]:
    """(conversation id, text or file name) of what the peer was made to send, after `since`."""
    return [
        (s["conversationId"], s.get("text") or s.get("filename") or "")
        for s in peer.sent()[since:]
    ]


def assert_sent_text(r: Any, name: str) -> str:
    """The Wechaty-MCP-SSE success text, exactly one text item; returns its time."""
    assert not r.is_error, text_items(r)
    texts = text_items(r)
    assert len(texts) == 1, texts
    m = SENT_RE.match(texts[0])
    assert m and m.group(1) == name, texts[0]
    assert r.structured_content["status"] == "sent"
    assert r.structured_content["time"] == m.group(2)
    return m.group(2)


async def recv_until(c: Client, pred, timeout: float = 15.0) -> list[dict]:
    """Receives until a message satisfies `pred`; returns every message received."""
    got: list[dict] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = await call(c, "recv", {"timeout": 2})
        got += out["messages"]
        if any(pred(m) for m in got):
            return got
    raise AssertionError(f"no matching message within {timeout} s; got {got}")


async def inject_until_received(
    c: Client, peer: WechatyPeer, text: str, timeout: float = 30.0, **spec: Any
) -> tuple[dict, list[str]]:
    """Injects `text` (numbered) until one copy reaches `recv`: a message announced while the
    listener's event stream is (re)connecting is not replayed by the service. Returns the
    message and the texts injected."""
    injected: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        t = f"{text} #{len(injected) + 1}"
        peer.inject(text=t, **spec)
        injected.append(t)
        end = time.monotonic() + 3
        while time.monotonic() < end:
            out = await call(c, "recv", {"timeout": 1})
            for m in out["messages"]:
                if m["text"] in injected:
                    return m, injected
    raise AssertionError(f"none of {injected} reached recv within {timeout} s")


# ---------------------------------------------------------------------------------------------
# discovery
# ---------------------------------------------------------------------------------------------


def test_tools_names_arguments_and_annotations(server: Server, peer: WechatyPeer):
    async def body():
        async with server.client() as c:
            tools = {t.name: t for t in (await c.list_tools()).tools}
            if server.transport == "sse":
                # `-t sse` serves /sse as Wechaty-MCP-SSE did: every tool, aliases too.
                expected = WECHATY_TOOLS
            else:
                # Without a Wechaty session the default list leaves them out…
                assert not WECHATY_TOOLS & set(tools), sorted(tools)
                await login_wechaty(c, peer)
                tools = {t.name: t for t in (await c.list_tools()).tools}
                # …and lists them (one name each) once there is one.
                expected = WECHATY_TOOLS - ALIASES
                assert not ALIASES & set(tools), sorted(tools)
        assert expected <= set(tools), sorted(tools)
        props = {n: set(t.input_schema.get("properties", {})) for n, t in tools.items()}
        req = {n: set(t.input_schema.get("required", [])) for n, t in tools.items()}
        # Wechaty-MCP-SSE's argument names, required as there.
        for name in {"sendMessageToFriend", "sendMessageToFriendByNickname"} & expected:
            assert req[name] == {"nickname", "message"}, name
            assert {"fuzzy", "index", "file_path", "session"} <= props[name]
        for name in {"sendMessageToRoom", "sendMessageToRoomByTopic"} & expected:
            assert req[name] == {"topic", "message"}, name
        for name in ("sendMessageToFriendByWxId", "sendMessageToRoomByWxId"):
            assert req[name] == {"wxid", "message"}, name
            assert "file_path" in props[name]
        assert req["findFriend"] == {"nickname"} and "fuzzy" in props["findFriend"]
        assert req["findRoomByTopic"] == {"topic"}
        assert {"topic", "wxid"} <= props["getRoomMembers"]
        assert {"backend", "endpoint", "token"} <= props["login"]
        assert "query" in props["contacts"]
        for name in expected:
            t = tools[name]
            assert t.output_schema and t.output_schema["type"] == "object", name
            assert t.description and len(t.description) > 40, name
            a = t.annotations
            if name.startswith(("find", "get")):
                assert a.read_only_hint is True and a.idempotent_hint is True, name
            else:
                assert a.read_only_hint is False and a.open_world_hint is True, name
                assert a.destructive_hint is False, name

    run(body())


def test_a_new_wechaty_session_is_announced_with_tools_list_changed(
    fake: FakeControl, peer: WechatyPeer, tmp_path: Path
):
    """Streamable HTTP, both eras, each on a fresh data directory: a legacy session gets
    notifications/tools/list_changed on its stream, a 2026-07-28 client through
    subscriptions/listen; each then lists the Wechaty tools."""
    changed = anyio.Event()

    async def on_message(message: Any) -> None:
        root = getattr(message, "root", message)
        if getattr(root, "method", None) == "notifications/tools/list_changed":
            changed.set()

    async def legacy(url: str):
        async with httpx2.AsyncClient(timeout=httpx2.Timeout(30, read=300)) as http:
            transport = streamable_http_client(f"{url}/mcp", http_client=http)
            async with Client(transport, mode="legacy", message_handler=on_message) as c:
                assert c.server_capabilities.tools.list_changed is True
                before = {t.name for t in (await c.list_tools()).tools}
                assert not WECHATY_TOOLS & before, sorted(before)
                await login_wechaty(c, peer)
                with anyio.fail_after(15):
                    await changed.wait()
                after = {t.name for t in (await c.list_tools()).tools}
                assert WECHATY_TOOLS - ALIASES <= after, sorted(after)

    async def modern(url: str):
        async with httpx2.AsyncClient(timeout=httpx2.Timeout(30, read=300)) as http:
            async with Client(streamable_http_client(f"{url}/mcp", http_client=http)) as c:
                assert c.protocol_version == "2026-07-28"
                before = {t.name for t in (await c.list_tools()).tools}
                assert not WECHATY_TOOLS & before, sorted(before)
                async with c.listen(tools_list_changed=True) as sub:
                    assert sub.honored.tools_list_changed
                    await login_wechaty(c, peer)
                    with anyio.fail_after(15):
                        async for event in sub:
                            assert isinstance(event, ToolsListChanged), event
                            break
                after = {t.name for t in (await c.list_tools()).tools}
                assert WECHATY_TOOLS - ALIASES <= after, sorted(after)

    for name, era in (("legacy", legacy), ("modern", modern)):
        srv = Server(fake, tmp_path / name / "data", tmp_path / f"{name}.stderr", "http")
        try:
            run(era(srv.url))
        except BaseException:
            import sys

            sys.stderr.write(f"\n--- wxlink mcp stderr ({name}) ---\n{srv.stderr()[-6000:]}\n")
            raise
        finally:
            assert srv.stop() == 0


# ---------------------------------------------------------------------------------------------
# login
# ---------------------------------------------------------------------------------------------


def test_login_shows_the_puppet_qr_then_confirms(server: Server, start_peer):
    # A peer of its own that waits for POST /login, so the QR is shown first.
    qr = "https://login.weixin.qq.com/l/wxlink-mcp-qr-test"
    own = start_peer(WECHATY_PEER_LOGIN_DELAY_MS="-1", WECHATY_PEER_QRCODE=qr)

    async def body():
        async with server.client() as c:
            r = await call_raw(
                c,
                "login",
                {"backend": "wechaty", "endpoint": own.grpc, "token": own.token, "timeout": 10},
            )
            assert not r.is_error, text_items(r)
            out = r.structured_content
            assert (out["status"], out["backend"], out["qr_url"]) == ("pending", "wechaty", qr), out
            assert out["session"] == "wechaty"
            images = [b for b in r.content if b.type == "image"]
            assert len(images) == 1 and images[0].mime_type == "image/png"
            assert base64.b64decode(images[0].data).startswith(PNG_MAGIC)
            # The same QR is not shown twice; the next call waits for the scan.
            waiting = await call(c, "login", {"timeout": 0.5})
            assert waiting["status"] == "pending" and waiting["qr_url"] == qr, waiting
            own.post("/login")
            out = await call(c, "login", {"timeout": 10})
            assert out["status"] == "confirmed", out
            assert out["bot_id"] == "wxid_bot"
            sessions = (await call(c, "sessions"))["sessions"]
            assert [(s["name"], s["backend"], s["connected"]) for s in sessions] == [
                ("wechaty", "wechaty", True)
            ]
            # Logged in already: said at once, no QR.
            again = await call(
                c, "login", {"backend": "wechaty", "endpoint": own.grpc, "token": own.token}
            )
            assert again["status"] == "already_logged_in", again
        health = httpx2.get(f"{server.url}/health").json()
        assert health["logged_in"] is True
        assert [(s["name"], s["backend"], s["connected"]) for s in health["sessions"]] == [
            ("wechaty", "wechaty", True)
        ]

    run(body())


def test_login_refused_token_and_missing_arguments(server: Server, peer: WechatyPeer):
    async def body():
        async with server.client() as c:
            err = await call_error(
                c,
                "login",
                {"backend": "wechaty", "endpoint": peer.grpc, "token": "insecure_wrong-token"},
            )
            assert "rejected the token" in err[0] and err[0].endswith("[token_rejected]"), err
            err = await call_error(c, "login", {"backend": "wechaty", "endpoint": peer.grpc})
            assert "`token`" in err[0], err
            err = await call_error(c, "login", {"backend": "carrier-pigeon"})
            assert "unknown backend" in err[0], err
            assert (await call(c, "sessions"))["sessions"] == []
            # Nothing pending: a bare login is iLink's again (the sandbox's QR).
            out = await call(c, "login", {})
            assert out["status"] == "pending" and out["backend"] == "ilink", out

    run(body())


# ---------------------------------------------------------------------------------------------
# the Wechaty-MCP-SSE tools
# ---------------------------------------------------------------------------------------------


def test_find_friend_and_room(server: Server, peer: WechatyPeer):
    async def body():
        async with server.client() as c:
            await login_wechaty(c, peer)
            r = await call_raw(c, "findFriend", {"nickname": "张三"})
            texts = text_items(r)
            assert not r.is_error and len(texts) == 1, texts
            # Pretty-printed like JSON.stringify(list, null, 2).
            assert texts[0].startswith("[\n  {\n"), texts[0]
            assert json.loads(texts[0]) == [
                {"wxid": "wxid_zhangsan", "name": "张三", "index": 1, "alias": "老张"}
            ]
            assert r.structured_content["results"] == json.loads(texts[0])
            # The remark (备注) finds the same contact.
            r = await call_raw(c, "findFriend", {"nickname": "老张"})
            assert [x["wxid"] for x in json.loads(text_items(r)[0])] == ["wxid_zhangsan"]
            # Namesakes: both, numbered.
            r = await call_raw(c, "findFriend", {"nickname": "王五"})
            assert [(x["wxid"], x["index"]) for x in json.loads(text_items(r)[0])] == [
                ("wxid_wangwu_1", 1),
                ("wxid_wangwu_2", 2),
            ]
            # Exact by default; fuzzy matches parts, any case.
            err = await call_error(c, "findFriend", {"nickname": "alice"})
            assert err[0] == "「alice」用户不存在", err
            assert "Similar: Alice" in err[1], err
            out = await call(c, "findFriend", {"nickname": "alice", "fuzzy": True})
            assert [x["wxid"] for x in out["results"]] == ["wxid_alice"]
            err = await call_error(c, "findFriend", {"nickname": "赵六"})
            assert err[0] == "「赵六」用户不存在", err

            r = await call_raw(c, "findRoomByTopic", {"topic": "读书会"})
            rooms = json.loads(text_items(r)[0])
            assert [(x["wxid"], x["name"], x["index"], x["members"]) for x in rooms] == [
                ("r_book_1@chatroom", "读书会", 1, 2),
                ("r_book_2@chatroom", "读书会", 2, 3),
            ]
            out = await call(c, "findRoomByTopic", {"topic": "hiking", "fuzzy": True})
            assert [x["wxid"] for x in out["results"]] == ["r_hiking@chatroom"]
            err = await call_error(c, "findRoomByTopic", {"topic": "无此群"})
            assert err[0] == "「无此群」群组不存在", err

    run(body())


def test_send_by_nickname_alias_ambiguous_and_missing(server: Server, peer: WechatyPeer):
    async def body():
        async with server.client() as c:
            await login_wechaty(c, peer)
            r = await call_raw(
                c, "sendMessageToFriendByNickname", {"nickname": "张三", "message": "你好，张三"}
            )
            assert_sent_text(r, "张三")
            assert r.structured_content["to"]["wxid"] == "wxid_zhangsan"
            # The first tool name, by remark.
            r = await call_raw(c, "sendMessageToFriend", {"nickname": "老张", "message": "by remark"})
            assert_sent_text(r, "老张")
            assert sent_to(peer) == [("wxid_zhangsan", "你好，张三"), ("wxid_zhangsan", "by remark")]

            # Two 王五: the original's two text items, nothing sent.
            r = await call_raw(c, "sendMessageToFriendByNickname", {"nickname": "王五", "message": "hi"})
            assert not r.is_error
            texts = text_items(r)
            assert texts[0] == "「王五」用户存在多个，请使用微信ID发送消息或指定发送给第几个好友"
            assert json.loads(texts[1]) == [
                {"wxid": "wxid_wangwu_1", "name": "王五", "index": 1, "alias": "王五（同事）"},
                {"wxid": "wxid_wangwu_2", "name": "王五", "index": 2},
            ]
            assert len(texts) == 2
            assert r.structured_content["status"] == "ambiguous"
            assert len(peer.sent()) == 2
            # Picking one by index.
            r = await call_raw(
                c, "sendMessageToFriend", {"nickname": "王五", "message": "the second", "index": 2}
            )
            assert_sent_text(r, "王五")
            err = await call_error(
                c, "sendMessageToFriend", {"nickname": "王五", "message": "x", "index": 3}
            )
            assert "index 1 to 2" in err[0], err
            # Nobody by that name: an error, nothing sent.
            err = await call_error(
                c, "sendMessageToFriendByNickname", {"nickname": "赵六", "message": "hello?"}
            )
            assert err[0] == "「赵六」用户不存在", err
            # Fuzzy: "四" is in 李四 and in its remark 四哥 (one contact, so it is sent).
            r = await call_raw(
                c, "sendMessageToFriend", {"nickname": "四", "message": "fuzzy", "fuzzy": True}
            )
            assert_sent_text(r, "四")
            assert sent_to(peer, 2) == [("wxid_wangwu_2", "the second"), ("wxid_lisi", "fuzzy")]
            # Every send is in history.
            page = await call(c, "history", {"direction": "sent"})
            assert {m["user"] for m in page["messages"]} == {
                "wxid_zhangsan",
                "wxid_wangwu_2",
                "wxid_lisi",
            }

    run(body())


def test_send_to_rooms_and_by_wxid(server: Server, peer: WechatyPeer):
    async def body():
        async with server.client() as c:
            await login_wechaty(c, peer)
            r = await call_raw(c, "sendMessageToRoomByTopic", {"topic": "项目组", "message": "大家好"})
            assert_sent_text(r, "项目组")
            r = await call_raw(c, "sendMessageToRoom", {"topic": "家庭群", "message": "晚饭吃什么"})
            assert_sent_text(r, "家庭群")
            r = await call_raw(c, "sendMessageToRoomByTopic", {"topic": "读书会", "message": "x"})
            texts = text_items(r)
            assert not r.is_error and len(texts) == 2
            assert texts[0] == "「读书会」群组存在多个，请使用微信ID发送消息或指定发送给第几个群组"
            assert [x["wxid"] for x in json.loads(texts[1])] == ["r_book_1@chatroom", "r_book_2@chatroom"]
            r = await call_raw(
                c, "sendMessageToRoom", {"topic": "读书会", "message": "第二个读书会", "index": 2}
            )
            assert_sent_text(r, "读书会")
            err = await call_error(c, "sendMessageToRoomByTopic", {"topic": "无此群", "message": "x"})
            assert err[0] == "「无此群」群组不存在", err

            r = await call_raw(
                c, "sendMessageToFriendByWxId", {"wxid": "wxid_bob", "message": "hi Bob"}
            )
            assert_sent_text(r, "wxid_bob")
            r = await call_raw(
                c, "sendMessageToRoomByWxId", {"wxid": "r_hiking@chatroom", "message": "周末爬山"}
            )
            assert_sent_text(r, "r_hiking@chatroom")
            err = await call_error(
                c, "sendMessageToFriendByWxId", {"wxid": "wxid_nobody", "message": "x"}
            )
            assert err[0] == "「wxid_nobody」用户不存在", err
            err = await call_error(
                c, "sendMessageToRoomByWxId", {"wxid": "r_nowhere@chatroom", "message": "x"}
            )
            assert err[0] == "「r_nowhere@chatroom」群组不存在", err
            assert sent_to(peer) == [
                ("r_team@chatroom", "大家好"),
                ("r_family@chatroom", "晚饭吃什么"),
                ("r_book_2@chatroom", "第二个读书会"),
                ("wxid_bob", "hi Bob"),
                ("r_hiking@chatroom", "周末爬山"),
            ]

    run(body())


def test_room_members(server: Server, peer: WechatyPeer):
    async def body():
        async with server.client() as c:
            await login_wechaty(c, peer)
            r = await call_raw(c, "getRoomMembers", {"topic": "项目组"})
            assert not r.is_error, text_items(r)
            members = json.loads(text_items(r)[0])
            assert {m["wxid"] for m in members} == {"wxid_bot", "wxid_alice", "wxid_bob", "wxid_zhangsan"}
            zhang = next(m for m in members if m["wxid"] == "wxid_zhangsan")
            assert (zhang["name"], zhang["room_alias"], zhang["inviter"]) == ("张三", "张工", "wxid_alice")
            assert sorted(m["index"] for m in members) == [1, 2, 3, 4]
            assert r.structured_content["room"]["wxid"] == "r_team@chatroom"
            out = await call(c, "getRoomMembers", {"wxid": "r_family@chatroom"})
            assert {m["wxid"] for m in out["members"]} == {"wxid_bot", "wxid_zhangsan", "wxid_lisi"}
            r = await call_raw(c, "getRoomMembers", {"topic": "读书会"})
            assert text_items(r)[0].startswith("「读书会」群组存在多个")
            assert r.structured_content["status"] == "ambiguous"
            out = await call(c, "getRoomMembers", {"topic": "读书会", "index": 2})
            assert {m["wxid"] for m in out["members"]} == {"wxid_bot", "wxid_alice", "wxid_lisi"}
            err = await call_error(c, "getRoomMembers", {"wxid": "r_nowhere@chatroom"})
            assert err[0] == "「r_nowhere@chatroom」群组不存在", err
            err = await call_error(c, "getRoomMembers", {})
            assert "`wxid` or its `topic`" in err[0], err

    run(body())


def test_files_reach_the_peer(server: Server, peer: WechatyPeer, tmp_path: Path):
    picture = PNG_MAGIC + bytes(range(256)) * 4
    report = "第一季度报告\n".encode() * 3000  # ~57 KB: larger than an inline FileBox
    (tmp_path / "chart.png").write_bytes(picture)
    (tmp_path / "report.txt").write_bytes(report)

    async def body():
        async with server.client() as c:
            await login_wechaty(c, peer)
            r = await call_raw(
                c,
                "sendMessageToFriendByWxId",
                {"wxid": "wxid_alice", "message": "the chart", "file_path": str(tmp_path / "chart.png")},
            )
            assert_sent_text(r, "wxid_alice")
            assert [s["type"] for s in r.structured_content["sent"]] == ["text", "image"]
            # A file alone (empty message), to a room by topic, under another name.
            r = await call_raw(
                c,
                "sendMessageToRoomByTopic",
                {
                    "topic": "项目组",
                    "message": "",
                    "file_path": str(tmp_path / "report.txt"),
                    "file_name": "Q1.txt",
                },
            )
            assert_sent_text(r, "项目组")
            err = await call_error(
                c,
                "sendMessageToFriend",
                {"nickname": "Bob", "message": "x", "file_path": str(tmp_path / "missing.pdf")},
            )
            assert "file not found" in err[0], err
            err = await call_error(c, "sendMessageToFriend", {"nickname": "Bob", "message": ""})
            assert "nothing to send" in err[0], err
            files = await call(c, "history", {"direction": "sent", "msg_type": "file"})
            assert [m["user"] for m in files["messages"]] == ["r_team@chatroom"]

        sent = peer.sent()
        assert [(s["conversationId"], s["type"]) for s in sent] == [
            ("wxid_alice", 7),
            ("wxid_alice", 6),
            ("r_team@chatroom", 1),
        ]
        assert sent[0]["text"] == "the chart"
        assert (sent[1]["filename"], base64.b64decode(sent[1]["fileBase64"])) == ("chart.png", picture)
        assert (sent[2]["filename"], base64.b64decode(sent[2]["fileBase64"])) == ("Q1.txt", report)

    run(body())


# ---------------------------------------------------------------------------------------------
# inbound messages, reconnection
# ---------------------------------------------------------------------------------------------


def test_inbound_direct_and_group_messages(server: Server, peer: WechatyPeer):
    async def body():
        async with server.client() as c:
            await login_wechaty(c, peer)
            m, _ = await inject_until_received(c, peer, "Bob says hi", **{"from": "wxid_bob"})
            assert (m["user"], m["from"], m["direction"], m["type"]) == ("wxid_bob", "wxid_bob", "in", "text")
            assert m["session"] == "wechaty" and "room_id" not in m
            # A group message: room_id (where to answer) and speaker.
            peer.inject(**{"from": "wxid_alice", "room": "项目组", "text": "@小助手Bot 开会了"})
            got = await recv_until(c, lambda x: x.get("room_id") == "r_team@chatroom")
            g = next(x for x in got if x.get("room_id") == "r_team@chatroom")
            assert (g["user"], g["speaker"], g["from"], g["text"]) == (
                "r_team@chatroom",
                "wxid_alice",
                "wxid_alice",
                "@小助手Bot 开会了",
            )
            # Answer in the group by its room_id, then find both in history.
            r = await call_raw(
                c, "sendMessageToRoomByWxId", {"wxid": g["room_id"], "message": "收到"}
            )
            assert_sent_text(r, "r_team@chatroom")
            page = await call(c, "history", {"user_id": "r_team@chatroom"})
            assert [(x["direction"], x["text"], x.get("speaker")) for x in page["messages"]] == [
                ("out", "收到", None),
                ("in", "@小助手Bot 开会了", "wxid_alice"),
            ]
            found = await call(c, "history", {"text_contains": "开会"})
            assert [x["room_id"] for x in found["messages"]] == ["r_team@chatroom"]

    run(body())


def test_reconnects_after_the_grpc_side_restarts(server: Server, peer: WechatyPeer):
    async def body():
        async with server.client() as c:
            await login_wechaty(c, peer)
            await inject_until_received(c, peer, "before restart", **{"from": "wxid_lisi"})
            peer.post("/grpc/restart", {"downMs": 500})
            deadline = time.monotonic() + 10
            while not peer.health()["grpcUp"]:
                assert time.monotonic() < deadline, "the peer's gRPC side did not come back"
                await anyio.sleep(0.1)
            m, injected = await inject_until_received(
                c, peer, "after restart", **{"from": "wxid_lisi"}
            )
            assert m["text"] in injected and m["user"] == "wxid_lisi"
            # The listener did lose its stream and come back (not a stream that never broke).
            assert "Wechaty event stream lost; reconnecting" in server.stderr()
            # Sends work again too.
            r = await call_raw(c, "sendMessageToFriend", {"nickname": "李四", "message": "back"})
            assert_sent_text(r, "李四")
            assert sent_to(peer)[-1] == ("wxid_lisi", "back")

    run(body())


# ---------------------------------------------------------------------------------------------
# contacts, iLink sessions
# ---------------------------------------------------------------------------------------------


def test_contacts_tool_counts_and_searches_wechaty(server: Server, peer: WechatyPeer):
    async def body():
        async with server.client() as c:
            await login_wechaty(c, peer)
            out = await call(c, "contacts")
            assert out["wechaty"] == [] and out["contacts"] == []
            assert len(out["notes"]) == 1, out
            assert re.search(r'"wechaty" has \d+ contacts and 5 group chats', out["notes"][0]), out
            out = await call(c, "contacts", {"query": "张"})
            assert [(x["wxid"], x["name"], x.get("alias")) for x in out["wechaty"]] == [
                ("wxid_zhangsan", "张三", "老张")
            ]
            out = await call(c, "contacts", {"query": "新闻"})
            assert [(x["wxid"], x["type"], x["friend"]) for x in out["wechaty"]] == [
                ("gh_news", "official", False)
            ]

    run(body())


def test_group_tools_on_an_ilink_session(server: Server, fake: FakeControl):
    async def body():
        async with server.client() as c:
            out = await qr_login(c, fake, ILINK_USER)
            assert out["backend"] == "ilink", out
            for tool, args in [
                ("findRoomByTopic", {"topic": "项目组"}),
                ("sendMessageToRoom", {"topic": "项目组", "message": "x"}),
                ("sendMessageToRoomByWxId", {"wxid": "r_team@chatroom", "message": "x"}),
                ("getRoomMembers", {"topic": "项目组"}),
            ]:
                err = await call_error(c, tool, args)
                assert "iLink does not carry group chats" in err[0], (tool, err)
                assert 'backend="wechaty"' in err[0], (tool, err)
            err = await call_error(c, "sendMessageToFriend", {"nickname": "张三", "message": "x"})
            assert "iLink has no contact list" in err[0], err
            # findFriend searches the users who wrote to the bot, by id.
            fake.inject(from_user_id=ILINK_USER, text="hello from iLink")
            await recv_until(c, lambda m: m["text"] == "hello from iLink")
            out = await call(c, "findFriend", {"nickname": "wechatytest", "fuzzy": True})
            assert [x["wxid"] for x in out["results"]] == [ILINK_USER]
            err = await call_error(c, "findFriend", {"nickname": "张三"})
            assert err[0] == "「张三」用户不存在" and "iLink" in err[1], err
            # sendMessageToFriendByWxId goes through iLink for its users.
            r = await call_raw(
                c, "sendMessageToFriendByWxId", {"wxid": ILINK_USER, "message": "reply via iLink"}
            )
            assert_sent_text(r, ILINK_USER)
            assert [s["text"] for s in fake.sent()] == ["reply via iLink"]

    run(body())


def test_ilink_and_wechaty_sessions_side_by_side(server: Server, peer: WechatyPeer, fake: FakeControl):
    async def body():
        async with server.client() as c:
            await login_wechaty(c, peer)  # "wechaty", the first session: the default one
            # A bare iLink login does not take the Wechaty session's name.
            out = await qr_login(c, fake, ILINK_USER)
            assert (out["status"], out["session"], out["backend"]) == ("confirmed", "default", "ilink"), out
            sessions = {s["name"]: s["backend"] for s in (await call(c, "sessions"))["sessions"]}
            assert sessions == {"wechaty": "wechaty", "default": "ilink"}
            # Naming the Wechaty session continues on the Wechaty side.
            again = await call(c, "login", {"session_name": "wechaty"})
            assert (again["status"], again["backend"]) == ("already_logged_in", "wechaty"), again
            err = await call_error(c, "login", {"session_name": "wechaty", "backend": "ilink"})
            assert "is a wechaty session" in err[0], err
            # Group tools on the iLink session, named: what iLink cannot do.
            err = await call_error(c, "findRoomByTopic", {"topic": "项目组", "session": "default"})
            assert "iLink does not carry group chats" in err[0], err
            # Unnamed, they use the Wechaty session.
            out = await call(c, "findRoomByTopic", {"topic": "项目组"})
            assert out["session"] == "wechaty" and out["results"][0]["wxid"] == "r_team@chatroom"
            # `send` reaches a Wechaty room id and an iLink user alike.
            fake.inject(from_user_id=ILINK_USER, text="hi from iLink")
            await recv_until(c, lambda m: m["text"] == "hi from iLink")
            r1 = await call(c, "send", {"to": "r_team@chatroom", "text": "to the room"})
            r2 = await call(c, "send", {"to": ILINK_USER, "text": "to the iLink user"})
            assert (r1["session"], r2["session"]) == ("wechaty", "default")
        assert sent_to(peer) == [("r_team@chatroom", "to the room")]
        assert [s["text"] for s in fake.sent()] == ["to the iLink user"]

    run(body())


# ---------------------------------------------------------------------------------------------
# compatibility endpoints
# ---------------------------------------------------------------------------------------------


def test_health_and_messages_endpoint(fake: FakeControl, tmp_path: Path):
    srv = Server(fake, tmp_path / "data", tmp_path / "server.stderr", "sse")
    try:
        health = httpx2.get(f"{srv.url}/health").json()
        assert {"status", "version", "uptime", "timestamp", "connections"} <= set(health)
        assert health["status"] == "ok" and isinstance(health["uptime"], float)
        assert health["connections"] == 0 and health["logged_in"] is False
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", health["timestamp"])
        # Unknown session: Wechaty-MCP-SSE's JSON error.
        r = httpx2.post(
            f"{srv.url}/messages?sessionId=nope",
            json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
        )
        assert r.status_code == 404
        assert r.json()["message"] == "没有活跃的SSE连接"
        with httpx2.stream("GET", f"{srv.url}/sse", timeout=10) as stream:
            lines = stream.iter_lines()
            assert next(lines) == "event: endpoint"
            data = next(lines)
            m = re.match(r"^data: (/messages\?sessionId=\w+)$", data)
            assert m, data
            r = httpx2.post(
                f"{srv.url}{m.group(1)}",
                json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
            )
            assert (r.status_code, r.text) == (202, "Accepted")
            assert httpx2.get(f"{srv.url}/health").json()["connections"] == 1
    finally:
        assert srv.stop() == 0


def test_server_shutdown_event_on_sigterm(fake: FakeControl, tmp_path: Path):
    srv = Server(fake, tmp_path / "data", tmp_path / "server.stderr", "sse")
    events: list[tuple[str, str]] = []
    try:
        with httpx2.stream("GET", f"{srv.url}/sse", timeout=15) as s1, httpx2.stream(
            "GET", f"{srv.url}/sse", timeout=15
        ) as s2:
            streams = [s1.iter_lines(), s2.iter_lines()]
            for lines in streams:
                assert next(lines) == "event: endpoint"
            srv.proc.send_signal(signal.SIGTERM)
            for lines in streams:
                event = None
                for line in lines:
                    if line.startswith("event: "):
                        event = line[len("event: "):]
                    elif line.startswith("data: ") and event == "server_shutdown":
                        events.append((event, line[len("data: "):]))
        assert srv.proc.wait(timeout=10) == 0
    finally:
        srv.stop()
    assert len(events) == 2, events
    for name, data in events:
        assert json.loads(data) == {"reason": "Server is shutting down"}


def test_sigterm_right_after_the_banner_is_a_clean_exit(tmp_path: Path):
    # The signal handlers are in place before the address is announced (they were not: a
    # SIGTERM sent as soon as the banner appeared killed the process, every time).
    for i in range(5):
        proc = subprocess.Popen(
            [wxlink_bin(), "-d", str(tmp_path / f"d{i}"), "mcp", "-t", "sse", "-p", "0"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        assert proc.stderr is not None
        seen = b""
        deadline = time.monotonic() + 20
        while b"listening on" not in seen:
            assert time.monotonic() < deadline, seen
            chunk = proc.stderr.read1(4096)
            assert chunk, f"wxlink mcp exited early: {seen!r}"
            seen += chunk
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0, seen
        proc.stderr.close()
