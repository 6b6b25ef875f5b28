"""Tool latency over stdio: `sessions`, `history` (one page), `contacts` and the MCP `ping`
(the floor: this client, the pipes and the JSON-RPC framing, no tool) against one
`wxlink mcp` logged in to the fake (`wxlink sandbox`), with --messages stored.

Usage: python3 bench/tools.py target/release/wxlink [--count 2000] [--messages 500] [--runs 3]

Each figure is the median over --count calls; the run is repeated --runs times (a fresh server
each) and printed as min / median / max of those medians, with the server's RSS after the run,
and how much of each figure is this Python client parsing the answer (`json.loads`).
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
from mcp_bench import Stdio, rss_mb  # noqa: E402


def timed(s: Stdio, method: str, params: dict, count: int) -> tuple[float, float, int]:
    """Median ms of `count` calls (after 50 not counted); the median ms this client takes to
    parse one answer (`json.loads` of the same answer again, part of the first figure); the
    answer's size in bytes."""
    lat = []
    result: dict = {}
    for i in range(count + 50):
        t = time.perf_counter()
        result = s.request(method, params)
        dt = (time.perf_counter() - t) * 1000
        if method == "tools/call" and result.get("isError"):
            raise RuntimeError(f"{params['name']} failed: {result}")
        if i >= 50:
            lat.append(dt)
    line = json.dumps({"jsonrpc": "2.0", "id": 1, "result": result}, ensure_ascii=False)
    parse = []
    for _ in range(200):
        t = time.perf_counter()
        json.loads(line)
        parse.append((time.perf_counter() - t) * 1000)
    return statistics.median(lat), statistics.median(parse), len(line.encode())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("wxlink")
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--messages", type=int, default=500)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WXLINK_")}
    with tempfile.TemporaryDirectory(prefix="wxlink-tools-bench-") as tmp:
        tmp = Path(tmp)
        sb, fake = start_sandbox(a.wxlink, tmp / "sandbox.stderr")
        try:
            fake.config(qr_hold_ms=10, record_requests=False)
            flags = wxlink_flags(a.wxlink, fake, tmp / "wx")
            bot, user = login_account(flags, fake, env)
            fake.inject_bulk([{"bot_id": bot, "text": f"我们明天开会 budget review {i}"}
                              for i in range(a.messages)])
            calls = {
                "ping (no tool: the floor)": ("ping", {}),
                "sessions": ("tools/call", {"name": "sessions", "arguments": {}}),
                "history (one page of 20)": ("tools/call", {"name": "history",
                                                            "arguments": {"limit": 20}}),
                "contacts": ("tools/call", {"name": "contacts", "arguments": {"query": user}}),
            }
            results: dict[str, list[float]] = {k: [] for k in calls}
            parses: dict[str, list[float]] = {k: [] for k in calls}
            sizes: dict[str, int] = {}
            rss = []
            for _ in range(a.runs):
                s = Stdio([*flags, "mcp", "--no-banner"], env, tmp / "mcp.stderr")
                try:
                    s.initialize()
                    deadline = time.monotonic() + 30
                    while True:  # every message stored
                        page = s.call("history", {"limit": 1})
                        total = (page.get("structuredContent") or {}).get("total", 0)
                        if total >= a.messages or time.monotonic() > deadline:
                            break
                        time.sleep(0.05)
                    for label, (method, params) in calls.items():
                        median, parse, sizes[label] = timed(s, method, params, a.count)
                        results[label].append(median)
                        parses[label].append(parse)
                    rss.append(rss_mb(s.proc.pid))
                finally:
                    s.close()
            print(f"tool latency over stdio, median of {a.count} calls per run, {a.runs} runs, "
                  f"{a.messages} messages stored (load average {os.getloadavg()[0]:.1f}):")
            for label, values in results.items():
                v = sorted(values)
                print(f"  {label:<28} min {v[0]:6.3f}  median {statistics.median(v):6.3f}  "
                      f"max {v[-1]:6.3f} ms   (of which this client's JSON parse "
                      f"{statistics.median(parses[label]):.3f} ms; answer {sizes[label]:,} B)")
            print(f"  server RSS after the run     min {min(rss):6.1f}  median "
                  f"{statistics.median(rss):6.1f}  max {max(rss):6.1f} MB")
        finally:
            stop_process(sb)


if __name__ == "__main__":
    main()
