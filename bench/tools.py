"""Tool latency over stdio: `sessions`, `history` (one page), `contacts` and the MCP `ping`
(the floor: this client, the pipes and the JSON-RPC framing, no tool) against one
`wxlink mcp` logged in to the fake (`wxlink sandbox`), with --messages stored.

Usage: python3 bench/tools.py target/release/wxlink [--count 2000] [--messages 500] [--runs 3]
                             [--baseline OTHER_BINARY]
       ~/.cache/wxlink/venv/bin/python bench/tools.py target/release/wxlink --weilink

With --weilink (run by the Python of the venv that has WeiLink 0.6.2:
tests/interop/setup-venv.sh), WeiLink's MCP server is measured too, on the same fake with the
same messages (`ping`, `sessions`, `history`: it has no `contacts`).

With --baseline OTHER_BINARY, an earlier wxlink build is measured side by side: both servers
run at once, each with its own data directory and account holding the same messages (on the
same fake), and each tool's calls alternate between them in blocks of 50, so both see the same moments of this VM (whose wake-up latencies move wall-clock figures
by up to 2x from one hour to the next); the baseline's figures are printed with their ratio to
this build's.

With --paused-sends N, wxlink's `send` (a text to the user) is timed too, N times, each
answering a message from the user after --pause seconds of quiet (default 1.5: longer than the
store's checkpoint interval, as when an agent answers a while after a message came in): min /
median / max over them.

Each figure is the median over --count calls of the time from writing the request to having
read the whole answer line (the server, the pipes and this client's reading; not its parsing);
the run is repeated --runs times (a fresh server each) and printed as min / median / max of
those medians, with the median of the same calls including this Python client parsing the
answer (`json.loads`), and the server's RSS after the run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "interop"))

from fakectl import login_account, start_sandbox, stop_process, wxlink_flags  # noqa: E402
from mcp_bench import Stdio, free_port, login_weilink, rss_mb  # noqa: E402


def timed(s: Stdio, method: str, params: dict, count: int) -> tuple[float, float, int]:
    """Median ms of `count` calls (after 50 not counted) from writing the request to having
    read its whole answer line (the server and the pipes); the median ms of the same calls
    with this client parsing the answer (`json.loads`) too; the answer's size in bytes."""
    wire, parsed = [], []
    for i in range(count + 50):
        w, p, line = one_call(s, method, params)
        if i >= 50:
            wire.append(w)
            parsed.append(p)
    return statistics.median(wire), statistics.median(parsed), len(line)


def one_call(s: Stdio, method: str, params: dict) -> tuple[float, float, bytes]:
    """One call: ms from writing the request to having read its answer line, the same with
    this client's `json.loads` of it, and the line. A failed call raises."""
    t = time.perf_counter()
    rid = s.start(method, params)
    line, read = answer_line(s, rid)
    msg = json.loads(line)
    done = time.perf_counter()
    if "error" in msg:
        raise RuntimeError(f"{method} failed: {msg['error']}")
    if method == "tools/call" and msg["result"].get("isError"):
        raise RuntimeError(f"{params['name']} failed: {msg['result']}")
    return (read - t) * 1000, (done - t) * 1000, line


def interleaved(servers: dict[str, Stdio], method: str, params: dict[str, dict], count: int,
                block: int = 50) -> dict[str, tuple[float, float, int]]:
    """`timed` for several servers at once (`params` by server): each makes 50 calls not
    counted, then `count` calls in blocks of `block`, the servers taking turns block by
    block."""
    times: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in servers}
    size = {}
    done = -50  # the calls not counted
    while done < count:
        n = min(block, count - done)
        for name, s in servers.items():
            for _ in range(n):
                w, p, line = one_call(s, method, params[name])
                if done >= 0:
                    times[name][0].append(w)
                    times[name][1].append(p)
                size[name] = len(line)
        done += n
    return {name: (statistics.median(w), statistics.median(p), size[name])
            for name, (w, p) in times.items()}


def answer_line(s: Stdio, rid: int, timeout: float = 30.0) -> tuple[bytes, float]:
    """The line answering request `rid`, unparsed, and when it had been read whole (other
    lines, such as notifications, are skipped)."""
    deadline = time.perf_counter() + timeout
    mark = b'"id":%d,' % rid
    while True:
        line = s._line(deadline)
        read = time.perf_counter()
        if line is None:
            raise EOFError(f"server closed stdout (exit code {s.proc.poll()})")
        if mark in line[:48]:
            return line, read


def stored(s: Stdio, total_of, want: int, drain: bool) -> None:
    """Waits (up to 60 s) until `history` counts `want` messages; `drain` calls `recv` meanwhile
    (WeiLink stores only what its `recv` fetched)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if drain:
            s.call("recv", {"timeout": 1})
        if total_of(s.call("history", {"limit": 1})) >= want:
            return
        time.sleep(0.05)
    raise RuntimeError(f"fewer than {want} messages stored after 60 s")


def paused_sends(s: Stdio, fake, bot: str, user: str, count: int, pause: float) -> list[float]:
    """ms of `count` sends of a text to `user`, each answering a message from `user` (injected
    into `bot`'s account: a fresh context token and quota) after `pause` seconds of quiet
    (request written -> answer read)."""
    times = []
    for i in range(count):
        fake.inject(bot_id=bot, text=f"before a pause {i}")
        time.sleep(pause)
        t = time.perf_counter()
        rid = s.start("tools/call", {"name": "send",
                                     "arguments": {"to": user, "text": f"after a pause {i}"}})
        line, read = answer_line(s, rid)
        msg = json.loads(line)
        if "error" in msg or msg["result"].get("isError"):
            raise RuntimeError(f"send failed: {line[:300]!r}")
        times.append((read - t) * 1000)
    return times


def weilink_total(result: dict) -> int:
    """`total` of a WeiLink `history` answer (JSON in its text block)."""
    text = next((c.get("text", "") for c in result.get("content", [])), "{}")
    return int(json.loads(text).get("total", 0))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("wxlink")
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--messages", type=int, default=500)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--baseline", help="an earlier wxlink binary, measured side by side")
    ap.add_argument("--paused-sends", type=int, default=0,
                    help="time wxlink's send this many times, each after --pause s of quiet")
    ap.add_argument("--pause", type=float, default=1.5)
    ap.add_argument("--weilink", action="store_true",
                    help="WeiLink 0.6.2 too, on the same fake (run this script with the Python of "
                         "the venv that has weilink: tests/interop/setup-venv.sh)")
    a = ap.parse_args()
    if a.baseline and a.weilink:
        sys.exit("--baseline and --weilink are separate runs")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WXLINK_")}
    with tempfile.TemporaryDirectory(prefix="wxlink-tools-bench-") as tmp:
        tmp = Path(tmp)
        sb, fake = start_sandbox(a.wxlink, tmp / "sandbox.stderr")
        try:
            fake.config(qr_hold_ms=10, record_requests=False, qr_auto_confirm=True)
            flags = wxlink_flags(a.wxlink, fake, tmp / "wx")
            bot, user = login_account(flags, fake, env)
            texts = [f"我们明天开会 budget review {i}" for i in range(a.messages)]
            fake.inject_bulk([{"bot_id": bot, "text": t} for t in texts])
            calls = {
                "ping (no tool: the floor)": ("ping", {}),
                "sessions": ("tools/call", {"name": "sessions", "arguments": {}}),
                "history (one page of 20)": ("tools/call", {"name": "history",
                                                            "arguments": {"limit": 20}}),
                "contacts": ("tools/call", {"name": "contacts", "arguments": {"query": user}}),
            }
            # name → (argv, env, the calls it has, total of a history answer, drain with recv)
            servers = {"wxlink": ([*flags, "mcp", "--no-banner"], env, list(calls),
                                  lambda r: (r.get("structuredContent") or {}).get("total", 0),
                                  False)}
            # The baseline has its own data directory and account (the same messages): two
            # servers on one directory do not do the same work (one holds the poll's lock).
            users = {"wxlink": user}
            if a.baseline:
                name = f"baseline ({a.baseline})"
                base_flags = wxlink_flags(a.baseline, fake, tmp / "wx-baseline")
                base_bot, users[name] = login_account(base_flags, fake, env)
                fake.inject_bulk([{"bot_id": base_bot, "text": t} for t in texts])
                servers[name] = ([*base_flags, "mcp", "--no-banner"], env, list(calls),
                                 servers["wxlink"][3], False)
            if a.weilink:
                wl_home = tmp / "weilink"
                wl_home.mkdir()
                wl_bot = login_weilink(fake, wl_home)
                fake.inject_bulk([{"bot_id": wl_bot, "text": t} for t in texts])
                offline = {**env, "HTTPS_PROXY": f"http://127.0.0.1:{free_port()}",
                           "NO_PROXY": "127.0.0.1,localhost"}
                servers["WeiLink 0.6.2"] = (
                    [str(Path(sys.executable).parent / "weilink"), "mcp", "-d", str(wl_home),
                     "--admin-port", str(free_port())], offline,
                    ["ping (no tool: the floor)", "sessions", "history (one page of 20)"],
                    weilink_total, True)
            results: dict[tuple[str, str], list[float]] = {}
            parses: dict[tuple[str, str], list[float]] = {}
            sizes: dict[tuple[str, str], int] = {}
            rss: dict[str, list[float]] = {name: [] for name in servers}
            paused: list[float] = []
            for _ in range(a.runs):
                if a.baseline:
                    both = {name: Stdio(argv, server_env, tmp / f"{i}.stderr")
                            for i, (name, (argv, server_env, *_)) in enumerate(servers.items())}
                    try:
                        for name, s in both.items():
                            s.initialize()
                            stored(s, servers[name][3], a.messages, False)
                        for label in calls:
                            method, params = calls[label]
                            each = {name: ({**params, "arguments": {"query": users[name]}}
                                           if label == "contacts" else params)
                                    for name in both}
                            got = interleaved(both, method, each, a.count)
                            for name, (median, parse, size) in got.items():
                                results.setdefault((name, label), []).append(median)
                                parses.setdefault((name, label), []).append(parse)
                                sizes[name, label] = size
                        for name, s in both.items():
                            rss[name].append(rss_mb(s.proc.pid))
                    finally:
                        for s in both.values():
                            s.close()
                    continue
                for name, (argv, server_env, labels, total_of, drain) in servers.items():
                    s = Stdio(argv, server_env, tmp / f"{name}.stderr")
                    try:
                        s.initialize()
                        stored(s, total_of, a.messages, drain)
                        for label in labels:
                            method, params = calls[label]
                            median, parse, sizes[name, label] = timed(s, method, params, a.count)
                            results.setdefault((name, label), []).append(median)
                            parses.setdefault((name, label), []).append(parse)
                        if name == "wxlink" and a.paused_sends:
                            paused.extend(paused_sends(s, fake, bot, user, a.paused_sends, a.pause))
                        rss[name].append(rss_mb(s.proc.pid))
                    finally:
                        s.close()
            print(f"tool latency over stdio (request written -> answer read, unparsed), median "
                  f"of {a.count} calls per run, {a.runs} runs, "
                  f"{a.messages} messages stored (load average {os.getloadavg()[0]:.1f}):")
            for name in servers:
                print(f"{name}:")
                for (server, label), values in results.items():
                    if server != name:
                        continue
                    v = sorted(values)
                    ratio = ""
                    if name != "wxlink" and ("wxlink", label) in results:
                        x = statistics.median(v) / statistics.median(results["wxlink", label])
                        ratio = (f"  ({x:.2f}x this build's)" if a.baseline
                                 else f"  ({x:.0f}x wxlink's)")
                    print(f"  {label:<28} min {v[0]:6.3f}  median {statistics.median(v):6.3f}  "
                          f"max {v[-1]:6.3f} ms   (with this client's JSON parse: median "
                          f"{statistics.median(parses[server, label]):.3f} ms; answer "
                          f"{sizes[server, label]:,} B){ratio}")
                if name == "wxlink" and paused:
                    p = sorted(paused)
                    print(f"  {'send after ' + format(a.pause, 'g') + ' s of quiet':<28} "
                          f"min {p[0]:6.3f}  median {statistics.median(p):6.3f}  "
                          f"max {p[-1]:6.3f} ms   ({len(p)} sends over the runs)")
                r = rss[name]
                print(f"  server RSS after the run     min {min(r):6.1f}  median "
                      f"{statistics.median(r):6.1f}  max {max(r):6.1f} MB")
        finally:
            stop_process(sb)


if __name__ == "__main__":
    main()
