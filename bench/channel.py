"""Inbound message → agent: the latency from the fake iLink server's inject to the
`notifications/claude/channel` line of `wxlink mcp --channel` on stdout, to the answer of an
in-flight `recv` of a plain `wxlink mcp`, to the `notifications/resources/updated` of a
subscribed `wxlink://inbox`, and to the `message` event of the admin event stream
(`GET /api/v1/events` of `wxlink serve`), in the same run, each split into its stages.

Usage: python3 bench/channel.py target/release/wxlink [--count 200] [--gap 0.1]

Both servers run against one `wxlink sandbox` (the fake, a separate process) with a session
logged in by `wxlink login`; the sender is allowed with `wxlink access allow`. Before each
message the client waits --gap seconds (default 0.1: the recv call is then waiting in the
server, and every process is idle, as when a message arrives in real life; 0 sends them back
to back).

The fake logs `ilink_fake::timing` `received` when its control API has the message and
`replied` when it answers the held poll with it (where the inbound path starts: "WeChat"
answered); the servers log `wxlink::timing` trace events (`answered`: the getupdates answer
read and parsed; `stored`: its commit done; `claimed`: the consumer's claim done; `written`:
the JSON line flushed to stdout). With the client's own clock (the same wall clock) they split
each latency into: inject → received (this client's POST to the control API, on a connection
kept open from one message to the next, and the fake waking to read it), → replied (the fake
queueing it and answering the held poll), → answered (the HTTP answer, the parse), → stored
(normalise, the store thread, the commit), → claimed (the wake-up and the claim, a write
transaction), → written (the access gate, the view, the serialisation, stdout), → client (the
pipe and this client's parse). Each path is shown from the inject and from the fake's reply
(the inbound path proper, without this client's POST). A resource update has no claim (the
change feed says the inbox changed); the event stream's last stage is the change feed's
wake-up, the page read, the serialisation and the HTTP chunk, as `wxlink serve` logs no
`written`. Prints min / median / p90 / p99 / max in ms.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "interop"))

from fakectl import login_account, start_sandbox, stop_process, wxlink_flags  # noqa: E402
from mcp_bench import (EventStream, Stdio, free_port, messages_of, stop,  # noqa: E402
                        wait_port)

# The inject leg, in the fake: before the inbound path starts.
FAKE = ["received", "replied"]
STAGES = [*FAKE, "answered", "stored", "claimed", "written"]
LABELS = {"received": "inject → received (the POST, the fake's wake-up)",
          "replied": "→ replied (the fake answers the held poll)",
          "answered": "→ answered (HTTP, parse)",
          "stored": "→ stored (store thread, commit)",
          "claimed": "→ claimed (wake-up, claim)",
          "written": "→ written (gate, view, serialise, stdout)",
          "client": "→ client (pipe, client parse)"}
TOKEN = "channel-bench-token-0123456789"


class Injector:
    """POSTs inbound messages to the fake's control API on one kept-alive connection, as
    `FakeControl.inject` does on a new one per call: that connection's set-up (about half a
    millisecond of Python here) is this benchmark's own cost, not the path measured."""

    def __init__(self, control_url: str) -> None:
        url = urllib.parse.urlsplit(control_url)
        self.host, self.port, self.path = url.hostname, url.port, url.path.rstrip("/")
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=10)

    def inject(self, **spec: str) -> dict:
        body = json.dumps(spec).encode()
        for attempt in (0, 1):
            try:
                self.conn.request("POST", f"{self.path}/inbound", body,
                                  {"Content-Type": "application/json"})
                resp = self.conn.getresponse()
                payload = resp.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The fake closed the idle connection before reading the request: once, anew.
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
                if attempt:
                    raise
        if resp.status != 200:
            raise RuntimeError(f"POST inbound -> HTTP {resp.status}: {payload!r}")
        return json.loads(payload)["message"]


def show(label: str, values: list[float]) -> None:
    s = sorted(values)
    p90 = s[min(len(s) - 1, int(len(s) * 0.9))]
    p99 = s[min(len(s) - 1, int(len(s) * 0.99))]
    print(f"  {label:<46} min {s[0]:6.2f}  median {statistics.median(s):6.2f}  "
          f"p90 {p90:6.2f}  p99 {p99:6.2f}  max {s[-1]:6.2f} ms")


class Timings:
    """The timing events (`wxlink::timing`, `ilink_fake::timing`) a process writes to its
    stderr file, read as they come."""

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
            if "::timing:" not in line:
                continue
            stamp, _, rest = line.partition(" ")
            stage = next((s for s in STAGES if f"::timing: {s}" in rest), None)
            if stage and stage not in seen:
                seen[stage] = datetime.datetime.fromisoformat(stamp).timestamp()
        return seen


def measure(timings: list[Timings], stages: list[str], injector: Injector, bot_id: str,
            count: int, gap: float, ask, arrived) -> tuple[list[float], list[list[float]]]:
    """Per message: the total (ms) and its `stages` (then the client's), from the logs of the
    fake and the server. `ask()` runs before the quiet gap (a `recv` call goes out),
    `arrived(marker, asked)` waits for the message."""
    totals, rows = [], []
    for i in range(count + 10):
        marker = f"latency {i} {uuid.uuid4().hex[:8]}"
        asked = ask()
        time.sleep(gap)
        for log in timings:
            log.next()  # what came before this message
        wall, t = time.time(), time.perf_counter()
        injector.inject(bot_id=bot_id, text=marker)
        arrived(marker, asked)
        total = (time.perf_counter() - t) * 1000
        end = wall + total / 1000
        seen = {k: v for log in timings for k, v in log.next().items()}
        if i < 10:  # warm-up
            continue
        totals.append(total)
        if all(k in seen for k in stages):
            points = [wall] + [seen[k] for k in stages] + [end]
            rows.append([(b - a) * 1000 for a, b in zip(points, points[1:])])
    return totals, rows


def nothing() -> None:
    return None


def notified(s: Stdio, method: str, matches) -> None:
    """Reads stdout until a notification `method` whose params `matches`."""
    deadline = time.perf_counter() + 10
    while True:
        msg = s._message(deadline)
        if msg is None:
            raise EOFError("the server closed stdout")
        if msg.get("method") == method and matches(msg["params"]):
            return


def channel_arrived(s: Stdio):
    return lambda marker, _: notified(s, "notifications/claude/channel",
                                      lambda p: p["content"] == marker)


def recv_arrived(s: Stdio):
    def arrived(marker: str, rid) -> None:
        got = messages_of(s.wait(rid))
        if not any(m.get("text") == marker for m in got):
            raise RuntimeError(f"recv answered without the message: {got}")
    return arrived


def resource_arrived(s: Stdio):
    # The update names the resource only; reading it is the client's next step, not timed.
    return lambda _marker, _: notified(s, "notifications/resources/updated",
                                       lambda p: p["uri"] == "wxlink://inbox")


def report(title: str, stages: list[str], totals: list[float], rows: list[list[float]]) -> None:
    show(title + ", from the inject", totals)
    if rows:
        # The inbound path proper: from the moment "WeChat" (the fake) answers the held poll.
        show("  from the fake's reply (the inbound path)",
             [sum(row[len(FAKE):]) for row in rows])
    for n, stage in enumerate([*stages, "client"]):
        if rows:
            show("    " + LABELS[stage], [row[n] for row in rows])


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
        # The fake logs when it answers a held poll: where the inbound path starts.
        os.environ["WXLINK_LOG"] = "warn,ilink_fake::timing=trace"
        sb, fake = start_sandbox(a.wxlink, tmp / "sandbox.stderr")
        fake_log = Timings(tmp / "sandbox.stderr")
        try:
            fake.config(qr_hold_ms=10, record_requests=False)
            flags = wxlink_flags(a.wxlink, fake, tmp / "wx")
            bot_id, user = login_account(flags, fake, env)
            subprocess.run([*flags, "access", "allow", user], env=env, check=True,
                           stdout=subprocess.DEVNULL)
            injector = Injector(fake.control_url)

            results = []
            ch = Stdio([*flags, "mcp", "--channel", "--no-banner"], traced,
                       tmp / "channel.stderr")
            ch.initialize()
            ch.call("sessions", {})
            time.sleep(0.5)  # the poller is holding its long poll
            results.append(("channel notification", STAGES, *measure(
                [fake_log, Timings(tmp / "channel.stderr")], STAGES, injector, bot_id, a.count, a.gap,
                nothing, channel_arrived(ch))))
            ch.close()

            rv = Stdio([*flags, "mcp", "--no-banner"], traced, tmp / "recv.stderr")
            rv.initialize()
            # The default consumer starts at the beginning: read what the channel run left.
            while messages_of(rv.call("recv", {"timeout": 0})):
                pass
            time.sleep(0.5)
            results.append(("recv answer (call in flight)", STAGES, *measure(
                [fake_log, Timings(tmp / "recv.stderr")], STAGES, injector, bot_id, a.count, a.gap,
                lambda: rv.start("tools/call", {"name": "recv", "arguments": {"timeout": 10}}),
                recv_arrived(rv))))
            rv.close()

            rs = Stdio([*flags, "mcp", "--no-banner"], traced, tmp / "resource.stderr")
            rs.initialize()
            rs.request("resources/subscribe", {"uri": "wxlink://inbox"})
            time.sleep(0.5)
            stages = [*FAKE, "answered", "stored", "written"]
            results.append(("resource updated (wxlink://inbox)", stages, *measure(
                [fake_log, Timings(tmp / "resource.stderr")], stages, injector, bot_id, a.count, a.gap,
                nothing, resource_arrived(rs))))
            rs.close()

            port = free_port()
            serve = subprocess.Popen([*flags, "serve", "-p", str(port), "--no-banner"],
                                     env={**traced, "WXLINK_TOKEN": TOKEN},
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(tmp / "serve.stderr", "wb"))
            try:
                wait_port(port, serve)
                events = EventStream(port, TOKEN, rb"latency [0-9]+ [0-9a-f]{8}")
                time.sleep(0.5)
                stages = [*FAKE, "answered", "stored"]
                results.append(("admin event stream (message event)", stages, *measure(
                    [fake_log, Timings(tmp / "serve.stderr")], stages, injector, bot_id, a.count, a.gap,
                    nothing, lambda marker, _: events.wait(marker))))
                events.close()
            finally:
                stop(serve)

            print(f"inject → agent, {a.count} messages each, {a.gap:g} s quiet before each "
                  f"(load average {os.getloadavg()[0]:.1f}):")
            for title, stages, totals, rows in results:
                report(title, stages, totals, rows)
        finally:
            stop_process(sb)


if __name__ == "__main__":
    main()
