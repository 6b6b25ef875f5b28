"""``wxlink import``: switching from the REAL weilink 0.6.2 (and from OpenClaw's layout) without
logging in again or losing history, against ``wxlink sandbox`` (the ilink-fake server).

WeiLink: logs in by QR against the fake, receives text, Chinese text and an image, replies,
stops; ``wxlink import weilink`` then brings over the session, its token, cursor, context
token and ``messages.db``; wxlink shows it logged in, has the history (and downloads the
imported image), polls on from WeiLink's cursor without a new login, and a second import adds
nothing.

OpenClaw: there is no Python client, so the test writes a state dir in the exact layout of
``@tencent-weixin/openclaw-weixin`` 2.4.9 (files cited below) with a cursor the fake really
issued, imports it and polls the same way.

Run through ``run.sh`` (it creates the venv and builds the binary).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import urllib.request
from pathlib import Path

from weilink import MessageType, WeiLink

from fakectl import FakeControl, b64, recv_all, sample_bytes

LOGIN_USER = "o9cq80import@im.wechat"
PEER = "o9cq80peer00000000000000@im.wechat"
DEFAULT_BIN = str(Path(__file__).resolve().parents[2] / "target" / "debug" / "wxlink")


def wxlink(data_dir: Path, *args: str, fake: FakeControl | None = None, timeout: float = 60) -> dict | list:
    """Runs ``wxlink --json -d DATA ARGS…``; returns its JSON (asserting exit 0)."""
    cmd = [os.environ.get("WXLINK_BIN", DEFAULT_BIN), "--json", "-d", str(data_dir), *args]
    if fake is not None:
        cmd += ["--cdn-base", fake.cdn_url]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, (cmd, proc.returncode, proc.stdout, proc.stderr)
    return json.loads(proc.stdout)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def getupdates_cursors(fake: FakeControl, token: str) -> list[str]:
    """The cursors the getupdates requests made with ``token`` carried, in order."""
    return [
        r["body"].get("get_updates_buf", "")
        for r in fake.requests("getupdates")
        if r["headers"].get("authorization") == f"Bearer {token}"
    ]


# ------------------------------------------------------------------------------------------
# WeiLink
# ------------------------------------------------------------------------------------------


def test_import_weilink_session_history_and_cursor(fake: FakeControl, wl_path: Path, tmp_path: Path):
    # 1. The real WeiLink: QR login, three messages in, one reply out, stopped.
    fake.qr_script("wait", "scaned", {"status": "confirmed", "user_id": LOGIN_USER})
    image_bytes = sample_bytes(3000, salt=7)
    with WeiLink(base_path=wl_path, message_store=True) as wl:
        info = wl.login()
        injected = [
            fake.inject(text="hello from before the switch", from_user_id=PEER),
            fake.inject(text="你好，下午三点开会", from_user_id=PEER),
            fake.inject(items=[{"kind": "image", "data_base64": b64(image_bytes)}], from_user_id=PEER),
        ]
        got = recv_all(wl, 3)
        assert [m.msg_type for m in got] == [MessageType.TEXT, MessageType.TEXT, MessageType.IMAGE]
        assert wl.send(PEER, "收到，谢谢")
    token_json = json.loads((wl_path / "default" / "token.json").read_text())
    weilink_cursor = token_json["cursor"]
    assert weilink_cursor, "WeiLink saved a cursor"
    with sqlite3.connect(wl_path / "messages.db") as db:
        assert db.execute("SELECT count(*), sum(direction = 2) FROM messages").fetchone() == (4, 1)
    source_before = snapshot(wl_path)

    # 2. The import.
    data = tmp_path / "wxlink"
    dry = wxlink(data, "import", "weilink", str(wl_path), "--dry-run")
    assert dry["dry_run"] is True and dry["sessions"][0]["messages_new"] == 4
    assert not (data / "wxlink.db").exists(), "a dry run writes no database"
    report = wxlink(data, "import", "weilink", str(wl_path))
    assert report["source"] == "weilink" and report["dry_run"] is False
    [s] = report["sessions"]
    assert (s["name"], s["session"], s["bot_id"]) == ("default", "default", info.bot_id)
    assert (s["created"], s["credentials"], s["cursor"]) == (True, "imported", True)
    assert (s["context_tokens"], s["context_tokens_new"]) == (1, 1)
    assert (s["messages_new"], s["messages_existing"]) == (4, 0)
    assert report["default_session"] == "default"
    assert snapshot(wl_path) == source_before, "the WeiLink folder is only read"
    assert (data / "wxlink.db").stat().st_mode & 0o777 == 0o600

    # 3. Logged in, same bot; the history is there, both ways.
    [status] = wxlink(data, "status")
    assert (status["name"], status["bot_id"], status["status"]) == ("default", info.bot_id, "connected")
    assert status["users"] == 1
    history = wxlink(data, "history")
    assert history["total"] == 4
    by_text = {m["text"]: m for m in history["messages"]}
    assert by_text["你好，下午三点开会"]["direction"] == "in"
    assert by_text["你好，下午三点开会"]["message_id"] == str(injected[1]["message_id"])
    assert by_text["收到，谢谢"]["direction"] == "out" and by_text["收到，谢谢"]["user"] == PEER
    [image] = [m for m in history["messages"] if m["type"] == "image"]
    assert image["message_id"] == str(injected[2]["message_id"])
    found = wxlink(data, "history", "--text", "三点开会")
    assert [m["text"] for m in found["messages"]] == ["你好，下午三点开会"]

    # The imported image downloads (WeiLink kept its CDN parameter and key).
    out_dir = tmp_path / "media"
    files = wxlink(data, "download", image["id"], "-o", str(out_dir), fake=fake)["files"]
    assert len(files) == 1 and Path(files[0]["path"]).read_bytes() == image_bytes

    # 4. Polling goes on from WeiLink's cursor: no QR login, nothing WeiLink saw comes again.
    fake.post("config", {"empty_cursor_replays": True})
    qr_before = len(fake.requests("get_bot_qrcode"))
    new = fake.inject(text="after the switch", from_user_id=PEER)
    got = wxlink(data, "recv", "--timeout", "15")
    assert [m["text"] for m in got] == ["after the switch"], got
    assert got[0]["message_id"] == str(new["message_id"])
    cursors = getupdates_cursors(fake, info.token)
    assert weilink_cursor in cursors, "wxlink polled with WeiLink's cursor"
    # wxlink's first poll used WeiLink's cursor, never an empty one (which replays everything).
    wxlink_polls = cursors[cursors.index(weilink_cursor):]
    assert "" not in wxlink_polls, cursors
    assert len(fake.requests("get_bot_qrcode")) == qr_before
    assert wxlink(data, "history")["total"] == 5

    # 5. Again: nothing new.
    again = wxlink(data, "import", "weilink", str(wl_path))
    [s] = again["sessions"]
    assert (s["messages_new"], s["messages_existing"], s["credentials"]) == (0, 4, "kept_existing")
    assert s["context_tokens_new"] == 0
    assert wxlink(data, "history")["total"] == 5


def test_import_weilink_malformed_folder_writes_nothing(fake: FakeControl, bot: dict, wl_path: Path, tmp_path: Path):
    (wl_path / "broken").mkdir()
    (wl_path / "broken" / "token.json").write_text("{not json")
    data = tmp_path / "wxlink"
    cmd = [os.environ.get("WXLINK_BIN", DEFAULT_BIN), "--json", "-d", str(data), "import", "weilink", str(wl_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    err = json.loads(proc.stdout)["error"]
    assert err["kind"] == "invalid" and "broken/token.json" in err["message"], err
    assert wxlink(data, "status") == [], "nothing was imported, not even the good session"


# ------------------------------------------------------------------------------------------
# OpenClaw
# ------------------------------------------------------------------------------------------


def raw_getupdates(fake: FakeControl, token: str, cursor: str = "") -> dict:
    """One getupdates call as OpenClaw's `src/api/api.ts` makes it; returns the answer."""
    body = json.dumps({"get_updates_buf": cursor, "base_info": {"channel_version": "2.4.9"}}).encode()
    req = urllib.request.Request(
        fake.api_base + "/ilink/bot/getupdates",
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "AuthorizationType": "ilink_bot_token",
            "Authorization": f"Bearer {token}",
        },
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(req, timeout=10) as resp:
        return json.loads(resp.read())


def write_openclaw_state(state: Path, bot: dict, api_base: str, cursor: str, context_token: str) -> None:
    """The state dir of @tencent-weixin/openclaw-weixin 2.4.9 after a QR login and a poll.

    - ``openclaw-weixin/accounts.json``: ``registerWeixinAccountId`` (src/auth/accounts.ts), a
      JSON array of normalized account ids (``normalizeAccountId("<hex>@im.bot")`` →
      ``<hex>-im-bot``, src/channel.ts).
    - ``accounts/<id>.json``: ``saveWeixinAccount`` (src/auth/accounts.ts):
      ``{token, savedAt (ISO), baseUrl, userId}``, pretty-printed, mode 0600.
    - ``accounts/<id>.sync.json``: ``saveGetUpdatesBuf`` (src/storage/sync-buf.ts):
      ``{"get_updates_buf": "..."}``, compact.
    - ``accounts/<id>.context-tokens.json``: ``persistContextTokens``
      (src/messaging/inbound.ts): ``{userId: token}``, compact.
    """
    account_id = bot["bot_id"].replace("@", "-").replace(".", "-")
    accounts = state / "openclaw-weixin" / "accounts"
    accounts.mkdir(parents=True)
    (state / "openclaw-weixin" / "accounts.json").write_text(json.dumps([account_id], indent=2))
    creds = accounts / f"{account_id}.json"
    creds.write_text(
        json.dumps(
            {"token": bot["token"], "savedAt": "2026-03-01T08:00:00.000Z", "baseUrl": api_base, "userId": bot["user_id"]},
            indent=2,
        )
    )
    creds.chmod(0o600)
    (accounts / f"{account_id}.sync.json").write_text(json.dumps({"get_updates_buf": cursor}, separators=(",", ":")))
    (accounts / f"{account_id}.context-tokens.json").write_text(
        json.dumps({PEER: context_token}, separators=(",", ":"))
    )


def test_import_openclaw_account_and_cursor(fake: FakeControl, tmp_path: Path):
    bot = fake.create_bot(LOGIN_USER)
    # OpenClaw saw one message: the cursor it saved is past it.
    seen = fake.inject(text="OpenClaw saw this", from_user_id=PEER, bot_id=bot["bot_id"])
    answer = raw_getupdates(fake, bot["token"])
    assert [m["message_id"] for m in answer["msgs"]] == [seen["message_id"]]
    state = tmp_path / "openclaw"
    write_openclaw_state(state, bot, fake.api_base, answer["get_updates_buf"], seen["context_token"])
    source_before = snapshot(state)

    data = tmp_path / "wxlink"
    env_dir = dict(os.environ, OPENCLAW_STATE_DIR=str(state))
    cmd = [os.environ.get("WXLINK_BIN", DEFAULT_BIN), "--json", "-d", str(data), "import", "openclaw"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env_dir)
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    report = json.loads(proc.stdout)
    assert report["source"] == "openclaw" and report["dir"] == str(state)
    [s] = report["sessions"]
    assert s["bot_id"] == bot["bot_id"] and s["session"] == bot["bot_id"].split("@")[0]
    assert (s["credentials"], s["cursor"], s["context_tokens_new"]) == ("imported", True, 1)
    assert snapshot(state) == source_before

    [status] = wxlink(data, "status")
    assert (status["bot_id"], status["status"], status["users"]) == (bot["bot_id"], "connected", 1)

    fake.post("config", {"empty_cursor_replays": True})
    new = fake.inject(text="wxlink gets this", from_user_id=PEER, bot_id=bot["bot_id"])
    got = wxlink(data, "recv", "--timeout", "15")
    assert [m["message_id"] for m in got] == [str(new["message_id"])], got
    assert answer["get_updates_buf"] in getupdates_cursors(fake, bot["token"])
    # The message OpenClaw had is not delivered again (polling started past it).
    assert wxlink(data, "history")["total"] == 1

    # The imported context token lets wxlink answer at once (no new message needed first).
    sent = wxlink(data, "send", PEER, "--text", "回复")
    assert sent, sent
    assert any(m["msg"]["to_user_id"] == PEER for m in fake.sent())

    again = json.loads(subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env_dir).stdout)
    assert (again["sessions"][0]["credentials"], again["sessions"][0]["context_tokens_new"]) == ("kept_existing", 0)
