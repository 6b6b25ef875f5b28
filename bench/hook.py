"""The prompt hook, cold, on 1,000,000 stored messages: `wxlink hook` against WeiLink 0.6.2's
`weilink hook-poll` (the engine its Claude Code and Codex hook scripts run), each a new process
as on every prompt, in the same run on the same machine.

Usage: python3 bench/hook.py --bin target/release/wxlink --weilink PATH/TO/venv/bin/weilink
       [--corpus DIR] [--runs 30]

The corpus is the history benchmark's pair of databases (`cargo bench -p wxlink --bench
history` with HISTORY_BENCH_DIR=DIR builds `wxlink.db` and `weilink.db`, 1 M messages each,
the same messages); this script builds it when DIR lacks it. Each database is copied to a
fresh data directory first, so the corpus stays untouched.

Two cases each:
- idle: nothing new since the last prompt (most prompts);
- 20 new: the hook has 20 messages to show. wxlink: a consumer at the start of the 1 M
  messages (every run shows the next 20 and counts the rest, "N more"), behind an access gate
  allowing every sender; what is left is counted up to 10,000. WeiLink: its state reset before each run (`last_ts` 0), so its query
  returns the newest 20.

WeiLink prunes on open (rows stored over 30 days ago, then all but the newest 100,000): its
copy gets `stored_at` = now, and its first run — which deletes 900,000 rows — is not timed. So
WeiLink's timed runs see 100,000 rows (its cap), wxlink's all 1,000,000.
Prints min / median / p90 / max in ms and the ratio of medians.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def ensure_corpus(corpus: Path) -> None:
    if (corpus / "wxlink.db").exists() and (corpus / "weilink.db").exists():
        return
    print(f"building the 1 M message corpus in {corpus} (cargo bench --bench history)…", flush=True)
    env = dict(os.environ, HISTORY_BENCH_DIR=str(corpus))
    subprocess.run(["cargo", "bench", "-p", "wxlink", "--bench", "history", "--locked"],
                   cwd=ROOT, env=env, check=True)


def copy_db(src: Path, dst_dir: Path, name: str) -> Path:
    dst_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    # A consistent copy even if the source has a WAL.
    with sqlite3.connect(src) as s, sqlite3.connect(dst_dir / name) as d:
        s.backup(d)
    return dst_dir / name


def timed(argv: list[str], runs: int, before=None) -> tuple[list[float], bytes]:
    times = []
    out = b""
    for _ in range(runs):
        if before:
            before()
        t = time.perf_counter()
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           stdin=subprocess.DEVNULL)
        times.append((time.perf_counter() - t) * 1000)
        if r.returncode != 0:
            raise SystemExit(f"{argv[0]} failed: {r.stderr.decode(errors='replace')}")
        out = r.stdout
    return times, out


def show(label: str, times: list[float]) -> float:
    s = sorted(times)
    med = statistics.median(s)
    p90 = s[min(len(s) - 1, int(len(s) * 0.9))]
    print(f"  {label:<44} min {s[0]:7.2f}  median {med:7.2f}  p90 {p90:7.2f}  max {s[-1]:7.2f} ms")
    return med


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=str(ROOT / "target" / "release" / "wxlink"))
    ap.add_argument("--weilink", required=True)
    ap.add_argument("--corpus", default=str(Path(tempfile.gettempdir()) / "wxlink-hook-corpus"))
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()
    corpus = Path(args.corpus)
    ensure_corpus(corpus)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        wx = tmp / "wx"
        db = copy_db(corpus / "wxlink.db", wx, "wxlink.db")
        with sqlite3.connect(db) as c:
            total = c.execute("SELECT count(*) FROM messages").fetchone()[0]
            peers = [r[0] for r in c.execute("SELECT DISTINCT peer FROM messages WHERE direction = 1")]
        access = {"policy": "allowlist",
                  "allow": {p: {"added_ms": 0, "via": "cli"} for p in peers}}
        (wx / "access.json").write_text(json.dumps(access))
        os.chmod(wx / "access.json", 0o600)
        wx_env = ["-d", str(wx)]

        wl = tmp / "wl"
        wl_db = copy_db(corpus / "weilink.db", wl, "messages.db")
        with sqlite3.connect(wl_db) as c:
            c.execute("UPDATE messages SET stored_at = ?", (time.time(),))
        state = wl / ".hook_state.json"
        wl_cmd = [args.weilink, "hook-poll", "-d", str(wl)]

        print(f"wxlink: {total:,} messages, {len(peers):,} allowed senders; runs: {args.runs}")
        # Warm-up: page cache for both; WeiLink's first open prunes to its 100,000 cap.
        timed([args.bin, *wx_env, "hook"], 2)
        timed(wl_cmd, 2)
        with sqlite3.connect(wl_db) as c:
            wl_rows = c.execute("SELECT count(*) FROM messages").fetchone()[0]
        print(f"WeiLink after its prune on open: {wl_rows:,} messages")

        print("idle (nothing new):")
        wx_idle, out = timed([args.bin, *wx_env, "hook"], args.runs)
        assert out == b"", out[:200]
        wl_idle, _ = timed(wl_cmd, args.runs)
        a = show("wxlink hook", wx_idle)
        b = show("weilink hook-poll", wl_idle)
        print(f"  ratio (WeiLink / wxlink, medians): {b / a:.1f}x")

        print("20 new messages to show:")
        wx_new, out = timed([args.bin, *wx_env, "hook", "--consumer", "default"], args.runs)
        context = json.loads(out)["hookSpecificOutput"]["additionalContext"]
        assert context.count("\n- [") + context.startswith("- [") >= 19, context[:300]
        assert "more unread" in context, context[-300:]
        wl_new, out = timed(wl_cmd, args.runs,
                            before=lambda: state.write_text(json.dumps({"last_ts": 1})))
        assert json.loads(out).get("count", 0) == 20 or b"20 new" in out, out[:300]
        a = show("wxlink hook (20 shown, "10000+ more")", wx_new)
        b = show("weilink hook-poll (newest 20)", wl_new)
        print(f"  ratio (WeiLink / wxlink, medians): {b / a:.1f}x")


if __name__ == "__main__":
    main()
