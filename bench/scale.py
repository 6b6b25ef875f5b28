"""Many accounts in one process: N WeChat accounts logged in to one `wxlink mcp` (stdio), all
polled at once against one fake iLink server (`wxlink sandbox`, a separate process).

Usage: python3 bench/scale.py target/release/wxlink [--accounts 1000] [--messages 40000]
                              [--rounds 3] [--idle-secs 10] [--sends 200] [--nofile 1024]

Prints, with min / median / max over the rounds where there are rounds:
- the time to log the accounts in (`wxlink login`, 8 at a time) and until all N polls are held;
- RSS of the server with every poll held, and its idle CPU (% of one core) over --idle-secs,
  measured --rounds times;
- ingest: --messages inbound messages spread over the accounts, injected in one bulk request
  while every poll is held, until the store has them all (msg/s, --rounds times);
- `send` over stdio to a user of one account: p50 with N accounts polled (routed by the
  recipient as agents call it, then with the session named), next to the routed send with one
  account in the same run (its own data directory and server, same fake), and again once that
  account has as many messages stored as the N accounts had (the store's size, not the
  accounts);
- `recv` with `timeout` 0 when nothing is new (an agent polling): p50 with N accounts and
  with one;
- `history`, a page of 20 of one account's messages with N accounts, its bot id given (which
  wxlink maps to the account's session) and its session named: p50 of each and their ratio.

`--nofile` starts the server with that soft open-file limit (1024 is a common default) to
show the process raises it itself: N accounts need N sockets and N lock files.

With --weilink (run by the Python of the venv that has WeiLink 0.6.2:
tests/interop/setup-venv.sh), WeiLink's MCP server is measured the same way on the same fake
afterwards: the same N accounts logged in to one `weilink mcp` (its multi-session mode: a
background poller long-polls the sessions from a thread pool), the polls it holds, the same RSS,
idle CPU and ingest rounds (counted in its `messages.db`, waiting at most --weilink-wait seconds
per round and saying how many messages it stored).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "interop"))

from fakectl import login_account, start_sandbox, stop_process, wxlink_flags  # noqa: E402
from mcp_bench import PER_TOKEN, Stdio, cpu_secs, payload, rss_mb  # noqa: E402


def spread(label: str, values: list[float], unit: str, fmt: str = "8.1f") -> str:
    s = sorted(values)
    return (f"  {label:<44} min {s[0]:{fmt}}  median {statistics.median(s):{fmt}}  "
            f"max {s[-1]:{fmt}} {unit}   (n={len(s)})")


def stored_inbound(db: Path, after_id: int = 0) -> int:
    """Inbound messages in a server's store with an id above `after_id`: wxlink's `wxlink.db` or
    WeiLink's `messages.db` (both a `messages` table keyed by an increasing integer `id`, with
    `direction` 1 for inbound); 0 before the store exists. With `after_id` the count reads only
    the new rows (a range of the key), so counting every 10 ms during a round costs the machine
    little next to the server measured."""
    return _query(db, "SELECT count(*) FROM messages WHERE id > ? AND direction = 1", after_id)


def newest_id(db: Path) -> int:
    """The largest message id in a server's store (0 before it has any)."""
    return _query(db, "SELECT coalesce(max(id), 0) FROM messages")


def _query(db: Path, sql: str, *args) -> int:
    if not db.exists():
        return 0
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return con.execute(sql, args).fetchone()[0]
    except sqlite3.OperationalError:  # WeiLink creates its table with its first message
        return 0
    finally:
        con.close()


def ingest_round(fake, pid: int, db: Path, bots: list[str], a, tag: str, wait: float) -> dict:
    """One round against the server `pid`: its CPU over --idle-secs (% of one core), its RSS
    and the polls the fake holds; then --messages spread over `bots`, injected in one bulk
    request and counted in its store `db` until all are there or `wait` seconds passed. The
    rate is what was stored over the time until the last of it was."""
    c0, w0 = cpu_secs(pid), time.perf_counter()
    time.sleep(a.idle_secs)
    cpu = (cpu_secs(pid) - c0) / (time.perf_counter() - w0) * 100
    rss, held = rss_mb(pid), fake.health().get("polls_in_flight", 0)
    mark = newest_id(db)
    specs = [{"bot_id": bots[i % len(bots)], "text": f"{tag} m{i}"} for i in range(a.messages)]
    t = time.perf_counter()
    fake.inject_bulk(specs)
    post = time.perf_counter() - t
    got, last = 0, t
    while got < a.messages and time.perf_counter() - t < wait:
        time.sleep(0.01)
        if (now := stored_inbound(db, mark)) != got:
            got, last = now, time.perf_counter()
    return {"cpu": cpu, "rss": rss, "held": held, "post": post, "stored": got,
            "rate": got / max(last - t, 1e-3)}


def login_all(flags: list[str], fake, env: dict, n: int) -> list[str]:
    """Logs n accounts in as sessions acct-0… (the fake confirms every QR code at once);
    their bot ids."""
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        return [bot for bot, _ in pool.map(
            lambda i: login_account(flags, fake, env, f"acct-{i}"), range(n))]


def wait_polls(fake, n: int, timeout: float) -> float:
    """Seconds until the fake holds at least n polls."""
    t = time.perf_counter()
    while fake.health().get("polls_in_flight", 0) < n:
        if time.perf_counter() - t > timeout:
            held = fake.health().get("polls_in_flight")
            raise TimeoutError(f"only {held} of {n} polls held after {timeout} s")
        time.sleep(0.05)
    return time.perf_counter() - t


def start_server(flags: list[str], env: dict, stderr: Path, nofile: int | None) -> Stdio:
    """`wxlink mcp` over stdio, initialized; with `nofile`, under that soft open-file limit
    (`ulimit -Sn` in a shell that then execs it: the same process)."""
    argv = [*flags, "mcp", "--no-banner"]
    if nofile:
        argv = ["sh", "-c", f'ulimit -Sn {int(nofile)} && exec "$0" "$@"', *argv]
    s = Stdio(argv, env, stderr)
    s.initialize()
    return s


def send_p50(s: Stdio, fake, db: Path, bot_id: str, user: str, session: str | None,
             count: int) -> list[float]:
    """`send` latencies (ms) over stdio to `user` through `bot_id`, a fresh context token
    every PER_TOKEN sends (its inject and storing not timed)."""
    lat: list[float] = []
    while len(lat) < count + 10:
        marker = f"token {uuid.uuid4().hex[:8]}"
        fake.inject(bot_id=bot_id, text=marker)
        deadline = time.monotonic() + 30
        while not has_text(db, marker):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{marker!r} never stored")
            time.sleep(0.005)
        for _ in range(PER_TOKEN):
            args = {"to": user, "text": f"bench {len(lat)}"}
            if session:
                args["session"] = session
            t = time.perf_counter()
            result = s.call("send", args)
            dt = (time.perf_counter() - t) * 1000
            data = payload(result)
            if result.get("isError") or not isinstance(data, dict) or not data.get("success"):
                raise RuntimeError(f"send failed: {result}")
            lat.append(dt)
    return lat[10:]


def tool_lat(s: Stdio, name: str, args: dict, count: int) -> list[float]:
    """Latencies (ms) of the tool `name` called with `args` over stdio (this client's parse of
    the answer included), 10 calls not counted."""
    lat: list[float] = []
    for _ in range(count + 10):
        t = time.perf_counter()
        result = s.call(name, args)
        lat.append((time.perf_counter() - t) * 1000)
        if result.get("isError"):
            raise RuntimeError(f"{name} failed: {result}")
    return lat[10:]


def recv_p50(s: Stdio, count: int) -> list[float]:
    """`recv` latencies (ms) with `timeout` 0 once everything stored was read: the cost of a
    call that finds nothing new (an agent polling), 10 calls not counted."""
    while payload(s.call("recv", {"timeout": 0})).get("messages"):
        pass
    return tool_lat(s, "recv", {"timeout": 0}, count)


def has_text(db: Path, text: str) -> bool:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return con.execute("SELECT 1 FROM messages WHERE text = ?", (text,)).fetchone() is not None
    finally:
        con.close()


def measure_weilink(fake, tmp: Path, a) -> list[str]:
    """WeiLink 0.6.2 with the same N accounts in one `weilink mcp`; the lines to print."""
    from mcp_bench import free_port, point_weilink_at
    point_weilink_at(fake.api_base)
    from weilink import WeiLink

    home = tmp / "weilink"
    home.mkdir()
    t = time.perf_counter()
    wl = WeiLink(base_path=home)
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        bots = [wl.login(name=f"acct-{i}").bot_id for i in range(a.accounts)]
    wl.close()
    login_s = time.perf_counter() - t
    env = {k: v for k, v in os.environ.items() if not k.startswith("WXLINK_")}
    env.update(HTTPS_PROXY=f"http://127.0.0.1:{free_port()}", NO_PROXY="127.0.0.1,localhost")
    argv = [str(Path(sys.executable).parent / "weilink"), "mcp", "-d", str(home),
            "--admin-port", str(free_port())]
    srv = Stdio(argv, env, tmp / "weilink.stderr")
    lines = []
    try:
        srv.initialize()
        # It may never hold every poll (with 30 accounts it held one at a time): 30 s at most.
        t, most = time.perf_counter(), 0
        while time.perf_counter() - t < 30 and most < a.accounts:
            most = max(most, fake.health().get("polls_in_flight", 0))
            time.sleep(0.05)
        polling = (f"{time.perf_counter() - t:8.2f} s" if most >= a.accounts
                   else f"never: at most {most} held at once over 30 s")
        time.sleep(2)
        rounds = [ingest_round(fake, srv.proc.pid, home / "messages.db", bots, a, f"wl r{r}",
                               a.weilink_wait) for r in range(a.rounds)]
        lines.append(f"WeiLink 0.6.2, the same {a.accounts} accounts in one `weilink mcp` (stdio), "
                     f"same fake:")
        lines.append(f"  log in {a.accounts} accounts (one after another) {login_s:8.1f} s")
        lines.append(f"  start until all {a.accounts} polls are held      {polling}")
        lines.append("  polls held before each round: "
                     + ", ".join(str(r["held"]) for r in rounds))
        lines.append(spread("RSS", [r["rss"] for r in rounds], "MB"))
        lines.append(f"  RSS after the ingest rounds                  {rss_mb(srv.proc.pid):8.1f} MB")
        lines.append(spread(f"idle CPU over {a.idle_secs:g} s", [r["cpu"] for r in rounds],
                            "% of one core", "8.2f"))
        lines.append(spread(f"ingest, {a.messages} messages over {a.accounts} accounts",
                            [r["rate"] for r in rounds], "msg/s", "8.0f"))
        lines.append(f"  messages stored per round (of {a.messages}, waiting up to "
                     f"{a.weilink_wait:g} s): " + ", ".join(str(r["stored"]) for r in rounds))
    finally:
        srv.close()
    return lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("wxlink")
    ap.add_argument("--accounts", type=int, default=1000)
    ap.add_argument("--messages", type=int, default=40_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--idle-secs", type=float, default=10.0)
    ap.add_argument("--sends", type=int, default=200)
    ap.add_argument("--nofile", type=int, default=1024)
    ap.add_argument("--weilink", action="store_true",
                    help="WeiLink 0.6.2 too, on the same fake (run this script with the Python of "
                         "the venv that has weilink: tests/interop/setup-venv.sh)")
    ap.add_argument("--weilink-wait", type=float, default=120.0,
                    help="seconds to wait for WeiLink to store a round's messages")
    a = ap.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WXLINK_")}
    with tempfile.TemporaryDirectory(prefix="wxlink-scale-bench-") as tmp:
        tmp = Path(tmp)
        sb, fake = start_sandbox(a.wxlink, tmp / "sandbox.stderr")
        servers: list[Stdio] = []
        try:
            # Every poll is held until a message comes (as WeChat holds them up to 35 s).
            fake.config(qr_auto_confirm=True, qr_hold_ms=10, record_requests=False,
                        hold_ms=30_000)
            home = tmp / "wx"
            flags = wxlink_flags(a.wxlink, fake, home)
            t = time.perf_counter()
            bots = login_all(flags, fake, env, a.accounts)
            login_s = time.perf_counter() - t
            by_bot = {b["bot_id"]: b for b in fake.bots()}

            srv = start_server(flags, env, tmp / "server.stderr", a.nofile)
            servers.append(srv)
            t = time.perf_counter()
            polling_s = wait_polls(fake, a.accounts, 120)
            sessions = payload(srv.call("sessions", {}))
            names = {s["bot_id"]: s["name"] for s in sessions["sessions"]}
            if len(names) != a.accounts:
                raise RuntimeError(f"{len(names)} sessions, not {a.accounts}")
            time.sleep(2)  # settle: every listener started, nothing left to store

            db = home / "wxlink.db"
            rounds = []
            for r in range(a.rounds):
                rounds.append(ingest_round(fake, srv.proc.pid, db, bots, a, f"r{r}", 300))
                if rounds[-1]["stored"] < a.messages:
                    raise TimeoutError(f"{rounds[-1]['stored']} of {a.messages} messages "
                                       "stored after 300 s")
                wait_polls(fake, a.accounts, 60)  # every account polling again
            rss, cpu = [r["rss"] for r in rounds], [r["cpu"] for r in rounds]
            rates, posts = [r["rate"] for r in rounds], [r["post"] for r in rounds]

            peak_rss = rss_mb(srv.proc.pid)
            time.sleep(3)  # a checkpoint, so the WAL can start over with the next write
            first = bots[0]
            # As agents call it (no session: wxlink routes by the recipient), then the session
            # named.
            many = send_p50(srv, fake, db, first, by_bot[first]["user_id"], None, a.sends)
            named = send_p50(srv, fake, db, first, by_bot[first]["user_id"], names[first],
                             a.sends)
            many_recv = recv_p50(srv, a.sends)
            # One account's page, its bot id given (WeiLink's filter) and its session named.
            page_by_bot = tool_lat(srv, "history", {"bot_id": first, "limit": 20}, a.sends)
            page_by_session = tool_lat(srv, "history", {"session": names[first], "limit": 20},
                                  a.sends)
            sizes = {p.name: p.stat().st_size for p in home.glob("wxlink.db*") if p.is_file()}
            srv.close()
            servers.clear()

            # The same sends with one account, its own data directory, in this run.
            one_home = tmp / "one"
            one_flags = wxlink_flags(a.wxlink, fake, one_home)
            one_bot, one_user = login_account(one_flags, fake, env)
            one = start_server(one_flags, env, tmp / "one.stderr", None)
            servers.append(one)
            single = send_p50(one, fake, one_home / "wxlink.db", one_bot, one_user, None, a.sends)
            single_recv = recv_p50(one, a.sends)
            # The same again once this account has as many messages stored as the N accounts
            # had: what is left of the difference is the size of the store, not the accounts.
            stored = stored_inbound(db)
            mark = newest_id(one_home / "wxlink.db")
            for k in range(0, stored, 20_000):
                fake.inject_bulk([{"bot_id": one_bot, "text": f"fill m{k + i}"}
                                  for i in range(min(20_000, stored - k))])
            deadline = time.monotonic() + 300
            while stored_inbound(one_home / "wxlink.db", mark) < stored:
                if time.monotonic() > deadline:
                    raise TimeoutError("the single account's fill was not stored in 300 s")
                time.sleep(0.1)
            time.sleep(3)  # a checkpoint, as before the N accounts' sends
            single_full = send_p50(one, fake, one_home / "wxlink.db", one_bot, one_user, None,
                                   a.sends)

            print(f"{a.accounts} accounts in one `wxlink mcp` (stdio), fake holding each poll "
                  f"30 s; soft open-file limit {a.nofile or 'inherited'}; load average "
                  f"{os.getloadavg()[0]:.1f}:")
            print(f"  log in {a.accounts} accounts (8 at a time)     {login_s:8.1f} s")
            print(f"  start until all {a.accounts} polls are held      {polling_s:8.2f} s")
            print(spread("RSS, every poll held", rss, "MB"))
            print(f"  RSS after the ingest rounds                  {peak_rss:8.1f} MB")
            print(spread(f"idle CPU over {a.idle_secs:g} s", cpu, "% of one core", "8.2f"))
            print(spread(f"ingest, {a.messages} messages over {a.accounts} accounts", rates,
                         "msg/s", "8.0f"))
            print(spread("  of which the bulk inject POST", [p * 1000 for p in posts], "ms",
                         "8.0f"))
            p90 = lambda lat: sorted(lat)[int(len(lat) * 0.9)]  # noqa: E731
            p50s = statistics.median(many), statistics.median(single)
            print(f"  send p50 over stdio, {a.accounts} accounts polled   {p50s[0]:8.3f} ms   "
                  f"(p90 {p90(many):.3f})   routed to the user (no session given)")
            print(f"  send p50 over stdio, {a.accounts} accounts polled   "
                  f"{statistics.median(named):8.3f} ms   (p90 {p90(named):.3f})   session named")
            print(f"  send p50 over stdio, 1 account               {p50s[1]:8.3f} ms   "
                  f"(p90 {p90(single):.3f})   routed; ratio {p50s[0] / p50s[1]:.2f}×")
            print(f"  send p50 over stdio, 1 account, {stored} stored  "
                  f"{statistics.median(single_full):8.3f} ms   (p90 {p90(single_full):.3f})   "
                  f"routed; {a.accounts} accounts / this "
                  f"{p50s[0] / statistics.median(single_full):.2f}×")
            recvs = statistics.median(many_recv), statistics.median(single_recv)
            print(f"  recv p50 (nothing new), {a.accounts} accounts    {recvs[0]:8.3f} ms   "
                  f"(p90 {p90(many_recv):.3f})")
            print(f"  recv p50 (nothing new), 1 account            {recvs[1]:8.3f} ms   "
                  f"(p90 {p90(single_recv):.3f})   ratio {recvs[0] / recvs[1]:.2f}×")
            pages = statistics.median(page_by_bot), statistics.median(page_by_session)
            print(f"  history p50, a page of one account by bot id {pages[0]:8.3f} ms   "
                  f"(p90 {p90(page_by_bot):.3f})   {a.accounts} accounts")
            print(f"  history p50, the same page by session name   {pages[1]:8.3f} ms   "
                  f"(p90 {p90(page_by_session):.3f})   "
                  f"bot id / session {pages[0] / pages[1]:.2f}×")
            total = stored_inbound(db)
            size = sum(sizes.values())
            print(f"  store after the sends: {total} inbound messages, {size / 1e6:.1f} MB "
                  f"({size / max(total, 1):.0f} B per message incl. sessions and indexes): "
                  + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in sorted(sizes.items())))
            one.close()
            servers.clear()
            if a.weilink:
                for line in measure_weilink(fake, tmp, a):
                    print(line)
        finally:
            for s in servers:
                s.close()
            stop_process(sb)


if __name__ == "__main__":
    main()
