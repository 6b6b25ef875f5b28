"""Fixtures for the weilink 0.6.2 <-> ilink-fake interop suite.

- ``sandbox`` (session): runs ``wxlink sandbox --port 0 --json`` as a real process, parses its
  one JSON line, points weilink at it (``weilink_smoke.point_weilink_at``), stops it with SIGTERM.
- ``fake`` (per test): resets the fake and applies fast switches over the start-up config.
- ``wl_path`` (per test): a fresh weilink ``base_path``.
- ``bot`` / ``wl`` (per test): a bot minted through the control API, and a ``WeiLink`` whose
  ``token.json`` is pre-seeded with it (the QR flow is exercised by the login tests).

Environment: ``WXLINK_BIN`` (default ``<repo>/target/debug/wxlink``; run.sh sets it).
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from fakectl import FAST_CONFIG, OWNER, FakeControl, seed_session  # noqa: E402
from weilink_smoke import point_weilink_at  # noqa: E402

DEFAULT_BIN = str(Path(__file__).resolve().parents[2] / "target" / "debug" / "wxlink")
STARTUP_TIMEOUT_S = 20.0


def _read_json_line(proc: subprocess.Popen, timeout: float) -> str:
    """Reads the sandbox's first stdout line without blocking forever."""
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    buf = b""
    deadline = time.monotonic() + timeout
    try:
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no JSON line from the sandbox within {timeout:.0f} s")
            if not sel.select(timeout=left):
                continue
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                raise EOFError(f"sandbox closed stdout (exit code {proc.poll()})")
            buf += chunk
    finally:
        sel.close()
    return buf.split(b"\n", 1)[0].decode()


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    if proc.stdout:
        proc.stdout.close()


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory):
    binary = os.environ.get("WXLINK_BIN", DEFAULT_BIN)
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        # Stop the whole run once, with one clear message, instead of erroring every test.
        pytest.exit(
            f"wxlink binary not found or not executable: {binary!r}. "
            "Build it with `cargo build -p wxlink` (from the repository root) or set WXLINK_BIN.",
            returncode=pytest.ExitCode.TESTS_FAILED,
        )
    log_path = tmp_path_factory.mktemp("sandbox") / "sandbox.stderr"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [binary, "sandbox", "--port", "0", "--json", "--hold-ms", "1000"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
        )
    try:
        try:
            line = _read_json_line(proc, STARTUP_TIMEOUT_S)
            info = json.loads(line)
            ctl = FakeControl(info["base_url"], info["cdn_url"], info["control_url"])
            health = ctl.health()
        except Exception as e:  # noqa: BLE001 - turned into one clear failure
            _stop(proc)
            stderr = log_path.read_text(errors="replace")[-2000:]
            pytest.exit(
                f"wxlink sandbox did not start: {e!r}\nstderr:\n{stderr}",
                returncode=pytest.ExitCode.TESTS_FAILED,
            )
        assert health["ok"] is True, health
        assert info["base_url"].startswith("http://127.0.0.1:"), info
        assert info["control_url"] == info["base_url"] + "__fake/", info
        ctl.startup_config = ctl.config()
        point_weilink_at(ctl.api_base)
        yield ctl
    finally:
        _stop(proc)


@pytest.fixture
def fake(sandbox: FakeControl) -> FakeControl:
    """The sandbox, reset, with every switch back at its start-up value plus FAST_CONFIG."""
    sandbox.reset()
    sandbox.post("config", {**sandbox.startup_config, **FAST_CONFIG})
    # Re-apply the redirection (a test may have monkeypatched one of the globals).
    point_weilink_at(sandbox.api_base)
    return sandbox


@pytest.fixture
def wl_path(tmp_path: Path) -> Path:
    path = tmp_path / "weilink"
    path.mkdir()
    return path


@pytest.fixture
def bot(fake: FakeControl, wl_path: Path) -> dict:
    """A logged-in bot owned by OWNER, written into ``wl_path``'s token.json."""
    account = fake.create_bot(OWNER)
    seed_session(wl_path, account, fake.api_base)
    return account


@pytest.fixture
def wl(bot: dict, wl_path: Path):
    from weilink import WeiLink

    client = WeiLink(base_path=wl_path)
    assert client.is_connected and client.bot_id == bot["bot_id"]
    try:
        yield client
    finally:
        client.close()
