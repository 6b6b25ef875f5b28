"""The MCP servers side by side: `wxlink mcp` vs WeiLink 0.6.2's `weilink mcp`, each logged in
to the same fake iLink server (`wxlink sandbox`), in one run. Run by bench/mcp.sh, which builds
wxlink and the load generator and sets up WeiLink's venv (this script runs in it).

Usage: python bench/mcp_bench.py WXLINK_BIN MCP_LOAD_BIN [--baseline BIN] [--runs N]
       [--sends-wx N] [--sends-wl N] [--recvs N] [--secs S]

With --baseline, an earlier wxlink binary is measured in the same run (its own data directory,
logged in to the same fake) and the ratios before/after are printed too.

What it measures (every figure for both servers, then the ratios):
1. stdio: process start -> answer to the first `tools/list` (initialize, initialized, tools/list),
   wall time as the client sees it, over N fresh processes; and the size of that answer (what
   listing the tools costs an agent's context). WeiLink's `mcp` command checks PyPI
   for a newer version before serving (even with --no-banner); it is measured twice: with the
   check failing at once (a dead HTTPS proxy, as offline) and as shipped (pypi.org answered).
2. `send` tool latency over stdio (a text to the user who wrote last). Both are logged in and
   hold a fresh context token: before every 10 sends (the per-token quota) a new inbound message
   is injected and drained with `recv`, outside the timed section. WeiLink's send always runs an
   auto-recv that waits 1 s on its queue, hence the draining: with a message queued its send
   would return at once and swallow that message.
3. `recv` latency over stdio: a `recv(timeout=10)` call is in flight, then a message is POSTed to
   /__fake/inbound; the time from just before that POST to the `recv` answer that holds it.
4. `tools/call` throughput on Streamable HTTP, the read-only `sessions` tool, 1 and 16 concurrent
   clients, each with its own session (the Rust load generator, crates/wxlink/examples/mcp_load.rs).
5. RSS (VmRSS from /proc) of the stdio server after start-up, one `tools/list` and 1 s idle
   (the median of --idle-runs fresh servers, min-max shown), split into anonymous memory and
   file pages, and its PSS with a second copy idle beside it;
   and RSS of the HTTP server idle (one session listed the tools, 1 s) and after the load runs.
It also reports every stdout line of the stdio servers that is not JSON-RPC.

The clients speak raw JSON-RPC (one message per line on the pipes, no SDK) so that their own
cost stays small and equal for both servers. Both servers run as users run them: WeiLink with its
admin panel (on a free port instead of 8080) and its default INFO logging, wxlink with defaults;
stderr goes to files. Nothing here is tuned per server.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import resource
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "interop"))
from fakectl import FakeControl  # noqa: E402
from weilink_smoke import point_weilink_at  # noqa: E402

PROTOCOL = "2025-06-18"
PER_TOKEN = 10  # sends allowed per context token (iLink's quota)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 60.0) -> float:
    """Waits until something accepts connections on the port; returns the seconds waited."""
    start = time.perf_counter()
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return time.perf_counter() - start
        if time.perf_counter() - start > timeout:
            raise TimeoutError(f"nothing listens on port {port} after {timeout:.0f} s")
        time.sleep(0.02)


def rss_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def cpu_secs(pid: int) -> float:
    """User + system CPU time of a running process."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_secs() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(int(len(s) * p), len(s) - 1)]


def stop(proc: subprocess.Popen, grace: float = 5.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(grace)


class Stdio:
    """One MCP server process over stdio, spoken to with raw JSON-RPC lines."""

    def __init__(self, argv: list[str], env: dict, stderr_path: Path) -> None:
        self.started = time.perf_counter()
        with open(stderr_path, "ab") as err:
            self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=err, env=env)
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.proc.stdout, selectors.EVENT_READ)
        self.buf = b""
        self.junk: list[str] = []  # stdout lines that are not JSON-RPC
        self.next_id = 1

    def _line(self, deadline: float) -> bytes | None:
        """The next stdout line, or None at EOF."""
        while b"\n" not in self.buf:
            left = deadline - time.perf_counter()
            if left <= 0:
                raise TimeoutError("no answer from the server")
            if not self.sel.select(left):
                continue
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                rest, self.buf = self.buf, b""
                return rest or None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def _message(self, deadline: float) -> dict | None:
        while True:
            line = self._line(deadline)
            if line is None:
                return None
            try:
                msg = json.loads(line)
                if isinstance(msg, dict) and msg.get("jsonrpc") == "2.0":
                    return msg
            except ValueError:
                pass
            self.junk.append(line.decode(errors="replace"))

    def send(self, msg: dict) -> None:
        self.proc.stdin.write(json.dumps(msg).encode() + b"\n")
        self.proc.stdin.flush()

    def start(self, method: str, params: dict) -> int:
        rid, self.next_id = self.next_id, self.next_id + 1
        self.send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        return rid

    def wait(self, rid: int, timeout: float = 30.0) -> dict:
        deadline = time.perf_counter() + timeout
        while True:
            msg = self._message(deadline)
            if msg is None:
                raise EOFError(f"server closed stdout (exit code {self.proc.poll()})")
            if msg.get("id") == rid and ("result" in msg or "error" in msg):
                if "error" in msg:
                    raise RuntimeError(f"JSON-RPC error: {msg['error']}")
                return msg["result"]

    def request(self, method: str, params: dict | None = None, timeout: float = 30.0) -> dict:
        return self.wait(self.start(method, params or {}), timeout)

    def initialize(self) -> dict:
        result = self.request("initialize", {
            "protocolVersion": PROTOCOL, "capabilities": {},
            "clientInfo": {"name": "wxlink-bench", "version": "0"}})
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return result

    def call(self, tool: str, args: dict, timeout: float = 30.0) -> dict:
        return self.request("tools/call", {"name": tool, "arguments": args}, timeout)

    def close(self) -> None:
        """Closes stdin (how MCP clients stop a stdio server) and reads what is left on stdout
        for up to 1 s, then SIGTERM. (WeiLink only exits once its long poll in flight ends, up
        to the fake's 25 s hold; wxlink exits within milliseconds.)"""
        with contextlib.suppress(OSError):
            self.proc.stdin.close()
        with contextlib.suppress(TimeoutError, OSError):
            deadline = time.perf_counter() + 1
            while self._message(deadline) is not None:
                pass
        stop(self.proc)
        self.sel.close()
        self.proc.stdout.close()


def payload(result: dict):
    """A tool result's data: structured content if any, else the JSON of its first text item."""
    if result.get("structuredContent") is not None:
        return result["structuredContent"]
    for item in result.get("content", []):
        if item.get("type") == "text":
            try:
                return json.loads(item["text"])
            except ValueError:
                return item["text"]
    return None


def messages_of(result: dict) -> list[dict]:
    data = payload(result)
    if isinstance(data, dict):
        if "error" in data:
            raise RuntimeError(f"recv failed: {data['error']}")
        data = data.get("messages", [])
    return data if isinstance(data, list) else []


def sender(msg: dict) -> str:
    return msg.get("user") or msg.get("from_user") or msg.get("from")


class Server:
    """How to start one implementation, and what it is logged in as."""

    def __init__(self, name: str, bot_id: str, stdio_argv, http_argv, env: dict, logs: Path):
        self.name, self.bot_id = name, bot_id
        self.stdio_argv, self.http_argv, self.env, self.logs = stdio_argv, http_argv, env, logs

    def stdio(self, env: dict | None = None) -> Stdio:
        return Stdio(self.stdio_argv(), env or self.env, self.logs / f"{self.name}-stdio.stderr")


def start_once(server: Server, env: dict | None = None):
    """stdio start -> first tools/list answer (ms); stdout junk seen; tool count; list bytes."""
    s = server.stdio(env)
    try:
        s.initialize()
        listed = s.request("tools/list")
        ms = (time.perf_counter() - s.started) * 1000
    finally:
        s.close()
    size = len(json.dumps(listed, ensure_ascii=False, separators=(",", ":")).encode())
    return ms, s.junk, len(listed["tools"]), size


def memory_mb(pid: int) -> dict[str, float]:
    """The RSS of `pid` split (/proc/PID/smaps_rollup): `anon`, the process's own memory (heap,
    stacks), and `files`, pages of the executable and libraries it has touched (clean, shared
    with every process that maps the same file, dropped first under memory pressure); and its
    `pss`, the RSS with each shared page divided among the processes that have it."""
    kb = {}
    for line in open(f"/proc/{pid}/smaps_rollup"):
        parts = line.split()
        if len(parts) == 3 and parts[2] == "kB":
            kb[parts[0].rstrip(":")] = int(parts[1])
    return {"rss": kb["Rss"] / 1024, "anon": kb["Anonymous"] / 1024,
            "files": (kb["Rss"] - kb["Anonymous"]) / 1024, "pss": kb["Pss"] / 1024}


def idle_rss(server: Server) -> tuple[float, dict[str, float]]:
    """RSS of a stdio server after start-up, one `tools/list` and 1 s idle, with its split; and
    its PSS once a second copy of the same server (another agent) is idle beside it."""
    s = server.stdio()
    try:
        s.initialize()
        s.request("tools/list")
        time.sleep(1.0)
        rss, split = rss_mb(s.proc.pid), memory_mb(s.proc.pid)
        other = server.stdio()
        try:
            other.initialize()
            other.request("tools/list")
            time.sleep(1.0)
            split["pss2"] = memory_mb(s.proc.pid)["pss"]
        finally:
            other.close()
        return rss, split
    finally:
        s.close()


def idle_rss_runs(servers: list[Server], runs: int) -> dict[str, tuple[float, dict[str, float]]]:
    """[`idle_rss`] of each server `runs` times, interleaved: per server the median run (its RSS
    and split), with `min` and `max` of the RSS added to the split (the noise)."""
    samples: dict[str, list[tuple[float, dict[str, float]]]] = {srv.name: [] for srv in servers}
    for _ in range(runs):
        for srv in servers:
            samples[srv.name].append(idle_rss(srv))
    out = {}
    for name, runs_of in samples.items():
        runs_of.sort(key=lambda r: r[0])
        rss, split = runs_of[len(runs_of) // 2]
        out[name] = (rss, {**split, "min": runs_of[0][0], "max": runs_of[-1][0]})
    return out


def drain_until(s: Stdio, marker: str, timeout: float = 30.0) -> dict:
    """Calls `recv` until the message with this text came back (and nothing is left queued)."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        for m in messages_of(s.call("recv", {"timeout": 5})):
            if m.get("text") == marker:
                return m
    raise TimeoutError(f"recv never returned {marker!r}")


def bench_send(s: Stdio, fake: FakeControl, server: Server, count: int, warm: int) -> list[float]:
    lat, done = [], 0
    while done < warm + count:
        marker = f"token {uuid.uuid4().hex[:8]}"
        fake.inject(bot_id=server.bot_id, text=marker)  # a new context token, not timed
        user = sender(drain_until(s, marker))
        for _ in range(min(PER_TOKEN, warm + count - done)):
            t = time.perf_counter()
            result = s.call("send", {"to": user, "text": f"bench {done}"})
            dt = (time.perf_counter() - t) * 1000
            data = payload(result)
            if result.get("isError") or not isinstance(data, dict) or not data.get("success"):
                raise RuntimeError(f"{server.name}: send {done} failed: {result}")
            if done >= warm:
                lat.append(dt)
            done += 1
    return lat


def bench_recv(s: Stdio, fake: FakeControl, server: Server, count: int):
    """Latencies (ms) from the POST to the answer, and of the POST alone."""
    lat, post = [], []
    for i in range(count):
        marker = f"latency {i} {uuid.uuid4().hex[:8]}"
        rid = s.start("tools/call", {"name": "recv", "arguments": {"timeout": 10}})
        time.sleep(0.1)  # the recv call is waiting in the server
        t = time.perf_counter()
        fake.inject(bot_id=server.bot_id, text=marker)
        posted = time.perf_counter()
        got = messages_of(s.wait(rid))
        dt = (time.perf_counter() - t) * 1000
        if not any(m.get("text") == marker for m in got):
            raise RuntimeError(f"{server.name}: recv answered without the message: {got}")
        lat.append(dt)
        post.append((posted - t) * 1000)
    return lat, post


def http_session(url: str) -> None:
    """One MCP session on Streamable HTTP: initialize, initialized, tools/list (answers read
    whole, JSON or an event stream alike)."""
    session = None
    for n, method in enumerate(("initialize", "notifications/initialized", "tools/list")):
        body: dict = {"jsonrpc": "2.0", "method": method}
        if method == "initialize":
            body["params"] = {"protocolVersion": "2025-06-18", "capabilities": {},
                              "clientInfo": {"name": "mcp_bench", "version": "1"}}
        if not method.startswith("notifications/"):
            body["id"] = n
        headers = {"Content-Type": "application/json",
                   "Accept": "application/json, text/event-stream",
                   "MCP-Protocol-Version": "2025-06-18"}
        if session:
            headers["Mcp-Session-Id"] = session
        req = urllib.request.Request(url, json.dumps(body).encode(), headers, method="POST")
        with urllib.request.urlopen(req, timeout=30) as resp:
            session = resp.headers.get("Mcp-Session-Id") or session
            resp.read()


def bench_http(server: Server, load_bin: str, secs: float) -> tuple[list[dict], float, float]:
    """Throughput rows (1 and 16 clients); RSS once one client has listed the tools and 1 s
    passed (idle), and after the load."""
    port = free_port()
    with open(server.logs / f"{server.name}-http.stderr", "ab") as err:
        proc = subprocess.Popen(server.http_argv(port), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err, env=server.env)
    try:
        wait_port(port, proc)
        url = f"http://127.0.0.1:{port}/mcp"
        http_session(url)
        time.sleep(1.0)
        idle = rss_mb(proc.pid)
        rows = []
        for clients in (1, 16):
            server_cpu, load_cpu = cpu_secs(proc.pid), children_cpu_secs()
            out = subprocess.run([load_bin, url, str(clients), str(secs), "sessions", "{}"],
                                 check=True, stdout=subprocess.PIPE, text=True).stdout
            row = json.loads(out)
            # CPU used while the load ran (warm-up included), as % of one core.
            wall = row["secs"] + min(secs / 5, 1.0)
            row["server_cpu"] = (cpu_secs(proc.pid) - server_cpu) / wall * 100
            row["load_cpu"] = (children_cpu_secs() - load_cpu) / wall * 100
            rows.append(row)
        return rows, idle, rss_mb(proc.pid)
    finally:
        stop(proc)


def login_weilink(fake: FakeControl, home: Path) -> str:
    point_weilink_at(fake.api_base)
    from weilink import WeiLink

    wl = WeiLink(base_path=home)
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        info = wl.login()  # draws the QR on stdout; the sandbox confirms it by itself
    wl.close()
    return info.bot_id


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("wxlink")
    ap.add_argument("mcp_load")
    ap.add_argument("--baseline", metavar="BIN",
                    help="an earlier wxlink binary, measured alongside (before/after ratios)")
    ap.add_argument("--baseline-name", default="wxlink (before)", help="its name in the tables")
    ap.add_argument("--runs", type=int, default=10, help="stdio start-ups per server")
    ap.add_argument("--idle-runs", type=int, default=3,
                    help="idle memory samples per server (fresh processes; the median is shown)")
    ap.add_argument("--sends-wx", type=int, default=200, help="timed wxlink sends")
    ap.add_argument("--sends-wl", type=int, default=20, help="timed WeiLink sends (~1 s each)")
    ap.add_argument("--recvs", type=int, default=30, help="recv latency samples per server")
    ap.add_argument("--secs", type=float, default=5.0, help="seconds per HTTP load run")
    a = ap.parse_args()
    began = time.perf_counter()
    weilink_bin = str(Path(sys.executable).parent / "weilink")
    base_env = dict(os.environ)
    for var in ("NO_PROXY", "no_proxy"):
        base_env[var] = ",".join(filter(None, [base_env.get(var), "127.0.0.1", "localhost"]))
    # WeiLink's PyPI check fails at once through a "proxy" on a port nothing listens on.
    offline = dict(base_env, HTTPS_PROXY=f"http://127.0.0.1:{free_port()}")
    offline["https_proxy"] = offline["HTTPS_PROXY"]

    with tempfile.TemporaryDirectory(prefix="wxlink-mcp-bench-") as tmp:
        tmp = Path(tmp)
        with open(tmp / "sandbox.stderr", "wb") as err:
            sb = subprocess.Popen([a.wxlink, "sandbox", "--port", "0", "--json",
                                   "--auto-confirm"], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=err, text=True)
        try:
            info = json.loads(sb.stdout.readline())
            fake = FakeControl(info["base_url"], info["cdn_url"], info["control_url"])
            fake.config(qr_hold_ms=10, record_requests=False)

            def wxlink_server(name: str, binary: str, home: Path) -> Server:
                """A wxlink binary with its own data directory, logged in to the fake."""
                flags = [binary, "-d", str(home), "--ilink-base", fake.base_url,
                         "--cdn-base", fake.cdn_url]
                login = subprocess.run([*flags, "--json", "login"], env=base_env, check=True,
                                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                       timeout=60)
                return Server(name, json.loads(login.stdout)["bot_id"], lambda: [*flags, "mcp"],
                              lambda port: [*flags, "mcp", "-t", "http", "-p", str(port),
                                            "--no-banner"], base_env, tmp)

            def version(binary: str) -> str:
                return subprocess.run([binary, "--version"], check=True, stdout=subprocess.PIPE,
                                      text=True).stdout.split()[-1]

            wxs = [wxlink_server("wxlink", a.wxlink, tmp / "wxlink")]
            if a.baseline:
                wxs.append(wxlink_server(a.baseline_name, a.baseline, tmp / "wxlink-before"))
            wl_home = tmp / "weilink"
            wl_home.mkdir()
            wl_bot = login_weilink(fake, wl_home)
            wl = Server("weilink", wl_bot,
                        lambda: [weilink_bin, "mcp", "-d", str(wl_home),
                                 "--admin-port", str(free_port())],
                        lambda port: [weilink_bin, "mcp", "-t", "http", "-p", str(port),
                                      "-d", str(wl_home), "--admin-port", str(free_port())],
                        offline, tmp)
            servers = [*wxs, wl]
            print(f"fake iLink at {fake.base_url} ({os.cpu_count()} cores, load average "
                  f"{os.getloadavg()[0]:.1f}); wxlink {version(a.wxlink)}"
                  + (f", {a.baseline_name} {version(a.baseline)}" if a.baseline else "")
                  + ", WeiLink 0.6.2 (mcp 1.30.0, toolregistry 0.11.2)", flush=True)

            # 1 + 5: start-up and idle memory.
            # Interleaved, so that other load on the machine hits every server alike.
            rows1 = {srv.name: ([], [], 0, 0) for srv in wxs}
            rows1["weilink (PyPI version check fails at once)"] = ([], [], 0, 0)
            rows1["weilink (PyPI version check answered)"] = ([], [], 0, 0)
            for _ in range(a.runs):
                runs = [(srv.name, srv, None) for srv in wxs]
                runs.append(("weilink (PyPI version check fails at once)", wl, offline))
                runs.append(("weilink (PyPI version check answered)", wl, base_env))
                for name, srv, env in runs:
                    ms, junk, tools, size = start_once(srv, env)
                    times, junks, _, _ = rows1[name]
                    times.append(ms)
                    junks.append(junk)
                    rows1[name] = (times, junks, tools, size)
            idle = idle_rss_runs(servers, a.idle_runs)
            rss = {name: mb for name, (mb, _) in idle.items()}

            # 2 + 3: send and recv over stdio, one long-lived server each.
            results = {}
            for srv in servers:
                sends, warm = (a.sends_wl, 1) if srv is wl else (a.sends_wx, PER_TOKEN)
                s = srv.stdio()
                try:
                    s.initialize()
                    s.request("tools/list")
                    send = bench_send(s, fake, srv, sends, warm)
                    recv = bench_recv(s, fake, srv, a.recvs)
                finally:
                    s.close()
                results[srv.name] = (send, recv)

            # 4: Streamable HTTP throughput (+ RSS after it).
            http = {srv.name: bench_http(srv, a.mcp_load, a.secs) for srv in servers}
        finally:
            stop(sb)

    med = statistics.median
    wl_off = "weilink (PyPI version check fails at once)"
    print(f"\n1. stdio: process start -> first tools/list answer ({a.runs} runs each)")
    print(f"   {'server':<52}{'p50 ms':>9}{'p90 ms':>9}{'tools':>7}{'list KB':>9}")
    for name, (t, _, n, size) in rows1.items():
        print(f"   {name:<52}{med(t):>9.1f}{pct(t, 0.9):>9.1f}{n:>7}{size / 1000:>9.1f}")

    print("\n2. send tool over stdio (fresh context token every 10 sends, injected untimed)")
    print(f"   {'server':<52}{'sends':>9}{'p50 ms':>9}{'p99 ms':>9}")
    for name, (lat, _) in results.items():
        print(f"   {name:<52}{len(lat):>9}{med(lat):>9.2f}{pct(lat, 0.99):>9.2f}")

    print("\n3. POST /__fake/inbound -> recv tool answers with the message (stdio)")
    print(f"   {'server':<52}{'samples':>9}{'p50 ms':>9}{'p99 ms':>9}")
    for name, (_, (lat, _)) in results.items():
        print(f"   {name:<52}{len(lat):>9}{med(lat):>9.2f}{pct(lat, 0.99):>9.2f}")
    posts = " / ".join(f"{med(post):.2f}" for _, (_, (_, post)) in results.items())
    print(f"   (the POST itself, Python urllib on a new connection: p50 {posts} ms)")

    print(f"\n4. tools/call `sessions` on Streamable HTTP ({a.secs:g} s per run)")
    print(f"   {'server':<18}{'clients':>8}{'calls/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
          f"{'errors':>8}{'server CPU':>12}{'per call':>10}{'load CPU':>10}")
    for name, (rows, _, _) in http.items():
        for r in rows:
            per_call = r["server_cpu"] / 100 / r["calls_per_sec"] * 1e6
            print(f"   {name:<18}{r['clients']:>8}{r['calls_per_sec']:>10.0f}"
                  f"{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}{r['errors']:>8}"
                  f"{r['server_cpu']:>11.0f}%{per_call:>8.0f}us{r['load_cpu']:>9.0f}%")
    print("   (CPU: % of one core used by the server and by the load generator; per call: the")
    print("   server's CPU time per call, which depends less on other load on the machine)")

    print("\n5. RSS (VmRSS)")
    print(f"   {'server':<34}{'idle MB':>8}{'min-max':>12}{'anon':>6}{'files':>6}{'PSS x2':>7}"
          f"{'HTTP idle':>10}{'loaded':>7}")
    for srv in servers:
        split = idle[srv.name][1]
        spread = f"{split['min']:.1f}-{split['max']:.1f}"
        print(f"   {srv.name:<34}{rss[srv.name]:>8.1f}{spread:>12}{split['anon']:>6.1f}"
              f"{split['files']:>6.1f}{split['pss2']:>7.1f}{http[srv.name][1]:>10.1f}"
              f"{http[srv.name][2]:>7.1f}")
    print(f"   (idle: median of {a.idle_runs} stdio servers after start-up, one tools/list and 1 s,")
    print("   split into its own memory (anon) and the pages of its executable and libraries (files:")
    print("   clean, shared, dropped first under pressure); PSS x2: its proportional share with a")
    print("   second copy idle beside it, as with two agents; HTTP idle: the Streamable HTTP server")
    print("   after one session listed the tools and 1 s; loaded: after the load runs)")

    print(f"\nstdout lines that are not JSON-RPC (stdio, {a.runs} processes each):")
    for name in [*(srv.name for srv in wxs), wl_off]:
        junk = rows1[name][1]
        lines = [line for run in junk for line in run]
        first = next((run for run in junk if run), [])
        print(f"   {name}: {len(lines)}" + (f", e.g. {first[:4]!r}" if first else ""))

    def ratios(title: str, old: str, new: str, old_start: str) -> None:
        """How many times `new` beats `old` (above 1: `new` is better); `old_start` names the
        start-up row of `old`."""
        (o_send, (o_recv, _)), (n_send, (n_recv, _)) = results[old], results[new]
        n_start = med(rows1[new][0])
        print(f"\n{title}:")
        print(f"   stdio start to tools/list: {med(rows1[old_start][0]) / n_start:.1f}x")
        print(f"   tools/list size: {rows1[old_start][3] / rows1[new][3]:.2f}x")
        print(f"   send p50: {med(o_send) / med(n_send):.1f}x; "
              f"recv p50: {med(o_recv) / med(n_recv):.1f}x")
        for i, clients in enumerate((1, 16)):
            r = http[new][0][i]["calls_per_sec"] / http[old][0][i]["calls_per_sec"]
            print(f"   HTTP calls/s, {clients} client{'s' * (clients > 1)}: {r:.2f}x")
        print(f"   idle RSS: {rss[old] / rss[new]:.2f}x; HTTP idle RSS: "
              f"{http[old][1] / http[new][1]:.2f}x; loaded: {http[old][2] / http[new][2]:.2f}x")

    ratios("ratios (WeiLink / wxlink)", "weilink", "wxlink", wl_off)
    pypi = med(rows1["weilink (PyPI version check answered)"][0]) / med(rows1["wxlink"][0])
    print(f"   (stdio start with WeiLink's PyPI check answered: {pypi:.0f}x)")
    if a.baseline:
        ratios(f"ratios ({a.baseline_name} / wxlink; above 1 means wxlink now is better)",
               a.baseline_name, "wxlink", a.baseline_name)

    wx_send = results["wxlink"][0]
    wx_http = http["wxlink"][0]
    junk_wx = rows1["wxlink"][1]
    print("\naims for wxlink:")
    aims = [("send p50 < 2 ms", med(wx_send) < 2.0, f"{med(wx_send):.2f} ms"),
            ("HTTP tools/call >= 5000 calls/s (16 clients)",
             wx_http[1]["calls_per_sec"] >= 5000, f"{wx_http[1]['calls_per_sec']:.0f}/s"),
            ("nothing but JSON-RPC on stdout", not any(junk_wx),
             f"{sum(map(len, junk_wx))} other lines")]
    for name, ok, got in aims:
        print(f"   {'met   ' if ok else 'MISSED'} {name}: {got}")
    print(f"\nbench time: {time.perf_counter() - began:.0f} s "
          f"(load average at the end {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()


class EventStream:
    """`GET /api/v1/events` of a `wxlink serve` on 127.0.0.1:`port`, read on a raw socket by a
    thread (no browser, no client library): when each text matching `pattern` was first seen
    (`time.perf_counter()`)."""

    def __init__(self, port: int, token: str, pattern: bytes) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(f"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                          f"Authorization: Bearer {token}\r\n"
                          f"Accept: text/event-stream\r\n\r\n".encode())
        self.pattern = re.compile(pattern)
        self.seen: dict[str, float] = {}
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        buf = b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            now = time.perf_counter()
            buf += chunk
            for marker in set(self.pattern.findall(buf)):
                with self.cond:
                    self.seen.setdefault(marker.decode(), now)
                    self.cond.notify_all()
            buf = buf[-200:]

    def wait(self, marker: str, timeout: float = 10.0) -> float:
        """When `marker` was seen; raises after `timeout` seconds without it."""
        with self.cond:
            if not self.cond.wait_for(lambda: marker in self.seen, timeout=timeout):
                raise RuntimeError(f"no event for {marker!r}")
            return self.seen[marker]

    def close(self) -> None:
        self.sock.close()
