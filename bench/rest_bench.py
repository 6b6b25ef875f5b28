#!/usr/bin/env python3
"""The REST API against the MCP tools it mirrors, on one `wxlink serve` process logged in to the
sandbox (the fake iLink server): requests per second and latency of `history` (a page of 20
out of 2,000 stored messages) and `send` (one text, to the fake, spread over 3,000 users who wrote), with 1 and 16 concurrent
clients, over REST (`GET /api/v1/messages`, `POST /api/v1/messages`) and over MCP
(`tools/call history` / `send` on Streamable HTTP). The load generator is
`crates/wxlink/examples/mcp_load.rs` in both cases (raw keep-alive HTTP/1.1, one core at most).

    bench/rest.sh [--secs S]   (builds the release binaries, then runs this)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "interop"))
sys.path.insert(0, str(ROOT / "bench"))

from fakectl import start_sandbox, stop_process  # noqa: E402
from mcp_bench import EventStream, cpu_secs, free_port, rss_mb, stop, wait_port  # noqa: E402

TOKEN = "bench-token-bench-token"
USER = "o9cq80bench@im.wechat"
# Sends rotate over this many users who wrote (iLink allows ten replies per message).
SENDERS = 3000


def load(load_bin: str, url: str, clients: int, secs: float, tool: str, args: dict) -> dict:
    env = dict(os.environ, LOAD_TOKEN=TOKEN, LOAD_ROTATE=str(SENDERS))
    out = subprocess.run([load_bin, url, str(clients), str(secs), tool, json.dumps(args)],
                         check=True, stdout=subprocess.PIPE, text=True, env=env).stdout
    return json.loads(out)


def event_latency(base: str, fake, bot: str, n: int = 50) -> list[float]:
    """Milliseconds from the fake's inject (the POST returning) to the `message` event on an
    open `/api/v1/events` stream (raw socket, no browser)."""
    events = EventStream(int(base.rsplit(":", 1)[1]), TOKEN, rb"lat-[0-9]+")
    time.sleep(0.3)
    out = []
    for i in range(n + 5):
        marker = f"lat-{i}"
        fake.inject(bot_id=bot, from_user_id=USER, text=marker)
        sent = time.perf_counter()
        seen = events.wait(marker)
        if i >= 5:
            out.append((seen - sent) * 1000)
        time.sleep(0.02)
    events.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("wxlink")
    ap.add_argument("load")
    ap.add_argument("--secs", type=float, default=4.0)
    ap.add_argument("--messages", type=int, default=2000)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sandbox, fake = start_sandbox(a.wxlink, tmp / "sandbox.log")
        server = None
        try:
            fake.config(hold_ms=1000, qr_auto_confirm=True, quota_per_token=10_000_000)
            home = tmp / "data"
            env = dict(os.environ, WXLINK_HOME=str(home), WXLINK_ILINK_BASE=fake.base_url,
                       WXLINK_CDN_BASE=fake.cdn_url, WXLINK_TOKEN=TOKEN)
            subprocess.run([a.wxlink, "login"], check=True, env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=60)
            bot = fake.bots()[-1]["bot_id"]
            port = free_port()
            server = subprocess.Popen([a.wxlink, "serve", "-p", str(port), "--no-banner"],
                                      env=env, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL,
                                      stderr=open(tmp / "serve.log", "wb"))
            wait_port(port, server)
            for i in range(a.messages):
                fake.inject(bot_id=bot, from_user_id=USER,
                            text=f"message {i}: 今天天气很好" if i % 10 == 0 else f"message {i}")
            for i in range(SENDERS):
                fake.inject(bot_id=bot, from_user_id=f"o9cq80u{i}@im.wechat", text="hello")
            a.messages += SENDERS
            base = f"http://127.0.0.1:{port}"
            deadline = time.time() + 60
            import urllib.request
            while True:
                req = urllib.request.Request(f"{base}/api/v1/messages?limit=1",
                                             headers={"Authorization": f"Bearer {TOKEN}"})
                total = json.load(urllib.request.urlopen(req))["total"]
                if total >= a.messages:
                    break
                if time.time() > deadline:
                    raise SystemExit(f"only {total} of {a.messages} messages stored")
                time.sleep(0.1)
            rows = []
            cases = [
                ("history", "MCP", f"{base}/mcp", "history", {"limit": 20}),
                ("history", "REST", base, "GET /api/v1/messages?limit=20", {}),
                ("send", "MCP", f"{base}/mcp", "send", {"to": "o9cq80u{n}@im.wechat", "text": "hi"}),
                ("send", "REST", base, "POST /api/v1/messages", {"to": "o9cq80u{n}@im.wechat", "text": "hi"}),
            ]
            for what, api, url, tool, args in cases:
                for clients in (1, 16):
                    before = cpu_secs(server.pid)
                    r = load(a.load, url, clients, a.secs, tool, args)
                    r["server_cpu"] = (cpu_secs(server.pid) - before) / (r["secs"] + 0.8) * 100
                    r.update(what=what, api=api)
                    if r["errors"]:
                        raise SystemExit(f"{api} {what}: {r['errors']} errors")
                    rows.append(r)
            lat = sorted(event_latency(base, fake, bot))
            rss = rss_mb(server.pid)
        finally:
            if server:
                stop(server)
            stop_process(sandbox)
    print(f"wxlink serve, {a.messages} stored messages, {a.secs:.0f} s per case, RSS after {rss:.1f} MB")
    print(f"{'case':<10}{'api':<6}{'clients':>8}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'server CPU':>12}")
    for r in rows:
        print(f"{r['what']:<10}{r['api']:<6}{r['clients']:>8}{r['calls_per_sec']:>10.0f}"
              f"{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}{r['server_cpu']:>11.0f}%")
    print(f"event stream: inject -> `message` event p50 {lat[len(lat)//2]:.2f} ms, "
          f"p90 {lat[int(len(lat)*0.9)]:.2f} ms, max {lat[-1]:.2f} ms (n={len(lat)}; the inject "
          f"POST returns before the fake hands the message to the waiting poll)")
    print("ratios (REST / MCP, requests per second):")
    for what in ("history", "send"):
        for clients in (1, 16):
            pick = {r["api"]: r for r in rows if r["what"] == what and r["clients"] == clients}
            print(f"  {what:<8} {clients:>2} clients: {pick['REST']['calls_per_sec'] / pick['MCP']['calls_per_sec']:.2f}x")


if __name__ == "__main__":
    main()
