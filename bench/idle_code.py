"""How much of the executable an idle `wxlink mcp` has resident, against how much code it ran:
the measure behind "idle RSS is mostly executable pages" and what ordering the code could win.

Usage: python3 bench/idle_code.py target/release/wxlink [--idle 5] [--write-order]
(needs valgrind: apt-get install valgrind; build with symbols, as the release profile does)

One `wxlink mcp` logged in to the fake (`wxlink sandbox`) does what the idle figure of
bench/mcp.sh measures: start-up, `initialize`, one `tools/list`, then --idle seconds with its
poll held. It runs twice:
1. plainly: the resident pages of each mapping of the executable (/proc/PID/smaps): the code
   (r-xp), the read-only data with the tables the loader relocated (r--p), the writable data;
2. under valgrind's callgrind: every function of the executable that ran, and the bytes those
   functions take in the binary (`nm -S`).
The difference is the kernel's fault-around: a first touch of a code page maps the 64 KB around
it (when cached), so code run once at start-up, spread over the whole text, keeps most of the
text resident. The linker lays out the functions named in crates/wxlink/link-order.txt side by
side (crates/wxlink/build/link.rs); the script says how many of them this binary has (names
change with the toolchain, the dependencies and the version).

With --write-order it writes that list again, from this binary (a release build): the functions
that ran in `wxlink status --json`, then in the server above (plus `sessions`, `history` and
`contacts` calls), then in `wxlink mcp -t http` serving one session, each in the order callgrind
first met them. Rebuild afterwards.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "interop"))

from fakectl import login_account, start_sandbox, stop_process, wxlink_flags  # noqa: E402
from mcp_bench import Stdio, free_port, http_session, rss_mb, stop, wait_port  # noqa: E402


ORDER_FILE = Path(__file__).resolve().parents[1] / "crates" / "wxlink" / "link-order.txt"


def idle(argv: list[str], env: dict, stderr: Path, secs: float, calls: bool = False) -> Stdio:
    """A stdio server after start-up, `initialize`, one `tools/list` (and with `calls` the
    read-only tools once each) and `secs` idle."""
    s = Stdio(argv, env, stderr)
    s.initialize()
    s.request("tools/list")
    if calls:
        for tool, args in (("sessions", {}), ("history", {"limit": 20}), ("contacts", {})):
            s.call(tool, args)
    time.sleep(secs)
    return s


def callgrind(argv: list[str], out: Path) -> list[str]:
    """`argv` under callgrind, writing to `out` (symbol names as the binary has them)."""
    return ["valgrind", "--tool=callgrind", "--dump-instr=no", "--demangle=no",
            f"--callgrind-out-file={out}", *argv]


def written(out: Path) -> Path:
    """`out` once callgrind has written it (at the process's exit)."""
    deadline = time.monotonic() + 60
    while not (out.exists() and out.stat().st_size) and time.monotonic() < deadline:
        time.sleep(0.2)
    return out


def mappings_kb(pid: int, binary: str) -> dict[str, int]:
    """Resident kB of each mapping of `binary` in `pid`, by permissions (r-xp: code)."""
    out: dict[str, int] = defaultdict(int)
    perms = None
    for line in open(f"/proc/{pid}/smaps"):
        parts = line.split()
        if re.match(r"^[0-9a-f]+-[0-9a-f]+$", parts[0]):
            perms = parts[1] if len(parts) >= 6 and parts[5] == binary else None
        elif parts[0] == "Rss:" and perms:
            out[perms] += int(parts[1])
    return out


def executed_functions(callgrind_out: Path, binary: str) -> list[str]:
    """Names of the functions of `binary` that ran, in the order callgrind met them (its `fn=`
    entries under the binary's `ob=`; names and objects are compressed to `(id)` after their
    first mention)."""
    names: dict[str, str] = {}
    objects: dict[str, str] = {}
    current = None
    ran: dict[str, None] = {}
    for line in callgrind_out.read_text(errors="replace").splitlines():
        m = re.match(r"^(c?ob)=\((\d+)\)(?: (.*))?$", line)
        if m:
            if m.group(3):
                objects[m.group(2)] = m.group(3)
            if m.group(1) == "ob":
                current = objects.get(m.group(2))
            continue
        m = re.match(r"^(c?fn)=\((\d+)\)(?: (.*))?$", line)
        if m:
            if m.group(3):
                names[m.group(2)] = m.group(3)
            if m.group(1) == "fn" and current == binary:
                ran.setdefault(names[m.group(2)], None)
    return list(ran)


def function_sizes(binary: str) -> dict[str, int]:
    """Bytes of each code symbol (mangled, as `callgrind` names them)."""
    out = subprocess.run(["nm", "-S", "--defined-only", binary], check=True,
                         capture_output=True, text=True).stdout
    sizes: dict[str, int] = {}
    for line in out.splitlines():
        parts = line.split(" ", 3)
        if len(parts) == 4 and parts[2] in "tTwW":
            sizes[parts[3]] = max(sizes.get(parts[3], 0), int(parts[1], 16))
    return sizes


def toolchain(binary: str) -> str:
    """The compiler that built `binary`, from its `.comment` ("rustc version 1.95.0 (…)")."""
    out = subprocess.run(["readelf", "-p", ".comment", binary], check=True, capture_output=True,
                         text=True).stdout
    m = re.search(r"rustc version ([^\n]+)", out)
    return f"rustc {m.group(1).strip()}" if m else "an unknown compiler"


def text_bytes(binary: str) -> int:
    """Size of the executable's `.text`."""
    out = subprocess.run(["readelf", "-SW", binary], check=True, capture_output=True,
                         text=True).stdout
    for line in out.splitlines():
        m = re.search(r"\]\s+\.text\s+\S+\s+[0-9a-f]+\s+[0-9a-f]+\s+([0-9a-f]+)", line)
        if m:
            return int(m.group(1), 16)
    return 0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("wxlink")
    ap.add_argument("--idle", type=float, default=5.0, help="seconds idle after tools/list")
    ap.add_argument("--write-order", action="store_true",
                    help=f"write {ORDER_FILE.relative_to(ORDER_FILE.parents[2])} from this binary")
    a = ap.parse_args()
    binary = str(Path(a.wxlink).resolve())
    env = {k: v for k, v in os.environ.items() if not k.startswith("WXLINK_")}
    sizes = function_sizes(binary)
    with tempfile.TemporaryDirectory(prefix="wxlink-idle-code-") as tmp:
        tmp = Path(tmp)
        sb, fake = start_sandbox(binary, tmp / "sandbox.stderr")
        try:
            fake.config(qr_hold_ms=10, record_requests=False, qr_auto_confirm=True)
            flags = wxlink_flags(binary, fake, tmp / "wx")
            login_account(flags, fake, env)
            argv = [*flags, "mcp", "--no-banner"]

            s = idle(argv, env, tmp / "plain.stderr", a.idle)
            rss, resident = rss_mb(s.proc.pid), mappings_kb(s.proc.pid, binary)
            s.close()

            out = tmp / "callgrind.out"
            s = idle(callgrind(argv, out), env, tmp / "callgrind.stderr", a.idle)
            s.close()
            ran = executed_functions(written(out), binary)
            if a.write_order:
                out = tmp / "callgrind.calls.out"
                s = idle(callgrind(argv, out), env, tmp / "calls.stderr", 1.0, calls=True)
                s.close()
                order = ran + executed_functions(written(out), binary)
                out = tmp / "callgrind.http.out"
                port = free_port()
                http = subprocess.Popen(callgrind([*flags, "mcp", "-t", "http", "-p", str(port),
                                                   "--no-banner"], out), env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                try:
                    wait_port(port, http, timeout=120)
                    http_session(f"http://127.0.0.1:{port}/mcp")
                    time.sleep(1.0)
                finally:
                    stop(http, grace=30)
                order += executed_functions(written(out), binary)
                out = tmp / "callgrind.status.out"
                subprocess.run(callgrind([*flags, "--json", "status"], out), env=env, check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                # The short command's functions first: it then touches one block of its own,
                # where after the server's (which shares most of its start-up) its pages were
                # spread over the whole 3.6 MB of the list. The server runs the union either way.
                order = executed_functions(written(out), binary) + order
                # Only names the binary defines (callgrind also names recursion copies, `f'2`,
                # and code outside any symbol), so the count of names found says how stale it is.
                order = [name for name in dict.fromkeys(order) if name in sizes]
                header = (f"# The functions that run in `status --json`, then in a server's start-up, "
                          f"calls and idle (stdio, then HTTP), in order: "
                          f"written by bench/idle_code.py --write-order from a build of "
                          f"{toolchain(binary)}\n")
                ORDER_FILE.write_text(header + "".join(f"{name}\n" for name in order))
        finally:
            stop_process(sb)
        ran_bytes = sum(sizes.get(name, 0) for name in ran)
        unsized = sum(1 for name in ran if name not in sizes)
        listed = [line for line in ORDER_FILE.read_text().splitlines()
                  if line and not line.startswith("#")] if ORDER_FILE.exists() else []
        found = sum(1 for name in listed if name in sizes)

    kb = 1024
    print(f"idle `wxlink mcp` (start-up, tools/list, {a.idle:g} s with its poll held): "
          f"RSS {rss:.1f} MB")
    print(f"  resident pages of the executable: code {resident.get('r-xp', 0) / kb:.1f} MB "
          f"of {text_bytes(binary) / kb / kb:.1f} MB; read-only data and relocated tables "
          f"{resident.get('r--p', 0) / kb:.1f} MB; writable data {resident.get('rw-p', 0) / kb:.2f} MB")
    print(f"  code that ran (callgrind): {len(ran):,} functions, {ran_bytes / kb / kb:.2f} MB"
          + (f" ({unsized} without a size in the symbol table)" if unsized else ""))
    print(f"  resident code / code that ran: "
          f"{resident.get('r-xp', 0) * kb / max(ran_bytes, 1):.1f}x")
    print(f"  {ORDER_FILE.name}: {found:,} of its {len(listed):,} functions are in this binary"
          + (" (written now from it: rebuild to lay them out)" if a.write_order else ""))


if __name__ == "__main__":
    main()
