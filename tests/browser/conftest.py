"""Fixtures of the admin panel's browser suite: real headless Chromium over WebDriver against
``wxlink serve``, with ``wxlink sandbox`` (the fake iLink server) playing WeChat.

- ``sandbox`` (session): ``wxlink sandbox --port 0 --json`` and its control API (``FakeControl``
  from ``tests/interop/fakectl.py``); ``fake`` (per test): reset, fast switches, no QR
  auto-confirm.
- ``server`` (per test): ``wxlink serve -p 0 --token …`` on a fresh data directory pointed at the
  sandbox, with a small REST client (``server.api``) to set the scene.
- ``driver`` (session): one Chromium; ``panel`` (per test): the driver on this test's server,
  signed out, with helpers to wait, click and take screenshots.

Environment: ``WXLINK_BIN``, ``CHROMIUM``, ``CHROMEDRIVER``, ``BROWSER_ARTIFACTS`` (run.sh sets
them).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Callable

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
INTEROP = ROOT / "tests" / "interop"
if str(INTEROP) not in sys.path:
    sys.path.insert(0, str(INTEROP))

from fakectl import FakeControl  # noqa: E402
from sandbox_fixtures import STARTUP_TIMEOUT_S, fake, sandbox, wxlink_bin  # noqa: E402,F401
from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

TOKEN = "browser-suite-token-0123456789"
FINAL_PHASES = {"confirmed", "already_bound", "failed"}



def artifacts_dir() -> Path:
    d = Path(os.environ.get("BROWSER_ARTIFACTS", str(ROOT / "target" / "browser-artifacts")))
    d.mkdir(parents=True, exist_ok=True)
    return d


# ---------------------------------------------------------------------------------------------
# The fake and the server
# ---------------------------------------------------------------------------------------------






class ApiError(AssertionError):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


class Server:
    """``wxlink serve -p 0 --token TOKEN`` on one data directory, iLink at the sandbox."""

    def __init__(self, fake: FakeControl, data_dir: Path, stderr_path: Path) -> None:
        self.fake = fake
        self.stderr_path = stderr_path
        argv = [
            wxlink_bin(), "-d", str(data_dir), "--ilink-base", fake.base_url, "--cdn-base", fake.cdn_url,
            "--log-level", "info", "serve", "-p", "0", "--token", TOKEN, "--max-upload-mb", "1",
        ]
        self._errlog = open(stderr_path, "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._errlog)
        self.url = self._wait_for_url()
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def _wait_for_url(self) -> str:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            m = re.search(r"listening on (http://[^\s,;)]+)", self.stderr())
            if m:
                return m.group(1).rstrip("/")
            if self.proc.poll() is not None:
                raise AssertionError(f"wxlink serve exited ({self.proc.returncode}): {self.stderr()}")
            time.sleep(0.05)
        raise AssertionError(f"wxlink serve printed no `listening on` line: {self.stderr()}")

    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._errlog.close()

    # -- REST, with the bearer token -----------------------------------------------------------

    def api(self, method: str, path: str, body: Any = None, **query: Any) -> Any:
        if query:
            path = f"{path}?{urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})}"
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {TOKEN}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with self._opener.open(req, timeout=70) as resp:
                payload = resp.read()
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                raise ApiError(e.code, json.loads(raw)) from None
            except json.JSONDecodeError:
                raise ApiError(e.code, raw) from None
        return json.loads(payload) if payload else None

    def login(self, user: str, session: str | None = None) -> dict:
        """Logs an iLink session in through the REST API (the fake confirms as ``user``)."""
        self.fake.qr_script("scaned", {"status": "confirmed", "user_id": user})
        body: dict[str, Any] = {"backend": "ilink"}
        if session:
            body["session"] = session
        out = self.api("POST", "/api/v1/logins", body)
        if "already_logged_in" in out:
            return out["already_logged_in"]
        deadline = time.monotonic() + 30
        while out["phase"] not in FINAL_PHASES and time.monotonic() < deadline:
            out = self.api("GET", "/api/v1/logins/ilink", after_version=out["version"], wait=10)
        assert out["phase"] == "confirmed", out
        return out["confirmed"]

    def messages(self, **query: Any) -> dict:
        return self.api("GET", "/api/v1/messages", **query)

    def wait_messages(self, count: int, timeout: float = 10.0, **query: Any) -> list[dict]:
        deadline = time.monotonic() + timeout
        while True:
            got = self.messages(**query)["messages"]
            if len(got) >= count or time.monotonic() > deadline:
                return got
            time.sleep(0.05)


@pytest.fixture
def server(fake: FakeControl, tmp_path: Path, request: pytest.FixtureRequest):
    srv = Server(fake, tmp_path / "data", tmp_path / "serve.stderr")
    yield srv
    srv.stop()
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        sys.stderr.write(f"\n--- wxlink serve stderr ---\n{srv.stderr()[-4000:]}\n")


# ---------------------------------------------------------------------------------------------
# The browser
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def driver():
    opts = webdriver.ChromeOptions()
    for arg in (
        "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
        "--window-size=1280,900", "--lang=en-US", "--no-first-run", "--no-default-browser-check",
        "--disable-extensions", "--disable-background-networking", "--disable-sync",
        "--disable-component-update", "--metrics-recording-only", "--no-proxy-server",
    ):
        opts.add_argument(arg)
    opts.add_experimental_option("prefs", {"intl.accept_languages": "en-US,en"})
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    chromium = os.environ.get("CHROMIUM")
    if chromium:
        opts.binary_location = chromium
    service = Service(executable_path=os.environ.get("CHROMEDRIVER", "chromedriver"))
    d = webdriver.Chrome(service=service, options=opts)
    d.set_page_load_timeout(30)
    try:
        yield d
    finally:
        d.quit()


class Panel:
    """The driver on one test's server, with small helpers."""

    def __init__(self, driver: webdriver.Chrome, server: Server) -> None:
        self.d = driver
        self.server = server
        self.base = f"{server.url}/admin/"

    # -- finding and waiting --------------------------------------------------------------------

    def css(self, selector: str) -> WebElement:
        return self.d.find_element(By.CSS_SELECTOR, selector)

    def all(self, selector: str) -> list[WebElement]:
        return self.d.find_elements(By.CSS_SELECTOR, selector)

    def wait(self, cond: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
        def check(_d: Any) -> Any:
            try:
                return cond()
            except (StaleElementReferenceException, WebDriverException):
                return False

        return WebDriverWait(self.d, timeout, poll_frequency=0.05).until(check, what or getattr(cond, "__name__", ""))

    def visible(self, selector: str, timeout: float = 10.0) -> WebElement:
        def find() -> WebElement | bool:
            els = [e for e in self.all(selector) if e.is_displayed()]
            return els[0] if els else False

        return self.wait(find, timeout, f"{selector} visible")

    def click(self, selector: str, timeout: float = 10.0) -> None:
        """Clicks what ``selector`` finds, again if the page redrew it in between."""

        def attempt() -> bool:
            els = [e for e in self.all(selector) if e.is_displayed()]
            if els:
                els[0].click()
            return bool(els)

        self.wait(attempt, timeout, f"click {selector}")

    def js(self, script: str, *args: Any) -> Any:
        return self.d.execute_script(script, *args)

    # -- navigation -----------------------------------------------------------------------------

    def open(self, route: str = "") -> None:
        self.d.get(self.base + (f"#/{route}" if route else ""))

    def go(self, route: str) -> None:
        """Follows a hash route in the page (no reload) and waits for its page."""
        page = route.split("/")[0].split("?")[0]
        self.js("location.hash = arguments[0]", f"#/{route}")
        self.wait(lambda: self.css("#main").get_attribute("data-page") == page, what=f"page {page}")

    def sign_in(self, token: str = TOKEN) -> None:
        field = self.visible("#token")
        field.clear()
        field.send_keys(token)
        self.css("#signin").click()

    def signed_in(self) -> None:
        """Signs in from a fresh load and waits for the dashboard."""
        self.open()
        self.sign_in()
        self.visible("#count-sessions")
        self.wait(lambda: self.css("#live-status").get_attribute("data-state") == "on", what="event stream")

    def shot(self, name: str) -> Path:
        path = artifacts_dir() / f"{name}.png"
        time.sleep(0.15)  # let the last paint settle
        self.d.save_screenshot(str(path))
        return path

    def console(self) -> list[dict]:
        try:
            return self.d.get_log("browser")
        except WebDriverException:
            return []


@pytest.fixture
def panel(driver: webdriver.Chrome, server: Server, request: pytest.FixtureRequest):
    driver.get("about:blank")
    # Every test's server shares 127.0.0.1 (cookies ignore ports) and the token: forget them all.
    driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
    driver.set_window_size(1280, 900)
    p = Panel(driver, server)
    p.console()  # drop what earlier tests logged
    yield p
    logs = p.console()
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        name = re.sub(r"[^\w.-]+", "_", request.node.name)
        try:
            p.shot(f"FAILED-{name}")
        except WebDriverException:
            pass
        (artifacts_dir() / f"FAILED-{name}.console.txt").write_text(
            "\n".join(f"{e.get('level')} {e.get('message')}" for e in logs))
    driver.get("about:blank")  # before the server stops: no page left talking to it
    # Errors in the page fail the test: a CSP violation or an exception is a bug.
    bad = [e for e in logs if e.get("level") == "SEVERE" and not _expected(e.get("message", ""))]
    if rep is not None and rep.passed:
        assert not bad, "console errors:\n" + "\n".join(e["message"] for e in bad)


def _expected(message: str) -> bool:
    """Console errors a test causes on purpose: HTTP errors the page handles (a wrong token's
    401, a refused send, a finished login's 404)."""
    return bool(re.search(r"Failed to load resource: the server responded with a status of (401|403|404|409|413|422|429|502)", message))


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
