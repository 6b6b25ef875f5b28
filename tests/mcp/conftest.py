"""Fixtures for the end-to-end MCP suite: the official MCP Python client drives ``wxlink mcp``
over stdio, and ``wxlink sandbox`` (the fake iLink server) plays WeChat.

- ``sandbox`` (session): ``wxlink sandbox --port 0 --json`` as a real process; a
  ``FakeControl`` (from ``tests/interop/fakectl.py``) for its control API.
- ``fake`` (per test): the sandbox reset, with fast switches and QR auto-confirm off.
- ``wx`` (per test): a ``Wxlink`` launcher for ``wxlink mcp`` on a fresh data directory
  pointed at the sandbox (``-d DIR --ilink-base URL --cdn-base URL``).
- ``wechaty_peer`` (session) / ``peer`` (per test, logs cleared): the project's Wechaty Puppet
  Service test peer, ``node tests/wechaty-peer/server.mjs`` on free ports, as a ``WechatyPeer``
  (its control API); ``start_peer`` starts extra peers with their own environment.

Environment: ``WXLINK_BIN`` (default ``<repo>/target/debug/wxlink``; run.sh sets it).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import urllib.error
import urllib.request
import sys
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator

import pytest

HERE = Path(__file__).resolve().parent
INTEROP = HERE.parent / "interop"
for p in (HERE, INTEROP):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from fakectl import FakeControl, read_json_line  # noqa: E402
from sandbox_fixtures import fake, sandbox, wxlink_bin  # noqa: E402,F401
from mcp import Client, StdioServerParameters  # noqa: E402









class Wxlink:
    """Launches ``wxlink mcp`` (stdio) on one data directory, pointed at the sandbox."""

    def __init__(self, fake: FakeControl, data_dir: Path, stderr_path: Path) -> None:
        self.fake = fake
        self.data_dir = data_dir
        self.stderr_path = stderr_path

    def argv(self, *extra: str) -> list[str]:
        return [
            wxlink_bin(),
            "-d",
            str(self.data_dir),
            "--ilink-base",
            self.fake.base_url,
            "--cdn-base",
            self.fake.cdn_url,
            "--log-level",
            "info",
            "mcp",
            *extra,
        ]

    def params(self, *extra: str) -> StdioServerParameters:
        argv = self.argv(*extra)
        return StdioServerParameters(command=argv[0], args=argv[1:], env={"NO_PROXY": "*"})

    @asynccontextmanager
    async def client(
        self, mode: str = "auto", extra: tuple[str, ...] = (), **kwargs: Any
    ) -> AsyncIterator[Client]:
        """A client of ``wxlink mcp EXTRA…`` over stdio."""
        # The server's stderr (its logs) goes to a file, to show when a test fails.
        with open(self.stderr_path, "a", encoding="utf-8") as errlog:
            from mcp.client.stdio import stdio_client

            transport = stdio_client(self.params(*extra), errlog=errlog)
            async with Client(transport, mode=mode, **kwargs) as c:
                yield c

    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


@pytest.fixture
def wx(fake: FakeControl, tmp_path: Path, request: pytest.FixtureRequest):
    server = Wxlink(fake, tmp_path / "data", tmp_path / "server.stderr")
    yield server
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        sys.stderr.write(f"\n--- wxlink mcp stderr ---\n{server.stderr()[-4000:]}\n")


class McpServerProcess:
    """``wxlink mcp -t TRANSPORT -p 0 [--token T]`` on one data directory with the iLink side
    pointed at the sandbox: waits for its ``listening on`` line (``url``), stops with SIGTERM
    and returns the exit code."""

    def __init__(
        self,
        fake: FakeControl,
        data_dir: Path,
        stderr_path: Path,
        transport: str = "http",
        token: str | None = None,
    ) -> None:
        self.transport = transport
        self.stderr_path = stderr_path
        argv = [
            wxlink_bin(),
            "-d",
            str(data_dir),
            "--ilink-base",
            fake.base_url,
            "--cdn-base",
            fake.cdn_url,
            "--log-level",
            "info",
            "mcp",
            "-t",
            transport,
            "-p",
            "0",
        ]
        if token is not None:
            argv += ["--token", token]
        self._errlog = open(stderr_path, "wb")
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._errlog
        )
        self.url = self._wait_for_url()

    def _wait_for_url(self) -> str:
        import re

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            m = re.search(r"listening on (http://\S+)", self.stderr())
            if m:
                return m.group(1)
            if self.proc.poll() is not None:
                raise AssertionError(f"wxlink mcp exited ({self.proc.returncode}): {self.stderr()}")
            time.sleep(0.05)
        raise AssertionError(f"no `listening on` line: {self.stderr()}")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._errlog.close()
        return self.proc.returncode


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def run(coro):
    """Runs one async test body."""
    return asyncio.run(coro)


async def qr_login(c: Client, fake: FakeControl, user: str, session: str = "") -> dict:
    """Logs an iLink session in through the `login` tool (the fake confirms as `user`); the
    final answer. The login runs in the background, so a fast fake may confirm it before the
    first answer: both orders are accepted."""
    fake.qr_script("scaned", {"status": "confirmed", "user_id": user})

    async def login(args: dict) -> dict:
        r = await c.call_tool("login", args)
        assert not r.is_error and r.structured_content is not None, r
        return r.structured_content

    out = await login({"session_name": session})
    assert out["status"] in ("pending", "confirmed"), out
    for _ in range(10):
        if out["status"] == "confirmed":
            return out
        out = await login({"timeout": 10})
    raise AssertionError(f"login did not confirm: {out}")


# ---------------------------------------------------------------------------------------------
# The Wechaty Puppet Service test peer (tests/wechaty-peer)
# ---------------------------------------------------------------------------------------------

PEER_DIR = HERE.parent / "wechaty-peer"
PEER_STARTUP_TIMEOUT_S = 60.0


class PeerError(Exception):
    """The peer's control API answered an HTTP error."""


class WechatyPeer:
    """``node tests/wechaty-peer/server.mjs`` and its control API (see its README)."""

    def __init__(self, log_path: Path, env: dict[str, str] | None = None) -> None:
        if not (PEER_DIR / "node_modules").is_dir():
            pytest.fail(
                f"the Wechaty test peer is not installed ({PEER_DIR / 'node_modules'} is missing): "
                "run `npm ci --prefix tests/wechaty-peer` (scripts/test.sh does)",
                pytrace=False,
            )
        node = shutil.which("node")
        if node is None:
            pytest.fail("`node` (>= 18) is not on PATH: the Wechaty test peer needs it", pytrace=False)
        self.log_path = log_path
        self._log = open(log_path, "wb")
        full_env = {
            **os.environ,
            # The peer exits when our end of its stdin closes, so no peer outlives the run.
            "WECHATY_PEER_EXIT_WITH_STDIN": "1",
            "WECHATY_PEER_GRPC_PORT": "0",
            "WECHATY_PEER_CONTROL_PORT": "0",
            **(env or {}),
        }
        self.proc = subprocess.Popen(
            [node, str(PEER_DIR / "server.mjs")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=full_env,
        )
        try:
            info = json.loads(read_json_line(self.proc, PEER_STARTUP_TIMEOUT_S))
            assert info.get("ready") is True, info
        except Exception as e:  # noqa: BLE001 - one clear failure
            self.stop()
            pytest.fail(f"the Wechaty test peer did not start: {e!r}\nstderr:\n{self.stderr()[-3000:]}")
        self.grpc: str = info["grpc"]
        self.control: str = info["control"].rstrip("/")
        self.token: str = info["token"]
        self.pid: int = info["pid"]

    def stderr(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.control + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(req, timeout=15) as resp:
                payload = resp.read()
        except urllib.error.HTTPError as e:
            raise PeerError(f"{method} {path} -> HTTP {e.code}: {e.read()!r}") from None
        return json.loads(payload) if payload else None

    def get(self, path: str) -> Any:
        return self._call("GET", path)

    def post(self, path: str, body: Any = None) -> Any:
        return self._call("POST", path, {} if body is None else body)

    def health(self) -> dict:
        return self.get("/health")

    def sent(self) -> list[dict]:
        return self.get("/sent")

    def reset_log(self) -> None:
        self.post("/reset-log")

    def inject(self, **spec: Any) -> dict:
        return self.post("/inject", spec)

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                if self.proc.stdin:
                    self.proc.stdin.close()
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=5)
        if self.proc.stdout:
            self.proc.stdout.close()
        self._log.close()


@pytest.fixture(scope="session")
def start_peer(tmp_path_factory: pytest.TempPathFactory):
    """Starts peers (``start_peer(**env)``); all are stopped at the end of the run."""
    peers: list[WechatyPeer] = []

    def start(**env: str) -> WechatyPeer:
        log = tmp_path_factory.mktemp("wechaty-peer") / "peer.stderr"
        peer = WechatyPeer(log, env)
        peers.append(peer)
        return peer

    yield start
    for peer in peers:
        peer.stop()


@pytest.fixture(scope="session")
def wechaty_peer(start_peer) -> WechatyPeer:
    """One peer for the run (the puppet logs in 200 ms after the first Start and stays so)."""
    return start_peer()


@pytest.fixture
def peer(wechaty_peer: WechatyPeer) -> WechatyPeer:
    """The shared peer, with its sent/received logs cleared and its gRPC side up."""
    if not wechaty_peer.health().get("grpcUp"):
        wechaty_peer.post("/grpc/start")
    wechaty_peer.reset_log()
    return wechaty_peer
