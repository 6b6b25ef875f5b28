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
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from fakectl import FAST_CONFIG, OWNER, FakeControl, SandboxError, seed_session, start_sandbox, stop_process  # noqa: E402
from weilink_smoke import point_weilink_at  # noqa: E402

DEFAULT_BIN = str(Path(__file__).resolve().parents[2] / "target" / "debug" / "wxlink")
STARTUP_TIMEOUT_S = 20.0


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory):
    log_path = tmp_path_factory.mktemp("sandbox") / "sandbox.stderr"
    try:
        proc, ctl = start_sandbox(os.environ.get("WXLINK_BIN", DEFAULT_BIN), log_path, STARTUP_TIMEOUT_S)
    except SandboxError as e:
        # Stop the whole run once, with one clear message, instead of erroring every test.
        pytest.exit(str(e), returncode=pytest.ExitCode.TESTS_FAILED)
    try:
        point_weilink_at(ctl.api_base)
        yield ctl
    finally:
        stop_process(proc)


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
