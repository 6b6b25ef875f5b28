"""Soak: SIGKILL `wxlink mcp -t http` over and over while messages stream in, sends are in flight
and the fake iLink server injects every fault it knows; then count what was lost, duplicated or
left unaccounted.

Usage: python3 bench/soak.py [--bin PATH] [--kills N] [--consumers N] [--seed S] [--keep]
       [--json] [--no-require-sends-accounted] [more knobs: --help]

What runs (Python 3.11 stdlib only; MCP spoken as raw JSON-RPC over Streamable HTTP):

- the fake: `wxlink sandbox --port 0 --json --auto-confirm`, never killed; a data directory is
  logged in to it with `wxlink login` (the sandbox confirms the QR by itself);
- the victim: `wxlink mcp -t http -p PORT --token T` on that data directory (it polls the
  account), SIGKILLed after a uniform random delay (--min-delay..--max-delay from its start)
  and started again, --kills times;
- a feeder: `POST /__fake/inbound` of text `soak-<n>` with message_id BASE+n, every
  --feed-interval s; a --dup-rate fraction is injected again later with the same message_id
  (a duplicate delivery, which wxlink must drop);
- a fault armer: every --fault-interval s the next fault of a round-robin over every fault the
  fake has (HTTP 500, malformed and truncated JSON, dropped connection, delay, missing
  x-encrypted-param, CDN error) on every endpoint it applies to (getupdates, sendmessage,
  getuploadurl, cdn_upload);
- --consumers consumers: each its own MCP session calling `recv(consumer=soak-cN, after=C)` in
  a loop, C being the `cursor` of its last answer (so an answer a kill cut off comes again),
  reconnecting whenever the victim dies; every message is recorded;
- a sender: `send(to=<owner>, text="send-<k>")` every --send-min..--send-max s, every
  --file-every-th one with a small file attached (`file_name=soak-<k>.txt`, so uploads run and
  the getuploadurl / CDN faults fire). A send refused for the iLink quota (10 replies per
  inbound context token) or for lack of a context token is fine and counted on its own.

After the last kill the feeder, sender and faults stop, the victim is started one last time and
the consumers drain. Then it prints, per consumer, received / lost (injected, never seen) /
duplicated (seen more than once) / out of order; for sends: attempted, answered ok, answered
error, refused (quota), no answer (in flight when the victim died), and **unaccounted**: items
the fake accepted (`/__fake/sent`) with no row in wxlink's `history` (any status counts: sent,
failed, pending, unknown), plus items a send answered as sent that `history` lacks; peak RSS
of the victim (VmHWM and VmRSS sampled from /proc/PID/status); kills; faults armed. With
--json the report goes to stderr and stdout gets one JSON summary line.

Exit code: 0 when nothing inbound was lost or duplicated for any consumer, no send is
unaccounted (unless --no-require-sends-accounted) and the victim never died on its own; 1
otherwise (also when the harness itself fails); 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import http.client
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTOCOL = "2025-06-18"
MSG_ID_BASE = 6_100_000_000_000_000_000  # far below the fake's own ids (7.46e18 and up)
REFUSED_KINDS = ("[quota_exhausted]", "[no_context_token]")


def log(*args) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}]", *args, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_line(proc: subprocess.Popen, timeout: float) -> str:
    """The first stdout line of a child, without blocking forever."""
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    buf = b""
    deadline = time.monotonic() + timeout
    try:
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no line on stdout within {timeout:.0f} s")
            if sel.select(left):
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    raise EOFError(f"the process closed stdout (exit code {proc.poll()})")
                buf += chunk
    finally:
        sel.close()
    return buf.split(b"\n", 1)[0].decode()


def proc_status(pid: int) -> dict[str, int]:
    """VmHWM and VmRSS (kB) of a live process; {} when it is gone."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmHWM:", "VmRSS:")):
                    key, value = line.split(":", 1)
                    out[key] = int(value.split()[0])
    except (OSError, ValueError):
        return {}
    return out


# ---------------------------------------------------------------------------------------------
# The fake's control API
# ---------------------------------------------------------------------------------------------


class Fake:
    def __init__(self, control_url: str) -> None:
        self.control = control_url
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def call(self, method: str, path: str, body=None, timeout: float = 10.0):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.control + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with self.opener.open(req, timeout=timeout) as resp:
            payload = resp.read()
        return json.loads(payload) if payload else None

    def post(self, path: str, body) -> dict:
        return self.call("POST", path, body)

    def get(self, path: str):
        return self.call("GET", path)


# ---------------------------------------------------------------------------------------------
# MCP over Streamable HTTP, raw JSON-RPC
# ---------------------------------------------------------------------------------------------


class NotSent(Exception):
    """The request never reached a live server session: nothing listens, or the session is
    unknown to this incarnation (it was made with a killed one). Safe to retry."""


class Lost(Exception):
    """The request was written but no answer came: the server died (or hung) meanwhile."""


class McpHttp:
    """One MCP session (initialize, Mcp-Session-Id) on `http://127.0.0.1:PORT/mcp`."""

    def __init__(self, port: int, token: str) -> None:
        self.port, self.token = port, token
        self.session: str | None = None
        self.next_id = 1
        self.timeouts = 0  # requests whose answer did not come within their timeout

    def _post(self, msg: dict, timeout: float) -> dict | None:
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
        }
        if self.session:
            headers["Mcp-Session-Id"] = self.session
            headers["MCP-Protocol-Version"] = PROTOCOL
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            try:
                conn.connect()
            except OSError as e:
                raise NotSent(f"connect: {e!r}") from None
            try:
                conn.request("POST", "/mcp", json.dumps(msg).encode(), headers)
                resp = conn.getresponse()
            except socket.timeout:
                self.timeouts += 1
                raise Lost("timed out waiting for the answer") from None
            except (OSError, http.client.HTTPException) as e:
                raise Lost(f"{e!r}") from None
            if resp.status in (404, 400, 401) and self.session is not None:
                raise NotSent(f"HTTP {resp.status}: {resp.read()[:200]!r}")
            if resp.status == 202:
                resp.read()
                return None
            if resp.status != 200:
                raise RuntimeError(f"HTTP {resp.status}: {resp.read()[:300]!r}")
            if self.session is None:
                self.session = resp.getheader("mcp-session-id")
            ctype = resp.getheader("content-type", "")
            try:
                if ctype.startswith("application/json"):
                    return json.loads(resp.read())
                return self._sse_answer(resp, msg.get("id"))
            except socket.timeout:
                self.timeouts += 1
                raise Lost("timed out reading the answer") from None
            except (OSError, http.client.HTTPException, ValueError) as e:
                raise Lost(f"{e!r}") from None
        finally:
            conn.close()

    @staticmethod
    def _sse_answer(resp, rid) -> dict:
        data: list[str] = []
        while True:
            line = resp.readline()
            if not line:
                raise Lost("the event stream ended without the answer")
            line = line.decode().rstrip("\r\n")
            if line.startswith("data:"):
                data.append(line[5:].lstrip(" "))
                continue
            if line == "" and data:
                text = "\n".join(data)
                data = []
                if not text.strip():
                    continue
                msg = json.loads(text)
                if isinstance(msg, dict) and msg.get("id") == rid and (
                    "result" in msg or "error" in msg
                ):
                    return msg

    def request(self, method: str, params: dict, timeout: float = 30.0) -> dict:
        rid, self.next_id = self.next_id, self.next_id + 1
        msg = self._post({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}, timeout)
        if msg is None:
            raise Lost("no answer to a request")
        if "error" in msg:
            raise RuntimeError(f"JSON-RPC error from {method}: {msg['error']}")
        return msg["result"]

    def connect(self, timeout: float = 10.0) -> None:
        self.session = None
        self.request("initialize", {"protocolVersion": PROTOCOL, "capabilities": {},
                                    "clientInfo": {"name": "wxlink-soak", "version": "0"}},
                     timeout)
        self._post({"jsonrpc": "2.0", "method": "notifications/initialized"}, timeout)

    def call(self, tool: str, args: dict, timeout: float = 30.0) -> dict:
        return self.request("tools/call", {"name": tool, "arguments": args}, timeout)


def payload(result: dict):
    if result.get("structuredContent") is not None:
        return result["structuredContent"]
    for item in result.get("content", []):
        if item.get("type") == "text":
            try:
                return json.loads(item["text"])
            except ValueError:
                return item["text"]
    return None


def error_text(result: dict) -> str:
    return " ".join(i.get("text", "") for i in result.get("content", []) if i.get("type") == "text")


# ---------------------------------------------------------------------------------------------
# The soak
# ---------------------------------------------------------------------------------------------


def fault_rotation(delay_ms: int) -> list[tuple[str, object]]:
    """Every fault of the fake on every endpoint it applies to, interleaved by endpoint so
    that no endpoint gets several in a row."""
    api = ["getupdates", "sendmessage", "getuploadurl"]
    cdn = ["cdn_upload"]
    kinds: list[tuple[object, list[str]]] = [
        ({"status": 500}, api + cdn),
        ("malformed", api + cdn),  # on the CDN: a 200 without x-encrypted-param
        ("truncated", api + cdn),
        ("drop", api + cdn),
        ({"delay_ms": delay_ms}, api + cdn),
        ("no_param", cdn),
        ({"cdn_error": {"status": 400, "message": "soak: refused"}}, cdn),
        ({"cdn_error": {"status": 500, "message": "soak: CDN down"}}, cdn),
    ]
    out = []
    for fault, endpoints in kinds:
        for ep in endpoints:
            out.append((ep, fault))
    # Interleave: sort stably by (index within its endpoint), so endpoints alternate.
    seen: Counter = Counter()
    keyed = []
    for i, (ep, fault) in enumerate(out):
        keyed.append((seen[ep], i, ep, fault))
        seen[ep] += 1
    return [(ep, fault) for _, _, ep, fault in sorted(keyed)]


def fault_name(endpoint: str, fault) -> str:
    if isinstance(fault, dict):
        (k, v), = fault.items()
        if k == "cdn_error":
            v = v["status"]
        return f"{endpoint}:{k}={v}"
    return f"{endpoint}:{fault}"


class Victim:
    """`wxlink mcp -t http` restarted after every SIGKILL, on one port and data directory."""

    def __init__(self, argv: list[str], env: dict, logdir: Path) -> None:
        self.argv, self.env, self.logdir = argv, env, logdir
        self.proc: subprocess.Popen | None = None
        self.incarnation = 0
        self.lock = threading.Lock()
        self.peak_hwm_kb = 0
        self.peak_rss_kb = 0
        self.kills = 0
        self.kills_before_listening = 0
        self.kill_times: list[float] = []
        self.unexpected_exits: list[str] = []
        self.stop_sampling = threading.Event()
        self.sampler = threading.Thread(target=self._sample, daemon=True)
        self.sampler.start()

    def stderr_path(self, n: int) -> Path:
        return self.logdir / f"victim-{n:04d}.stderr"

    def start(self) -> None:
        with self.lock:
            self.incarnation += 1
            with open(self.stderr_path(self.incarnation), "wb") as err:
                self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                             stdout=subprocess.DEVNULL, stderr=err, env=self.env)

    def _note(self, pid: int) -> None:
        st = proc_status(pid)
        self.peak_hwm_kb = max(self.peak_hwm_kb, st.get("VmHWM", 0))
        self.peak_rss_kb = max(self.peak_rss_kb, st.get("VmRSS", 0))

    def _sample(self) -> None:
        while not self.stop_sampling.wait(0.05):
            proc = self.proc
            if proc is not None and proc.poll() is None:
                self._note(proc.pid)

    def _check_alive(self) -> None:
        """Records an exit nobody asked for (a crash, a failed start)."""
        proc = self.proc
        if proc is not None and proc.poll() is not None:
            tail = self.stderr_path(self.incarnation).read_text(errors="replace")[-1500:]
            self.unexpected_exits.append(
                f"incarnation {self.incarnation} exited by itself with {proc.returncode}: {tail}")

    def kill(self) -> None:
        with self.lock:
            proc = self.proc
            self._check_alive()
            if proc is not None and proc.poll() is None:
                self._note(proc.pid)
                proc.send_signal(signal.SIGKILL)
                self.kill_times.append(time.monotonic())
                proc.wait()
                self.kills += 1
                if "listening on" not in self.stderr_path(self.incarnation).read_text(
                        errors="replace"):
                    self.kills_before_listening += 1
            self.proc = None

    def stop(self) -> int | None:
        """SIGTERM (a clean stop), the exit code."""
        with self.lock:
            proc = self.proc
            self._check_alive()
            if proc is None or proc.poll() is not None:
                return None
            self._note(proc.pid)
            proc.send_signal(signal.SIGTERM)
            try:
                return proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                return -9

    def close(self) -> None:
        self.stop_sampling.set()
        with contextlib.suppress(Exception):
            self.stop()


class Soak:
    def __init__(self, a: argparse.Namespace, fake: Fake, victim: Victim, port: int, token: str,
                 owner: str, tmp: Path) -> None:
        self.a, self.fake, self.victim, self.port, self.token = a, fake, victim, port, token
        self.owner, self.tmp = owner, tmp
        self.rng = random.Random(a.seed)
        self.feeding = threading.Event()
        self.sending = threading.Event()
        self.draining_done = threading.Event()
        self.errors: list[str] = []
        self.errors_lock = threading.Lock()
        # Feeder.
        self.injected: list[int] = []  # n in injection order (first injection)
        self.injected_at: dict[int, float] = {}
        self.dup_injections = 0
        self.inject_errors = 0
        # Faults.
        self.faults_armed: Counter = Counter()
        # Consumers.
        self.names = [f"soak-c{i + 1}" for i in range(a.consumers)]
        self.cursor = {name: "0" for name in self.names}
        self.got: dict[str, list[int]] = {n: [] for n in self.names}
        self.other: dict[str, int] = {n: 0 for n in self.names}
        self.reconnects: Counter = Counter()
        self.recv_lost_calls: Counter = Counter()
        self.recv_errors: Counter = Counter()
        self.progress_at = time.monotonic()
        # Sender.
        self.sends: dict[int, dict] = {}
        self.file_path = tmp / "attachment.txt"
        self.file_path.write_bytes(b"wxlink soak attachment\n" * 40)
        self.clients: list[McpHttp] = []

    def error(self, what: str) -> None:
        with self.errors_lock:
            self.errors.append(what)
        log("ERROR", what)

    def client(self) -> McpHttp:
        c = McpHttp(self.port, self.token)
        self.clients.append(c)
        return c

    def connect(self, c: McpHttp, until: threading.Event | None = None,
                deadline: float | None = None) -> bool:
        """(Re)connects until it works; False if `until` is set or the deadline passed first."""
        while True:
            if until is not None and until.is_set():
                return False
            if deadline is not None and time.monotonic() > deadline:
                return False
            try:
                c.connect()
                return True
            except (NotSent, Lost):
                time.sleep(0.02)

    # -- feeder -----------------------------------------------------------------------------

    def inject(self, n: int) -> None:
        body = {"text": f"soak-{n}", "message_id": MSG_ID_BASE + n}
        for attempt in range(5):
            try:
                self.fake.post("inbound", body)
                return
            except (OSError, urllib.error.URLError) as e:
                # The same message_id again is harmless (wxlink must drop copies anyway).
                self.inject_errors += 1
                if attempt == 4:
                    self.error(f"cannot inject soak-{n}: {e!r}")
                time.sleep(0.1)

    def feeder(self) -> None:
        rng = random.Random(self.a.seed * 7 + 1)
        pending: list[tuple[float, int]] = []  # (due, n) duplicate deliveries
        n = 0
        next_at = time.monotonic()
        while self.feeding.is_set():
            now = time.monotonic()
            while pending and pending[0][0] <= now:
                _, d = heapq.heappop(pending)
                self.inject(d)
                self.dup_injections += 1
            if now >= next_at:
                n += 1
                self.inject(n)
                self.injected_at[n] = time.monotonic()
                self.injected.append(n)
                if rng.random() < self.a.dup_rate:
                    heapq.heappush(pending, (now + rng.uniform(0, self.a.dup_max_delay), n))
                next_at += self.a.feed_interval
                if next_at < now - 1:  # fell far behind: do not burst
                    next_at = now
            time.sleep(max(0.0, min(next_at, pending[0][0] if pending else next_at)
                           - time.monotonic()))
        for _, d in sorted(pending):  # every duplicate promised goes out
            self.inject(d)
            self.dup_injections += 1

    # -- faults -----------------------------------------------------------------------------

    def armer(self) -> None:
        rotation = fault_rotation(self.a.fault_delay_ms)
        i = 0
        while self.sending.is_set():
            endpoint, fault = rotation[i % len(rotation)]
            i += 1
            try:
                self.fake.post("faults", {"endpoint": endpoint, "fault": fault, "times": 1})
                self.faults_armed[fault_name(endpoint, fault)] += 1
            except (OSError, urllib.error.URLError) as e:
                self.error(f"cannot arm {fault_name(endpoint, fault)}: {e!r}")
            time.sleep(self.a.fault_interval)

    # -- consumers --------------------------------------------------------------------------

    def consumer(self, name: str, c: McpHttp) -> None:
        connected = True
        while not self.draining_done.is_set():
            if not connected:
                if not self.connect(c, self.draining_done):
                    return
                self.reconnects[name] += 1
                connected = True
            try:
                # `after`: the last message this consumer has; an answer lost to a kill comes
                # again on the next call.
                args = {"timeout": self.a.recv_timeout, "consumer": name,
                        "after": self.cursor[name]}
                result = c.call("recv", args, timeout=self.a.recv_timeout + 20)
            except NotSent:
                connected = False
                continue
            except Lost:
                self.recv_lost_calls[name] += 1
                connected = False
                continue
            except RuntimeError as e:
                self.recv_errors[f"{name}: {e}"[:200]] += 1
                time.sleep(0.05)
                continue
            if result.get("isError"):
                self.recv_errors[error_text(result)[:200]] += 1
                time.sleep(0.05)
                continue
            data = payload(result) or {}
            msgs = data.get("messages", []) if isinstance(data, dict) else []
            if isinstance(data, dict) and data.get("cursor"):
                self.cursor[name] = data["cursor"]
            for m in msgs:
                text = m.get("text") or ""
                mm = re.fullmatch(r"soak-(\d+)", text)
                if mm and m.get("direction", "in") == "in":
                    self.got[name].append(int(mm.group(1)))
                else:
                    self.other[name] += 1
            if msgs:
                self.progress_at = time.monotonic()

    # -- sender -----------------------------------------------------------------------------

    def sender(self, c: McpHttp) -> None:
        rng = random.Random(self.a.seed * 7 + 2)
        k = 0
        connected = True
        while self.sending.is_set():
            time.sleep(rng.uniform(self.a.send_min, self.a.send_max))
            if not connected:
                if not self.connect(c, deadline=time.monotonic() + 0.5):
                    continue
                connected = True
            k += 1
            args = {"to": self.owner, "text": f"send-{k}"}
            with_file = self.a.file_every > 0 and k % self.a.file_every == 0
            if with_file:
                args.update(file_path=str(self.file_path), file_name=f"soak-{k}.txt")
            rec = {"k": k, "file": with_file, "at": time.monotonic()}
            try:
                result = c.call("send", args, timeout=60)
            except NotSent:
                k -= 1  # never reached a live session: send the same k again
                connected = False
                continue
            except Lost as e:
                rec.update(outcome="no_answer", why=str(e))
                self.sends[k] = rec
                connected = False
                continue
            except RuntimeError as e:
                rec.update(outcome="error", why=str(e))
                self.sends[k] = rec
                continue
            data = payload(result)
            if result.get("isError") and isinstance(data, dict) and data.get("sent"):
                # Part went out, then an item failed: the report lists what was sent.
                rec.update(outcome="partial", why=str(data.get("error", ""))[:300],
                           items=data["sent"])
            elif result.get("isError"):
                text = error_text(result)
                refused = any(kind in text for kind in REFUSED_KINDS)
                rec.update(outcome="refused" if refused else "error", why=text[:300])
            elif isinstance(data, dict) and data.get("success"):
                rec.update(outcome="ok", items=data.get("sent", []))
            else:
                why = data.get("error", "") if isinstance(data, dict) else str(data)
                rec.update(outcome="partial", why=str(why)[:300],
                           items=data.get("sent", []) if isinstance(data, dict) else [])
            self.sends[k] = rec

    # -- run --------------------------------------------------------------------------------

    def run(self) -> dict:
        a = self.a
        began = time.monotonic()
        self.victim.start()
        # Every consumer's first recv sets its read position: register them all before any
        # message is injected.
        consumers = []
        for name in self.names:
            c = self.client()
            if not self.connect(c, deadline=time.monotonic() + 60):
                raise RuntimeError("the victim never answered initialize")
            # Nothing processed yet: the consumer starts at the beginning of a fresh store.
            res = c.call("recv", {"timeout": 0, "consumer": name, "after": "0"}, timeout=30)
            if res.get("isError"):
                raise RuntimeError(f"first recv of {name} failed: {error_text(res)}")
            consumers.append((name, c))
        send_client = self.client()
        self.connect(send_client, deadline=time.monotonic() + 30)
        log(f"victim up, {len(consumers)} consumers registered; feeding, sending, arming "
            f"faults and killing {a.kills} times")

        self.feeding.set()
        self.sending.set()
        threads = [threading.Thread(target=self.feeder, name="feeder", daemon=True),
                   threading.Thread(target=self.armer, name="armer", daemon=True),
                   threading.Thread(target=self.sender, args=(send_client,), name="sender",
                                    daemon=True)]
        threads += [threading.Thread(target=self.consumer, args=(n, c), name=n, daemon=True)
                    for n, c in consumers]
        for t in threads:
            t.start()

        kill_began = time.monotonic()
        for i in range(a.kills):
            time.sleep(self.rng.uniform(a.min_delay, a.max_delay))
            self.victim.kill()
            if (i + 1) % 10 == 0 or i + 1 == a.kills:
                log(f"kill {i + 1}/{a.kills}: {len(self.injected)} injected, "
                    + ", ".join(f"{n} {len(set(self.got[n]))}" for n in self.names)
                    + f", {len(self.sends)} sends")
            if i + 1 < a.kills:
                self.victim.start()
        kill_secs = time.monotonic() - kill_began

        # Stop everything but the consumers, with the victim dead; then start it once more.
        self.sending.clear()
        self.feeding.clear()
        for t in threads[:3]:
            t.join(90)
            if t.is_alive():
                self.error(f"the {t.name} thread did not stop (a call hangs?)")
        self.victim.start()
        log(f"feeder stopped at {len(self.injected)} messages ({self.dup_injections} "
            f"duplicate deliveries); victim started a last time, draining")

        # Drain: until every consumer has every message, or nothing arrived for --drain-idle s.
        want = set(self.injected)
        drain_began = self.progress_at = time.monotonic()
        while True:
            time.sleep(0.1)
            if all(want <= set(self.got[n]) for n in self.names):
                break
            if time.monotonic() - self.progress_at > a.drain_idle:
                log(f"nothing new for {a.drain_idle:g} s: stop draining")
                break
            if time.monotonic() - drain_began > a.drain_max:
                self.error(f"drain still running after {a.drain_max:g} s")
                break
        # One last empty recv per consumer proves nothing more is queued (and catches a
        # late duplicate): let them run through one more round.
        time.sleep(a.recv_timeout + 0.5)
        self.draining_done.set()
        for t in threads[3:]:
            t.join(a.recv_timeout + 30)
            if t.is_alive():
                self.error(f"consumer {t.name} did not stop (recv hangs?)")
        drain_secs = time.monotonic() - drain_began

        report = self.account(send_client)
        code = self.victim.stop()
        if code not in (0, None):
            self.error(f"the last victim exited with {code} on SIGTERM")
        report.update(kill_phase_s=round(kill_secs, 1), drain_s=round(drain_secs, 1),
                      elapsed_s=round(time.monotonic() - began, 1), last_exit_code=code)
        return report

    # -- accounting -------------------------------------------------------------------------

    def history(self, c: McpHttp, direction: str) -> list[dict]:
        rows, offset = [], 0
        while True:
            for attempt in range(3):
                try:
                    res = c.call("history", {"direction": direction, "limit": 200,
                                             "offset": offset}, timeout=60)
                    break
                except (NotSent, Lost):
                    if attempt == 2:
                        raise
                    self.connect(c, deadline=time.monotonic() + 30)
            if res.get("isError"):
                raise RuntimeError(f"history failed: {error_text(res)}")
            data = payload(res)
            page = data.get("messages", [])
            rows += page
            offset += len(page)
            if not page or offset >= data.get("total", 0):
                return rows

    def account(self, c: McpHttp) -> dict:
        a = self.a
        self.connect(c, deadline=time.monotonic() + 30)
        out_rows = self.history(c, "sent")
        in_rows = self.history(c, "received")
        fake_sent = self.fake.get("sent")

        # -- inbound --
        injected = set(self.injected)
        stored = Counter()
        for m in in_rows:
            mm = re.fullmatch(r"soak-(\d+)", m.get("text") or "")
            if mm:
                stored[int(mm.group(1))] += 1
        consumers = {}
        for name in self.names:
            seq = self.got[name]
            counts = Counter(seq)
            out_of_order, top = 0, 0
            firsts = set()
            for n in seq:
                if n in firsts:
                    continue
                firsts.add(n)
                if n < top:
                    out_of_order += 1
                top = max(top, n)
            lost = sorted(injected - set(seq))
            # How long before the next kill each lost message was injected.
            before_kill = []
            for n in lost:
                t = self.injected_at.get(n, 0)
                nxt = next((k for k in self.victim.kill_times if k >= t), None)
                if nxt is not None:
                    before_kill.append((nxt - t) * 1000)
            consumers[name] = {
                "received": len(seq),
                "distinct": len(counts),
                "lost": len(lost),
                "lost_stored": sum(1 for n in lost if stored[n]),  # in the store, not delivered
                "lost_sample": lost[:10],
                "lost_max_ms_before_kill": round(max(before_kill)) if before_kill else None,
                "duplicated": sum(1 for n, k in counts.items() if k > 1),
                "duplicated_sample": sorted(n for n, k in counts.items() if k > 1)[:10],
                "out_of_order": out_of_order,
                "unexpected": self.other[name],
                "reconnects": self.reconnects[name],
                "recv_no_answer": self.recv_lost_calls[name],
            }
        inbound = {
            "injected": len(injected),
            "duplicate_deliveries": self.dup_injections,
            "stored_distinct": sum(1 for n in injected if stored[n]),
            "stored_twice": sum(1 for n, k in stored.items() if k > 1),
            "not_stored": sum(1 for n in injected if not stored[n]),
            "recv_errors": dict(self.recv_errors.most_common(5)),
        }

        # -- sends --
        def item_key(text: str | None, row_json: str) -> tuple[str, int] | None:
            mm = re.fullmatch(r"send-(\d+)", text or "")
            if mm:
                return ("text", int(mm.group(1)))
            mm = re.search(r"soak-(\d+)\.txt", row_json)
            if mm:
                return ("file", int(mm.group(1)))
            return None

        hist_by_key: dict[tuple[str, int], list[dict]] = {}
        hist_ids, hist_msg_ids = set(), set()
        status_counts: Counter = Counter()
        for m in out_rows:
            status_counts[m.get("status")] += 1
            hist_ids.add(str(m.get("id")))
            if m.get("message_id"):
                hist_msg_ids.add(str(m["message_id"]))
            key = item_key(m.get("text"), json.dumps(m, ensure_ascii=False))
            if key:
                hist_by_key.setdefault(key, []).append(m)

        accepted_keys: Counter = Counter()
        unaccounted_accepted = []
        for s in fake_sent:
            if s.get("text") is not None:
                key = item_key(s.get("text"), "")
            else:
                key = item_key(None, json.dumps(s.get("msg"), ensure_ascii=False))
            if key:
                accepted_keys[key] += 1
            if str(s.get("message_id")) in hist_msg_ids or (key and key in hist_by_key):
                continue
            unaccounted_accepted.append({"key": key, "message_id": s.get("message_id"),
                                         "client_id": (s.get("msg") or {}).get("client_id")})

        outcomes = Counter(r["outcome"] for r in self.sends.values())
        answered_ok_missing = []
        for k, r in sorted(self.sends.items()):
            for item in r.get("items", []) or []:
                kind = "text" if item.get("type") == "text" else "file"
                key = (kind, k)
                if (str(item.get("id")) in hist_ids and item.get("id")) or \
                        (item.get("message_id") and str(item["message_id"]) in hist_msg_ids) or \
                        key in hist_by_key:
                    continue
                answered_ok_missing.append({"key": key, "item": item})
        # Do not count one item twice (accepted upstream AND answered as sent).
        missing_keys = {tuple(u["key"]) for u in unaccounted_accepted if u["key"]}
        extra = [u for u in answered_ok_missing if tuple(u["key"]) not in missing_keys]
        unaccounted = len(unaccounted_accepted) + len(extra)
        # What the sender was told about the unaccounted ones.
        unaccounted_answers = Counter(
            self.sends.get(u["key"][1], {}).get("outcome", "not sent by the sender")
            for u in unaccounted_accepted + extra if u["key"])

        no_row = Counter()
        for k, r in self.sends.items():
            if ("text", k) not in hist_by_key and ("file", k) not in hist_by_key:
                no_row[r["outcome"]] += 1
        sends = {
            "attempted": len(self.sends),
            "answered_ok": outcomes["ok"],
            "answered_error": outcomes["error"] + outcomes["partial"],
            "answered_partial": outcomes["partial"],
            "refused_quota": outcomes["refused"],
            "refused_kinds": dict(Counter(
                next((k.strip("[]") for k in REFUSED_KINDS if k in r.get("why", "")), "?")
                for r in self.sends.values() if r["outcome"] == "refused")),
            "no_answer": outcomes["no_answer"],
            "with_file": sum(1 for r in self.sends.values() if r["file"]),
            "fake_accepted_items": len(fake_sent),
            "fake_accepted_twice": sum(1 for v in accepted_keys.values() if v > 1),
            "history_out_rows": len(out_rows),
            "history_status": dict(status_counts),
            "unaccounted": unaccounted,
            "unaccounted_accepted_not_in_history": len(unaccounted_accepted),
            "unaccounted_answered_ok_not_in_history": len(extra),
            "unaccounted_answers": dict(unaccounted_answers),
            "unaccounted_sample": [list(u["key"]) if u["key"] else u["message_id"]
                                   for u in unaccounted_accepted[:10]],
            "attempted_without_history_row": dict(no_row),
            "error_sample": sorted({r.get("why", "")[:160] for r in self.sends.values()
                                    if r["outcome"] in ("error", "partial")})[:8],
        }
        return {
            "consumers": consumers,
            "inbound": inbound,
            "sends": sends,
            "victim": {
                "peak_vmhwm_mb": round(self.victim.peak_hwm_kb / 1024, 1),
                "peak_vmrss_mb": round(self.victim.peak_rss_kb / 1024, 1),
                "kills": self.victim.kills,
                "kills_before_listening": self.victim.kills_before_listening,
                "incarnations": self.victim.incarnation,
                "unexpected_exits": len(self.victim.unexpected_exits),
                "request_timeouts": sum(cl.timeouts for cl in self.clients),
            },
            "faults_armed": sum(self.faults_armed.values()),
            "faults_by_kind": dict(sorted(self.faults_armed.items())),
            "inject_errors": self.inject_errors,
        }


def print_report(r: dict, a: argparse.Namespace, out) -> None:
    p = lambda *x: print(*x, file=out)  # noqa: E731
    inb, s, v = r["inbound"], r["sends"], r["victim"]
    p(f"\nwxlink soak: {v['kills']} kills (seed {a.seed}) in {r['elapsed_s']} s "
      f"(kill phase {r['kill_phase_s']} s, drain {r['drain_s']} s); victim {a.bin}")
    p(f"inbound: {inb['injected']} injected + {inb['duplicate_deliveries']} duplicate "
      f"deliveries (same message_id); in the store: {inb['stored_distinct']} "
      f"(twice: {inb['stored_twice']}, never: {inb['not_stored']})")
    p(f"   {'consumer':<10}{'received':>10}{'lost':>7}{'duplicated':>12}{'out of order':>14}"
      f"{'reconnects':>12}{'recv cut':>10}")
    for name, c in r["consumers"].items():
        p(f"   {name:<10}{c['received']:>10}{c['lost']:>7}{c['duplicated']:>12}"
          f"{c['out_of_order']:>14}{c['reconnects']:>12}{c['recv_no_answer']:>10}")
        if c["lost"]:
            p(f"      lost {c['lost_sample']}… ({c['lost_stored']} of them are in the store: "
              "claimed by a recv whose answer never arrived; each was injected at most "
              f"{c['lost_max_ms_before_kill']} ms before a kill)")
        if c["duplicated"]:
            p(f"      duplicated {c['duplicated_sample']}…")
        if c["unexpected"]:
            p(f"      {c['unexpected']} messages that are not soak-<n>")
    if inb["recv_errors"]:
        p(f"   recv errors: {inb['recv_errors']}")
    p(f"sends: attempted {s['attempted']} ({s['with_file']} with a file), answered ok "
      f"{s['answered_ok']}, answered error {s['answered_error']} "
      f"(of them partial {s['answered_partial']}), refused for quota {s['refused_quota']} "
      f"{s['refused_kinds'] or ''}, "
      f"no answer (victim killed) {s['no_answer']}")
    p(f"   fake accepted {s['fake_accepted_items']} items (twice: {s['fake_accepted_twice']}); "
      f"history has {s['history_out_rows']} outbound rows {s['history_status']}")
    p(f"   UNACCOUNTED {s['unaccounted']}: accepted upstream but missing from history "
      f"{s['unaccounted_accepted_not_in_history']}, answered ok but missing from history "
      f"{s['unaccounted_answered_ok_not_in_history']}"
      + (f"; e.g. {s['unaccounted_sample']}, the sender's answers: "
         f"{s['unaccounted_answers']}" if s["unaccounted_sample"] else ""))
    p(f"   attempted sends with no history row at all, by answer: "
      f"{s['attempted_without_history_row']}")
    if s["error_sample"]:
        p("   errors, e.g.: " + " | ".join(s["error_sample"][:4]))
    p(f"victim: peak RSS {v['peak_vmhwm_mb']} MB (VmHWM; highest sampled VmRSS "
      f"{v['peak_vmrss_mb']} MB); {v['kills']} kills ({v['kills_before_listening']} before it "
      f"listened), {v['incarnations']} starts, {v['unexpected_exits']} exits by itself, "
      f"{v['request_timeouts']} requests without an answer in time, last exit code "
      f"{r['last_exit_code']}")
    p(f"faults armed: {r['faults_armed']} ({len(r['faults_by_kind'])} kinds, round-robin): "
      + ", ".join(f"{k} x{n}" for k, n in r["faults_by_kind"].items()))
    if r.get("errors"):
        p("harness errors: " + " | ".join(r["errors"][:5]))
    p("verdict: " + ("PASS" if r["ok"] else "FAIL: " + "; ".join(r["failures"])))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    default_bin = ROOT / "target" / "release" / "wxlink"
    if not default_bin.exists():
        default_bin = ROOT / "target" / "debug" / "wxlink"
    ap.add_argument("--bin", default=str(default_bin), help="the wxlink binary")
    ap.add_argument("--kills", type=int, default=100, help="SIGKILLs of the victim")
    ap.add_argument("--consumers", type=int, default=3, help="recv consumers")
    ap.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--json", action="store_true",
                    help="one JSON summary line on stdout (the report goes to stderr)")
    ap.add_argument("--no-require-sends-accounted", action="store_true",
                    help="unaccounted sends are reported but do not fail the run")
    ap.add_argument("--min-delay", type=float, default=0.05, help="shortest life of a victim, s")
    ap.add_argument("--max-delay", type=float, default=1.5, help="longest life of a victim, s")
    ap.add_argument("--feed-interval", type=float, default=0.03, help="s between injections")
    ap.add_argument("--dup-rate", type=float, default=0.1, help="fraction injected twice")
    ap.add_argument("--dup-max-delay", type=float, default=1.0,
                    help="longest wait before the duplicate delivery, s")
    ap.add_argument("--fault-interval", type=float, default=0.3, help="s between armed faults")
    ap.add_argument("--fault-delay-ms", type=int, default=800, help="the delay fault's delay")
    ap.add_argument("--send-min", type=float, default=0.03, help="shortest pause between sends")
    ap.add_argument("--send-max", type=float, default=0.15, help="longest pause between sends")
    ap.add_argument("--file-every", type=int, default=4,
                    help="every n-th send carries a file (0: never)")
    ap.add_argument("--recv-timeout", type=float, default=2.0, help="recv(timeout=…) of consumers")
    ap.add_argument("--drain-idle", type=float, default=15.0,
                    help="stop draining after this long without a new message, s")
    ap.add_argument("--drain-max", type=float, default=90.0, help="longest drain, s")
    ap.add_argument("--victim-log-level", default="warn", help="--log-level of the victim")
    a = ap.parse_args()
    if a.seed is None:
        a.seed = random.randrange(1 << 31)
    if a.kills < 1 or a.consumers < 1 or not 0 <= a.min_delay <= a.max_delay:
        ap.error("need --kills >= 1, --consumers >= 1, 0 <= --min-delay <= --max-delay")
    if not (os.path.isfile(a.bin) and os.access(a.bin, os.X_OK)):
        ap.error(f"no wxlink binary at {a.bin} (cargo build -p wxlink, or --bin PATH)")
    report_out = sys.stderr if a.json else sys.stdout

    env = dict(os.environ)
    for var in ("NO_PROXY", "no_proxy"):
        env[var] = ",".join(filter(None, [env.get(var), "127.0.0.1", "localhost"]))
    tmp = Path(tempfile.mkdtemp(prefix="wxlink-soak-"))
    sandbox = victim = None
    report: dict = {}
    try:
        with open(tmp / "sandbox.stderr", "wb") as err:
            sandbox = subprocess.Popen([a.bin, "sandbox", "--port", "0", "--json",
                                        "--auto-confirm", "--hold-ms", "1000"],
                                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=err, env=env)
        info = json.loads(read_line(sandbox, 30))
        fake = Fake(info["control_url"])
        fake.post("config", {"qr_hold_ms": 10, "record_requests": False})
        data = tmp / "data"
        flags = [a.bin, "-d", str(data), "--ilink-base", info["base_url"],
                 "--cdn-base", info["cdn_url"]]
        login = subprocess.run([*flags, "--json", "login"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=60)
        if login.returncode != 0:
            raise RuntimeError(f"login failed ({login.returncode}): {login.stderr[-1000:]!r}")
        owner = json.loads(login.stdout)["user_id"]
        port, token = free_port(), secrets.token_hex(16)
        victim = Victim([*flags, "--log-level", a.victim_log_level, "mcp", "-t", "http",
                         "-p", str(port), "--token", token], env, tmp)
        log(f"sandbox at {info['base_url']}, logged in (owner {owner}); victim on port {port}; "
            f"seed {a.seed}; temp dir {tmp}")
        soak = Soak(a, fake, victim, port, token, owner, tmp)
        report = soak.run()
        report["errors"] = soak.errors
        report["unexpected_exit_details"] = [e[:500] for e in victim.unexpected_exits]
    except Exception as e:  # noqa: BLE001 - one clear failure with what we know
        log(f"harness failure: {e!r}")
        import traceback

        traceback.print_exc()
        report = {"errors": [f"harness failure: {e!r}"], "harness_failed": True}
    finally:
        if victim is not None:
            victim.close()
        if sandbox is not None:
            sandbox.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                sandbox.wait(10)
            if sandbox.poll() is None:
                sandbox.kill()
    failures = []
    if report.get("harness_failed"):
        failures.append("the harness failed")
    else:
        for name, c in report["consumers"].items():
            if c["lost"]:
                failures.append(f"{name} lost {c['lost']}")
            if c["duplicated"]:
                failures.append(f"{name} got {c['duplicated']} twice")
        if report["sends"]["unaccounted"] and not a.no_require_sends_accounted:
            failures.append(f"{report['sends']['unaccounted']} sends unaccounted")
        if report["victim"]["unexpected_exits"]:
            failures.append(f"the victim exited by itself {report['victim']['unexpected_exits']}"
                            " times")
        if report["errors"]:
            failures.append(f"{len(report['errors'])} harness errors")
    report.update(ok=not failures, failures=failures, seed=a.seed, kills_asked=a.kills,
                  consumers_asked=a.consumers, bin=a.bin,
                  temp_dir=str(tmp) if a.keep else None)
    if not report.get("harness_failed"):
        print_report(report, a, report_out)
    for detail in report.get("unexpected_exit_details", [])[:3]:
        print(f"victim exit: {detail}", file=report_out)
    if a.json:
        print(json.dumps(report, separators=(",", ":")), flush=True)
    if a.keep:
        log(f"kept {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
