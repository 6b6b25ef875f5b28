"""The sandbox fixtures the MCP and browser suites share: ``sandbox`` (session scope:
``wxlink sandbox --port 0 --json`` as a real process, as a ``FakeControl``) and ``fake`` (per
test: the sandbox reset, every switch back at its start-up value plus ``FAST_CONFIG``).

A suite's ``conftest.py`` imports them by name (``from sandbox_fixtures import fake, sandbox``)
and pytest registers them there. The binary is ``$WXLINK_BIN`` (the suites' runners set it),
else ``<repo>/target/debug/wxlink``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from fakectl import FakeControl, SandboxError, start_sandbox, stop_process

DEFAULT_BIN = str(Path(__file__).resolve().parents[2] / "target" / "debug" / "wxlink")
STARTUP_TIMEOUT_S = 20.0

# Switches applied before every test: short long-polls so pollers react fast, no QR auto-confirm
# (tests script the QR flow or turn it on themselves).
FAST_CONFIG: dict[str, Any] = {
    "hold_ms": 300,
    "longpolling_timeout_ms": 1000,
    "qr_hold_ms": 200,
    "qr_auto_confirm": False,
}


def wxlink_bin() -> str:
    return os.environ.get("WXLINK_BIN", DEFAULT_BIN)


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory):
    log_path = tmp_path_factory.mktemp("sandbox") / "sandbox.stderr"
    try:
        proc, ctl = start_sandbox(wxlink_bin(), log_path, STARTUP_TIMEOUT_S)
    except SandboxError as e:
        # Stop the whole run once, with one clear message, instead of erroring every test.
        pytest.exit(str(e), returncode=pytest.ExitCode.TESTS_FAILED)
    try:
        yield ctl
    finally:
        stop_process(proc)


@pytest.fixture
def fake(sandbox: FakeControl) -> FakeControl:
    """The sandbox, reset, with every switch back at its start-up value plus FAST_CONFIG."""
    sandbox.reset()
    sandbox.post("config", {**sandbox.startup_config, **FAST_CONFIG})
    return sandbox
