"""Inbound message → agent, pushed: the latency from the fake iLink server's inject to the
`notifications/claude/channel` line of `wxlink mcp --channel` on stdout, next to the same
inject → `recv` answer of a plain `wxlink mcp` (in-flight call) in the same run.

Usage: python3 bench/channel.py target/release/wxlink [--count 200]

Both servers run against one `wxlink sandbox` (the fake, a separate process) with a session
logged in by `wxlink login`; the sender is allowed with `wxlink access allow`. The time includes
the control API's HTTP POST that injects (printed alone too), the fake's long-poll answer, the
parse, the store commit, the wake-up and the JSON line. Prints min / median / p90 / max in ms.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "interop"))

from fakectl import login_account, start_sandbox, stop_process, wxlink_flags  # noqa: E402
from mcp_bench import Stdio, bench_recv  # noqa: E402


def show(label: str, values: list[float]) -> None:
    s = sorted(values)
    p90 = s[min(len(s) - 1, int(len(s) * 0.9))]
    print(f"  {label:<38} min {s[0]:6.2f}  median {statistics.median(s):6.2f}  "
          f"p90 {p90:6.2f}  max {s[-1]:6.2f} ms   (n={len(s)})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("wxlink")
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--gap", type=float, default=0.0,
                    help="seconds of quiet before each channel message (recv always waits 0.1)")
    a = ap.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WXLINK_")}
    with tempfile.TemporaryDirectory(prefix="wxlink-channel-bench-") as tmp:
        tmp = Path(tmp)
        sb, fake = start_sandbox(a.wxlink, tmp / "sandbox.stderr")
        try:
            fake.config(qr_hold_ms=10, record_requests=False)
            flags = wxlink_flags(a.wxlink, fake, tmp / "wx")
            bot_id, user = login_account(flags, fake, env)
            subprocess.run([*flags, "access", "allow", user], env=env, check=True,
                           stdout=subprocess.DEVNULL)

            ch = Stdio([*flags, "mcp", "--channel", "--no-banner"], env, tmp / "channel.stderr")
            ch.initialize()
            ch.call("sessions", {})
            time.sleep(0.5)  # the poller is holding its long poll
            lat, post = [], []
            for i in range(a.count + 10):
                marker = f"push {i} {uuid.uuid4().hex[:8]}"
                if a.gap:
                    time.sleep(a.gap)
                t = time.perf_counter()
                fake.inject(bot_id=bot_id, text=marker)
                posted = time.perf_counter()
                deadline = t + 10
                while True:
                    msg = ch._message(deadline)
                    if msg is None:
                        raise EOFError("the channel closed stdout")
                    if (msg.get("method") == "notifications/claude/channel"
                            and msg["params"]["content"] == marker):
                        break
                if i >= 10:  # warm-up
                    lat.append((time.perf_counter() - t) * 1000)
                    post.append((posted - t) * 1000)
            ch.close()

            class Plain:
                name = "wxlink"

            Plain.bot_id = bot_id
            rv = Stdio([*flags, "mcp", "--no-banner"], env, tmp / "recv.stderr")
            rv.initialize()
            # The default consumer starts at the beginning: read what the channel run left.
            while rv.call("recv", {"timeout": 0}).get("structuredContent", {}).get("messages"):
                pass
            time.sleep(0.5)
            bench_recv(rv, fake, Plain, 10)  # warm-up
            rlat, rpost = bench_recv(rv, fake, Plain, a.count)
            rv.close()

            print(f"inject → agent, {a.count} messages each (load average "
                  f"{os.getloadavg()[0]:.1f}):")
            show("channel notification", lat)
            show("recv answer (call in flight)", rlat)
            show("the inject POST alone (channel run)", post)
        finally:
            stop_process(sb)


if __name__ == "__main__":
    main()
