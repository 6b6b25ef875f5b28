#!/usr/bin/env python3
"""Replicas on PostgreSQL, measured on this machine: MCP `tools/call` throughput with 1, 2 and 3
`wxlink mcp -t http` replicas on one database (the load spread evenly over them, each replica
driven by its own crates/wxlink/examples/mcp_load), and lease failover — the time from SIGKILL of
the replica polling an account to the first poll of another.

    cargo build --release -p wxlink --bin wxlink && cargo build --release -p wxlink --example mcp_load
    python3 bench/replicas.py [--bin target/release/wxlink] [--load target/release/examples/mcp_load]
                              [--clients 16] [--secs 5] [--failovers 5]

PostgreSQL comes from Debian's packages (bench/pgserver.py, fsync on); the fake WeChat is
`wxlink sandbox`; the account is logged in by QR into SQLite and moved with `migrate-store`.
Every replica shares the machine's cores with the others, the database and the load generators:
on one 2-core box more replicas cannot add CPU, so the figures show the cost of coordination
(none on this path: tools/call never takes a lock), not the scaling separate machines give."""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "interop"))
from fakectl import start_sandbox, stop_process  # noqa: E402
from pgserver import PgServer  # noqa: E402

TOKEN = "bench-replicas-token"
KEY = "5f" * 32


def start_replica(binary: str, url: str | None, home: Path, log: Path) -> tuple[subprocess.Popen, str]:
    """`wxlink mcp -t http` on `url` (PostgreSQL), or on `home`'s SQLite when `url` is None."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WXLINK_")}
    env["WXLINK_DATABASE_KEY"] = KEY
    database = ["--database", url] if url else []
    with open(log, "wb") as err:
        proc = subprocess.Popen([binary, "-d", str(home), *database, "mcp", "-t", "http",
                                 "-p", "0", "--token", TOKEN], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err, env=env)
    deadline = time.time() + 30
    while time.time() < deadline:
        m = re.search(r"listening on http://(\S+)", log.read_text(errors="replace"))
        if m:
            return proc, m.group(1)
        if proc.poll() is not None:
            raise SystemExit(f"replica exited: {log.read_text()[-2000:]}")
        time.sleep(0.05)
    raise SystemExit("replica never listened")


def load(loader: str, addrs: list[str], clients: int, secs: float, tool: str, args: str) -> dict:
    per = max(1, clients // len(addrs))
    procs = [subprocess.Popen([loader, f"http://{a}/mcp", str(per), str(secs), tool, args],
                              stdout=subprocess.PIPE, env={**os.environ, "LOAD_TOKEN": TOKEN})
             for a in addrs]
    results = [json.loads(p.communicate()[0]) for p in procs]
    return {
        "calls_per_sec": sum(r["calls_per_sec"] for r in results),
        "p50_ms": statistics.median(r["p50_ms"] for r in results),
        "p99_ms": max(r["p99_ms"] for r in results),
        "errors": sum(r["errors"] for r in results),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/wxlink")
    ap.add_argument("--load", default="target/release/examples/mcp_load")
    ap.add_argument("--clients", type=int, default=12)
    ap.add_argument("--secs", type=float, default=5)
    ap.add_argument("--failovers", type=int, default=5)
    a = ap.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WXLINK_")}
    with tempfile.TemporaryDirectory(prefix="wxlink-replicas-bench-") as tmp, PgServer() as pg:
        tmp = Path(tmp)
        url = pg.create_database("bench")
        sb, fake = start_sandbox(a.bin, tmp / "sandbox.stderr")
        replicas: list[subprocess.Popen] = []
        try:
            fake.config(qr_auto_confirm=True, qr_hold_ms=10, record_requests=True)
            home = tmp / "wx"
            flags = [a.bin, "-d", str(home), "--ilink-base", fake.base_url, "--cdn-base", fake.cdn_url]
            login = subprocess.run([*flags, "--json", "login"], env=env, check=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=60)
            bot = json.loads(login.stdout)["bot_id"]
            for i in range(200):
                fake.inject(bot_id=bot, text=f"历史消息 {i} hello")
            subprocess.run([a.bin, "-d", str(home), "migrate-store", "sqlite", url],
                           env={**env, "WXLINK_DATABASE_KEY": KEY}, check=True,
                           stdout=subprocess.DEVNULL)

            print(f"tools/call on replicas sharing one PostgreSQL ({a.clients} clients in all, "
                  f"{a.secs:g} s each, {os.cpu_count()} cores):")
            base = {}
            rows = []
            for n in (1, 2, 3):
                addrs = []
                for i in range(n):
                    p, addr = start_replica(a.bin, url, tmp / f"r{n}-{i}", tmp / f"r{n}-{i}.log")
                    replicas.append(p)
                    addrs.append(addr)
                time.sleep(1.0)
                for tool, args in (("sessions", "{}"), ("history", '{"limit": 20}')):
                    r = load(a.load, addrs, a.clients, a.secs, tool, args)
                    base.setdefault(tool, r["calls_per_sec"])
                    rows.append((f"{n} replica(s) on PostgreSQL", tool, r))
                for p in replicas:
                    stop_process(p)
                replicas.clear()
            # The same history in SQLite, served by one process: the embedded baseline.
            lite = tmp / "lite"
            subprocess.run([a.bin, "-d", str(lite), "migrate-store", url, "sqlite"],
                           env={**env, "WXLINK_DATABASE_KEY": KEY}, check=True,
                           stdout=subprocess.DEVNULL)
            p, addr = start_replica(a.bin, None, lite, tmp / "lite.log")
            replicas.append(p)
            time.sleep(1.0)
            for tool, args in (("sessions", "{}"), ("history", '{"limit": 20}')):
                rows.append(("1 process on SQLite", tool, load(a.load, [addr], a.clients, a.secs, tool, args)))
            stop_process(p)
            replicas.clear()
            for label, tool, r in rows:
                print(f"  {label:27s} {tool:9s} {r['calls_per_sec']:9.0f} calls/s "
                      f"(×{r['calls_per_sec'] / base[tool]:.2f})  p50 {r['p50_ms']:.2f} ms  "
                      f"p99 {r['p99_ms']:.2f} ms  errors {r['errors']}")
            print(f"  (ratios against 1 replica on PostgreSQL; load average "
                  f"{os.getloadavg()[0]:.1f})")

            # Failover: two replicas; kill the one polling; time to the other's first poll.
            times = []
            a_proc, _ = start_replica(a.bin, url, tmp / "fa", tmp / "fa.log")
            replicas.append(a_proc)
            fake.wait_for_requests("getupdates", 1, timeout=20)
            for round in range(a.failovers):
                b_proc, _ = start_replica(a.bin, url, tmp / f"fb{round}", tmp / f"fb{round}.log")
                replicas.append(b_proc)
                time.sleep(2.0)  # b is up, finds the lease taken, retries every second
                before = len(fake.requests("getupdates"))
                a_proc.kill()
                a_proc.wait()
                killed = time.perf_counter()
                while len(fake.requests("getupdates")) <= before:
                    if time.perf_counter() - killed > 30:
                        raise SystemExit("no replica took the account over within 30 s")
                    time.sleep(0.005)
                times.append((time.perf_counter() - killed) * 1000)
                replicas.remove(a_proc)
                a_proc = b_proc
            times.sort()
            print(f"lease failover (SIGKILL of the polling replica → first poll by another), "
                  f"{len(times)} runs: min {times[0]:.0f} ms, median {statistics.median(times):.0f} ms, "
                  f"max {times[-1]:.0f} ms")
        finally:
            for p in replicas:
                stop_process(p)
            stop_process(sb)


if __name__ == "__main__":
    main()
