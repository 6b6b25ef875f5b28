"""Memory of a file send: `wxlink mcp` (stdio) logged in to the fake iLink server (`wxlink
sandbox`) sends files of several sizes with the `send` tool; for each, the server's RSS at rest
and its peak RSS during the send (VmHWM, reset through /proc/PID/clear_refs just before), the
peak above rest, and the time the send took. The fake checks what arrived (MD5 of the decrypted
upload).

Usage: python3 bench/upload_memory.py [--bin PATH] [--baseline PATH] [--mb 10,100] [--runs N]

With --baseline, an earlier wxlink binary is measured the same way in the same run (its own data
directory, logged in to the same fake), and the ratios are printed. Issue 10's target: the peak
above rest stays a small constant (<= 32 MB) whatever the file's size.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "interop"))
from fakectl import FakeControl  # noqa: E402


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


class Stdio:
    """A minimal MCP client over a server's stdin/stdout (one JSON-RPC message per line)."""

    def __init__(self, argv: list[str], stderr) -> None:
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=stderr)
        self.next_id = 0
        self.request("initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                    "clientInfo": {"name": "upload_memory", "version": "1"}})
        self.notify("notifications/initialized")

    def notify(self, method: str) -> None:
        self.proc.stdin.write(json.dumps({"jsonrpc": "2.0", "method": method}).encode() + b"\n")
        self.proc.stdin.flush()

    def request(self, method: str, params: dict) -> dict:
        self.next_id += 1
        msg = {"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}
        self.proc.stdin.write(json.dumps(msg).encode() + b"\n")
        self.proc.stdin.flush()
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("the server closed stdout")
            reply = json.loads(line)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def call(self, tool: str, args: dict) -> dict:
        result = self.request("tools/call", {"name": tool, "arguments": args})
        if result.get("isError"):
            raise RuntimeError(f"{tool}: {result}")
        if result.get("structuredContent") is not None:
            return result["structuredContent"]
        return json.loads(result["content"][0]["text"])

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def measure(binary: str, fake: FakeControl, home: Path, files: list[Path], runs: int,
            logs: Path) -> dict[int, list[dict]]:
    flags = [binary, "-d", str(home), "--ilink-base", fake.base_url, "--cdn-base", fake.cdn_url]
    login = subprocess.run([*flags, "--json", "login"], check=True, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, timeout=60)
    bot_id = json.loads(login.stdout)["bot_id"]
    with open(logs / f"{home.name}.stderr", "wb") as err:
        s = Stdio([*flags, "mcp", "--no-banner"], err)
    out: dict[int, list[dict]] = {}
    try:
        for path in files:
            size = path.stat().st_size
            md5 = hashlib.md5(path.read_bytes()).hexdigest()
            for _ in range(runs):
                marker = f"quota {time.time_ns()}"
                fake.inject(bot_id=bot_id, text=marker)
                user = None
                while user is None:
                    for m in s.call("recv", {"timeout": 5}).get("messages", []):
                        if m.get("text") == marker:
                            user = m.get("user") or m.get("from_user") or m.get("from")
                time.sleep(1.0)  # at rest
                pid = s.proc.pid
                rest_kb = status_kb(pid, "VmRSS")
                Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := VmRSS
                t = time.perf_counter()
                sent = s.call("send", {"to": user, "file_path": str(path)})
                secs = time.perf_counter() - t
                peak_kb = status_kb(pid, "VmHWM")
                if not sent.get("success"):
                    raise RuntimeError(f"send failed: {sent}")
                upload = fake.uploads()[-1]
                if upload.get("plain_md5") != md5 or upload.get("plain_size") != size:
                    raise RuntimeError(f"the fake got something else: {upload}")
                out.setdefault(size, []).append({"rest_mb": rest_kb / 1024,
                                                 "peak_mb": peak_kb / 1024,
                                                 "above_mb": (peak_kb - rest_kb) / 1024,
                                                 "secs": secs})
    finally:
        s.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default=str(HERE.parent / "target" / "release" / "wxlink"))
    ap.add_argument("--baseline", help="an earlier wxlink binary, measured alongside")
    ap.add_argument("--mb", default="10,100", help="file sizes in MB, comma-separated")
    ap.add_argument("--runs", type=int, default=3, help="sends per size")
    a = ap.parse_args()
    sizes = [int(x) for x in a.mb.split(",")]
    with tempfile.TemporaryDirectory(prefix="wxlink-upload-mem-") as tmp:
        tmp = Path(tmp)
        files = []
        for mb in sizes:
            path = tmp / f"file-{mb}mb.bin"
            with open(path, "wb") as f:
                for _ in range(mb):
                    f.write(os.urandom(1024 * 1024))
            files.append(path)
        with open(tmp / "sandbox.stderr", "wb") as err:
            sb = subprocess.Popen([a.bin, "sandbox", "--port", "0", "--json", "--auto-confirm"],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
                                  text=True)
        try:
            info = json.loads(sb.stdout.readline())
            fake = FakeControl(info["base_url"], info["cdn_url"], info["control_url"])
            fake.config(qr_hold_ms=10, record_requests=False)
            binaries = [("wxlink", a.bin)] + ([("before", a.baseline)] if a.baseline else [])
            results = {name: measure(b, fake, tmp / name, files, a.runs, tmp)
                       for name, b in binaries}
        finally:
            sb.terminate()
            sb.wait(timeout=10)
    print(f"File send memory ({a.runs} sends per size; median, [min-max]):")
    print(f"{'binary':<8} {'size':>7} {'rest MB':>8} {'peak MB':>8} {'above rest MB':>22} "
          f"{'send s':>7}")
    for name, by_size in results.items():
        for size, rows in by_size.items():
            above = [r["above_mb"] for r in rows]
            print(f"{name:<8} {size / 2**20:>5.0f}MB {statistics.median(r['rest_mb'] for r in rows):>8.1f} "
                  f"{statistics.median(r['peak_mb'] for r in rows):>8.1f} "
                  f"{statistics.median(above):>8.1f} [{min(above):.1f}-{max(above):.1f}]".ljust(62)
                  + f" {statistics.median(r['secs'] for r in rows):>7.2f}")
    if a.baseline:
        for size in results["wxlink"]:
            new = statistics.median(r["above_mb"] for r in results["wxlink"][size])
            old = statistics.median(r["above_mb"] for r in results["before"][size])
            print(f"{size / 2**20:.0f} MB: peak above rest {old:.1f} MB before -> {new:.1f} MB "
                  f"now ({old / max(new, 0.1):.1f}x less)")


if __name__ == "__main__":
    main()
