"""Instructions per MCP tool call, counted by valgrind's callgrind: a figure this VM's noise does
not move (its wake-up latencies change wall-clock figures by 2x from one hour to the next).

For each binary given: `wxlink mcp` over stdio under callgrind, logged in to the fake with
--messages stored; once they are, counting is switched on (`callgrind_control -i on`), the
call is made --count times, and the count divided by --count is the instructions of one call:
both threads (the runtime's and the store's), the kernel excluded. For `ping`, `sessions` and
`history` (a page of 20).

Usage: python3 bench/instructions.py target/release/wxlink [OTHER_BINARY ...] [--count 500]
(needs valgrind: apt-get install valgrind)
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "interop"))

from fakectl import login_account, start_sandbox, stop_process, wxlink_flags  # noqa: E402
from mcp_bench import Stdio  # noqa: E402
from tools import stored, timed  # noqa: E402

CALLS = {
    "ping": ("ping", {}),
    "sessions": ("tools/call", {"name": "sessions", "arguments": {}}),
    "history (one page of 20)": ("tools/call", {"name": "history", "arguments": {"limit": 20}}),
}


def counted(argv: list[str], env: dict, out: Path, err: Path, call, count: int,
            messages: int) -> int:
    """Instructions callgrind counted in one server while it answered `count` of `call` (once
    its `messages` are stored; counting is off until then)."""
    s = Stdio(["valgrind", "--tool=callgrind", "--instr-atstart=no",
               f"--callgrind-out-file={out}", *argv], env, err)
    try:
        s.initialize()
        stored(s, lambda r: (r.get("structuredContent") or {}).get("total", 0), messages, False)
        method, params = call
        timed(s, method, params, 10)  # warm: timed() makes 50 more first, uncounted here too
        control = ["callgrind_control", "-i"]
        subprocess.run([*control, "on", str(s.proc.pid)], check=True, capture_output=True)
        timed(s, method, params, count - 50)  # timed() makes 50 of its own
        subprocess.run([*control, "off", str(s.proc.pid)], check=True, capture_output=True)
    finally:
        s.close()
    text = out.read_text()
    summary = re.search(r"^totals:\s+(\d+)", text, re.M)
    if not summary:
        raise RuntimeError(f"no callgrind summary in {out}")
    return int(summary.group(1))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("binaries", nargs="+")
    ap.add_argument("--count", type=int, default=500, help="calls counted (more than 50)")
    ap.add_argument("--messages", type=int, default=500)
    a = ap.parse_args()
    if not shutil.which("valgrind"):
        sys.exit("valgrind is not installed (apt-get install valgrind)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WXLINK_")}
    with tempfile.TemporaryDirectory(prefix="wxlink-instructions-") as tmp:
        tmp = Path(tmp)
        sb, fake = start_sandbox(a.binaries[0], tmp / "sandbox.stderr")
        try:
            fake.config(qr_hold_ms=10, record_requests=False, qr_auto_confirm=True)
            flags = wxlink_flags(a.binaries[0], fake, tmp / "wx")
            bot, _ = login_account(flags, fake, env)
            fake.inject_bulk([{"bot_id": bot, "text": f"我们明天开会 budget review {i}"}
                              for i in range(a.messages)])
            print(f"instructions per call (callgrind; {a.count} calls, {a.messages} messages "
                  f"stored; both threads, user space):")
            for label, call in CALLS.items():
                row = []
                for binary in a.binaries:
                    argv = [binary, *flags[1:], "mcp", "--no-banner"]
                    total = counted(argv, env, tmp / "run.out", tmp / "vg.stderr", call, a.count,
                                    a.messages)
                    row.append(total / a.count)
                ratios = "".join(f"  ({r / row[0]:.2f}x the first)" for r in row[1:])
                print(f"  {label:<26} " + "  ".join(f"{r / 1000:8.1f} k" for r in row) + ratios)
            print("  binaries: " + ", ".join(a.binaries))
        finally:
            stop_process(sb)


if __name__ == "__main__":
    main()
