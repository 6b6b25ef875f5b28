"""Talk to the fake iLink server's control API (``/__fake/``) with stdlib urllib only.

Shared by ``conftest.py`` and ``test_weilink_interop.py``. The routes are documented at the top
of ``crates/ilink-fake/src/control.rs``; inbound specs follow ``crates/ilink-fake/src/inject.rs``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import selectors
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

# Switches applied before every test (merged over the sandbox's start-up config).
# longpolling_timeout_ms must stay small: weilink uses it as its socket timeout (+5 s).
FAST_CONFIG: dict[str, Any] = {
    "hold_ms": 300,
    "longpolling_timeout_ms": 1000,
    "qr_hold_ms": 200,
}

# The WeChat user who owns the bots created by the ``bot`` fixture.
OWNER = "o9cq80owner0000000000000@im.wechat"

# weilink's CDN URLs percent-encode like JS encodeURIComponent.
_URI_SAFE = "-_.!~*'()"


class ControlError(AssertionError):
    """The control API refused a request (HTTP 4xx/5xx)."""


class FakeControl:
    """A thin client for one running ``wxlink sandbox``."""

    def __init__(self, base_url: str, cdn_url: str, control_url: str) -> None:
        self.base_url = base_url  # "http://127.0.0.1:PORT/"
        self.cdn_url = cdn_url
        self.control_url = control_url
        # weilink concatenates f"{base}/ilink/...", so it needs the base without the slash.
        self.api_base = base_url.rstrip("/")
        parsed = urllib.parse.urlsplit(base_url)
        self.host = parsed.hostname or "127.0.0.1"
        self.port = parsed.port or 80

    # -- raw HTTP -------------------------------------------------------------------------

    def _call(self, method: str, path: str, body: Any = None, raw: bool = False) -> Any:
        url = self.control_url + path.lstrip("/")
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        # The control API is loopback-only; never go through a proxy.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(req, timeout=10) as resp:
                payload = resp.read()
        except urllib.error.HTTPError as e:
            raise ControlError(f"{method} {url} -> HTTP {e.code}: {e.read()!r}") from None
        if raw:
            return payload
        return json.loads(payload) if payload else None

    def get(self, path: str, **query: str) -> Any:
        if query:
            path = f"{path}?{urllib.parse.urlencode(query)}"
        return self._call("GET", path)

    def post(self, path: str, body: Any = None) -> Any:
        return self._call("POST", path, {} if body is None else body)

    # -- routes ---------------------------------------------------------------------------

    def health(self) -> dict:
        return self.get("health")

    def config(self, **switches: Any) -> dict:
        return self.post("config", switches) if switches else self.get("config")

    def reset(self) -> None:
        self.post("reset")

    def create_bot(self, user_id: str | None = None) -> dict:
        return self.post("bots", {"user_id": user_id} if user_id else {})

    def bots(self) -> list[dict]:
        return self.get("bots")

    def expire(self, bot_id: str) -> None:
        self.post(f"bots/{urllib.parse.quote(bot_id, safe='')}/expire")

    def inject(self, **spec: Any) -> dict:
        """POST inbound; returns the queued message JSON (message_id stays an exact int)."""
        return self.post("inbound", spec)["message"]

    def inject_bulk(self, specs: list[dict]) -> list[int]:
        """POST many inbound specs in one request (all bots checked first); their message ids."""
        return self.post("inbound/bulk", {"messages": specs})["message_ids"]

    def delivered(self, bot_id: str) -> list[dict]:
        return self.get(f"delivered/{urllib.parse.quote(bot_id, safe='')}")

    def qr_script(self, *steps: Any) -> None:
        self.post("qr/script", {"steps": list(steps)})

    def fault(self, endpoint: str, fault: Any, times: int = 1, bot_id: str | None = None) -> None:
        """Arms a fault; with ``bot_id`` only that bot's requests hit it (so a stray poller
        from another test cannot take it)."""
        body = {"endpoint": endpoint, "fault": fault, "times": times}
        if bot_id:
            body["bot_id"] = bot_id
        self.post("faults", body)

    def requests(self, endpoint: str | None = None) -> list[dict]:
        return self.get("requests", endpoint=endpoint) if endpoint else self.get("requests")

    def sent(self) -> list[dict]:
        return self.get("sent")

    def uploads(self) -> list[dict]:
        return self.get("uploads")

    def upload_plain(self, n: int) -> bytes:
        return self._call("GET", f"uploads/{n}/plain", raw=True)

    def typing(self) -> list[dict]:
        return self.get("typing")

    def wait_for_requests(self, endpoint: str, count: int, timeout: float = 10.0) -> list[dict]:
        """Polls the request record until ``count`` requests to ``endpoint`` were seen."""
        deadline = time.monotonic() + timeout
        while True:
            reqs = self.requests(endpoint)
            if len(reqs) >= count or time.monotonic() > deadline:
                return reqs
            time.sleep(0.02)


# -- small utilities ----------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def padded_size(n: int) -> int:
    """AES-128-ECB + PKCS#7 ciphertext size (always adds 1..16 bytes)."""
    return (n // 16 + 1) * 16


def sample_bytes(n: int, salt: int = 0) -> bytes:
    """Deterministic, non-repeating-looking bytes (all 256 values appear for n >= 256)."""
    return bytes((i * 131 + salt * 17 + (i >> 8)) % 256 for i in range(n))


def encode_uri_component(s: str) -> str:
    return urllib.parse.quote(s, safe=_URI_SAFE)


def query_param(query: str, name: str) -> str | None:
    values = urllib.parse.parse_qs(query).get(name)
    return values[0] if values else None


def seed_session(base_path: Path, bot: dict, api_base: str) -> Path:
    """Writes ``<base_path>/default/token.json`` so WeiLink starts logged in (notes §1)."""
    token_path = base_path / "default" / "token.json"
    token_path.parent.mkdir(parents=True, exist_ok=True)
    token_path.write_text(
        json.dumps(
            {
                "bot_id": bot["bot_id"],
                "base_url": api_base,
                "token": bot["token"],
                "user_id": bot["user_id"],
            }
        )
    )
    return token_path


def recv_all(wl: Any, count: int, timeout: float = 10.0) -> list:
    """Calls ``wl.recv`` until ``count`` messages arrived (or the deadline passed)."""
    got: list = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        got.extend(wl.recv(timeout=2))
    return got


# ---------------------------------------------------------------------------------------------
# Running the sandbox (shared by the interop and MCP suites' ``sandbox`` fixtures)
# ---------------------------------------------------------------------------------------------


class SandboxError(Exception):
    """``wxlink sandbox`` could not be started; the message says why (with its stderr)."""


def read_json_line(proc: subprocess.Popen, timeout: float) -> str:
    """Reads a child process's first stdout line without blocking forever."""
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    buf = b""
    deadline = time.monotonic() + timeout
    try:
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no line on stdout within {timeout:.0f} s")
            if not sel.select(timeout=left):
                continue
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                raise EOFError(f"the process closed stdout (exit code {proc.poll()})")
            buf += chunk
    finally:
        sel.close()
    return buf.split(b"\n", 1)[0].decode()


def stop_process(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after 5 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    if proc.stdout:
        proc.stdout.close()


def start_sandbox(binary: str, log_path: Path, timeout: float = 20.0) -> tuple[subprocess.Popen, FakeControl]:
    """Runs ``wxlink sandbox --port 0 --json`` (stderr to ``log_path``), reads its one JSON line
    and checks its health; returns the process and a ``FakeControl`` whose ``startup_config``
    holds the switches it started with. Raises ``SandboxError`` with a clear message."""
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        raise SandboxError(
            f"wxlink binary not found or not executable: {binary!r}. "
            "Build it with `cargo build -p wxlink` (from the repository root) or set WXLINK_BIN."
        )
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [binary, "sandbox", "--port", "0", "--json", "--hold-ms", "1000"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
        )
    try:
        info = json.loads(read_json_line(proc, timeout))
        ctl = FakeControl(info["base_url"], info["cdn_url"], info["control_url"])
        health = ctl.health()
        if health.get("ok") is not True:
            raise SandboxError(f"unhealthy: {health}")
        if not info["base_url"].startswith("http://127.0.0.1:") or info["control_url"] != info["base_url"] + "__fake/":
            raise SandboxError(f"unexpected URLs: {info}")
    except Exception as e:  # noqa: BLE001 - turned into one clear failure
        stop_process(proc)
        stderr = log_path.read_text(errors="replace")[-2000:]
        raise SandboxError(f"wxlink sandbox did not start: {e!r}\nstderr:\n{stderr}") from e
    ctl.startup_config = ctl.config()
    return proc, ctl


def wxlink_flags(binary: str, fake: FakeControl, home: Path) -> list[str]:
    """``wxlink -d HOME`` pointed at the sandbox ``fake`` (API and CDN): a command prefix."""
    return [binary, "-d", str(home), "--ilink-base", fake.base_url, "--cdn-base", fake.cdn_url]


def login_account(flags: list[str], fake: FakeControl, env: dict,
                  name: str | None = None) -> tuple[str, str]:
    """``wxlink login [NAME]`` against the sandbox, its QR code confirmed at once (the fake
    switches this on); the bot id and the WeChat user who bound it."""
    fake.config(qr_auto_confirm=True)
    out = subprocess.run([*flags, "--json", "login", *([name] if name else [])], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    if out.returncode != 0:
        raise RuntimeError(f"wxlink login {name or ''} exited {out.returncode}: "
                           f"stdout {out.stdout.decode(errors='replace')[-500:]!r}, "
                           f"stderr {out.stderr.decode(errors='replace')[-1500:]!r}")
    bot = json.loads(out.stdout)["bot_id"]
    return bot, next(b["user_id"] for b in fake.bots() if b["bot_id"] == bot)
