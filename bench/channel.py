"""Inbound message → agent: the latency from the fake iLink server's inject to the
`notifications/claude/channel` line of `wxlink mcp --channel` on stdout, and to the answer of
an in-flight `recv` of a plain `wxlink mcp`, in the same run, each split into its stages.

Usage: python3 bench/channel.py target/release/wxlink [--count 200] [--gap 0.1]

Both servers run against one `wxlink sandbox` (the fake, a separate process) with a session
logged in by `wxlink login`; the sender is allowed with `wxlink access allow`. Before each
message the client waits --gap seconds (default 0.1: the recv call is then waiting in the
server, and every process is idle, as when a message arrives in real life; 0 sends them back
to back).

The servers log `wxlink::timing` trace events (`answered`: the getupdates answer read and
parsed; `stored`: its commit done; `claimed`: the consumer's claim done; `written`: the JSON
line flushed to stdout). With the client's own clock (the same wall clock) they split each
latency into: inject → answered (the control API's POST, the fake answering the held poll, the
HTTP answer, the parse), → stored (normalise, the store thread, the commit), → claimed (the
wake-up and the claim, a write transaction), → written (the access gate, the view, the
serialisation, stdout), → client (the pipe and this client's parse). Prints min / median /
p90 / p99 / max in ms.
"""

from __future__ import annotations

import argparse
import datetime
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
from mcp_bench import Stdio, messages_of  # noqa: E402

STAGES = ["answered", "stored", "claimed", "written"]
LABELS = ["inject → answered (POST, fake, HTTP, parse)", "→ stored (store thread, commit)",
          "→ claimed (wake-up, claim)", "→ written (gate, view, serialise, stdout)",
          "→ client (pipe, client parse)"]


def show(label: str, values: list[float]) -> None:
    s = sorted(values)
    p90 = s[min(len(s) - 1, int(len(s) * 0.9))]
    p99 = s[min(len(s) - 1, int(len(s) * 0.99))]
    print(f"  {label:<46} min {s[0]:6.2f}  median {statistics.median(s):6.2f}  "
          f"p90 {p90:6.2f}  p99 {p99:6.2f}  max {s[-1]:6.2f} ms")


class Timings:
    """The `wxlink::timing` events a server writes to its stderr file, read as they come."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset = path, 0

    def next(self) -> dict[str, float]:
        """The first time (epoch seconds) of each stage logged since the last call."""
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        self.offset += len(data)
        seen: dict[str, float] = {}
        for line in data.decode(errors="replace").splitlines():
            if "wxlink::timing:" not in line:
                continue
            stamp, _, rest = line.partition(" ")
            stage = next((s for s in STAGES if f"wxlink::timing: {s}" in rest), None)
            if stage and stage not in seen:
                seen[stage] = datetime.datetime.fromisoformat(stamp).timestamp()
        return seen


def measure(s: Stdio, timings: Timings, fake, bot_id: str, count: int, gap: float,
            arrived) -> tuple[list[float], list[list[float]]]:
    """Per message: the total (ms) and its stages. `arrived(s, marker, rid)` waits for it."""
    totals, stages = [], []
    for i in range(count + 10):
        marker = f"latency {i} {uuid.uuid4().hex[:8]}"
        rid = s.start("tools/call", {"name": "recv", "arguments": {"timeout": 10}}) \
            if arrived is recv_arrived else None
        time.sleep(gap)
        timings.next()  # what came before this message
        wall, t = time.time(), time.perf_counter()
        fake.inject(bot_id=bot_id, text=marker)
        arrived(s, marker, rid)
        total = (time.perf_counter() - t) * 1000
        end = wall + total / 1000
        seen = timings.next()
        if i < 10:  # warm-up
            continue
        totals.append(total)
        if all(k in seen for k in STAGES):
            points = [wall] + [seen[k] for k in STAGES] + [end]
            stages.append([(b - a) * 1000 for a, b in zip(points, points[1:])])
    return totals, stages


def channel_arrived(s: Stdio, marker: str, _rid) -> None:
    deadline = time.perf_counter() + 10
    while True:
        msg = s._message(deadline)
        if msg is None:
            raise EOFError("the channel closed stdout")
        if (msg.get("method") == "notifications/claude/channel"
                and msg["params"]["content"] == marker):
            return


def recv_arrived(s: Stdio, marker: str, rid) -> None:
    got = messages_of(s.wait(rid))
    if not any(m.get("text") == marker for m in got):
        raise RuntimeError(f"recv answered without the message: {got}")


def report(title: str, totals: list[float], stages: list[list[float]]) -> None:
    show(title, totals)
    for n, label in enumerate(LABELS):
        if stages:
            show("    " + label, [row[n] for row in stages])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("wxlink")
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--gap", type=float, default=0.1,
                    help="seconds of quiet before each message (0: back to back)")
    a = ap.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WXLINK_")}
    traced = {**env, "WXLINK_LOG": "warn,wxlink::timing=trace"}
    with tempfile.TemporaryDirectory(prefix="wxlink-channel-bench-") as tmp:
        tmp = Path(tmp)
        sb, fake = start_sandbox(a.wxlink, tmp / "sandbox.stderr")
        try:
            fake.config(qr_hold_ms=10, record_requests=False)
            flags = wxlink_flags(a.wxlink, fake, tmp / "wx")
            bot_id, user = login_account(flags, fake, env)
            subprocess.run([*flags, "access", "allow", user], env=env, check=True,
                           stdout=subprocess.DEVNULL)

            ch = Stdio([*flags, "mcp", "--channel", "--no-banner"], traced,
                       tmp / "channel.stderr")
            ch.initialize()
            ch.call("sessions", {})
            time.sleep(0.5)  # the poller is holding its long poll
            ch_totals, ch_stages = measure(ch, Timings(tmp / "channel.stderr"), fake, bot_id,
                                           a.count, a.gap, channel_arrived)
            ch.close()

            rv = Stdio([*flags, "mcp", "--no-banner"], traced, tmp / "recv.stderr")
            rv.initialize()
            # The default consumer starts at the beginning: read what the channel run left.
            while messages_of(rv.call("recv", {"timeout": 0})):
                pass
            time.sleep(0.5)
            rv_totals, rv_stages = measure(rv, Timings(tmp / "recv.stderr"), fake, bot_id,
                                           a.count, a.gap, recv_arrived)
            rv.close()

            print(f"inject → agent, {a.count} messages each, {a.gap:g} s quiet before each "
                  f"(load average {os.getloadavg()[0]:.1f}):")
            report("channel notification", ch_totals, ch_stages)
            report("recv answer (call in flight)", rv_totals, rv_stages)
        finally:
            stop_process(sb)


if __name__ == "__main__":
    main()
