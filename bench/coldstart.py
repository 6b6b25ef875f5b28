"""Cold start of `wxlink status --json` vs `weilink status --json`: wall time (median, p90 of
N runs) and peak RSS, each on a data directory holding one logged-in session.

Usage: python bench/coldstart.py WXLINK_BIN WEILINK_PYTHON [RUNS]

Each command runs N times in a row (wall time as seen by the caller, process start included);
peak RSS comes from GNU time (/usr/bin/time, Debian package `time`). WeiLink's CLI also tries a
PyPI version check at start (it fails fast here: no network), as it would for a user offline.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def peak_rss_kb(argv, env):
    """Peak RSS of one run, measured by GNU time (a fork of Python would report Python's RSS)."""
    with tempfile.NamedTemporaryFile() as f:
        subprocess.run(["/usr/bin/time", "-f", "%M", "-o", f.name, *argv], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return int(open(f.name).read().split()[-1])


def measure(argv, env, runs):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        out = subprocess.run(argv, env=env, check=True, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL).stdout
        times.append((time.perf_counter() - t) * 1000)
        json.loads(out)
    rss = max(peak_rss_kb(argv, env) for _ in range(3))
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.9)], rss / 1024


def main():
    wxlink, py = sys.argv[1], sys.argv[2]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 30
    with tempfile.TemporaryDirectory() as tmp:
        wx_home = os.path.join(tmp, "wx")
        # Seed a session through the library-free route: a login against nothing is not possible
        # offline, so write one the way `wxlink login` would, via the sandbox and the CLI.
        env = dict(os.environ, WXLINK_HOME=wx_home)
        sb = subprocess.Popen([wxlink, "sandbox", "--port", "0", "--json", "--auto-confirm"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        base = json.loads(sb.stdout.readline())["base_url"]
        subprocess.run([wxlink, "--ilink-base", base, "--json", "login"], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
        sb.terminate()
        wl_home = os.path.join(tmp, "wl")
        os.makedirs(os.path.join(wl_home, "default"))
        with open(os.path.join(wl_home, "default", "token.json"), "w") as f:
            json.dump({"bot_id": "b@im.bot", "base_url": "http://127.0.0.1:9", "token": "t",
                       "user_id": "u@im.wechat", "cursor": "", "created_at": time.time()}, f)
        wl_bin = os.path.join(os.path.dirname(py), "weilink")
        rows = [
            ("wxlink status --json", measure([wxlink, "--json", "status"], env, runs)),
            ("weilink status --json", measure([wl_bin, "status", "-d", wl_home, "--json"],
                                               dict(os.environ, NO_PROXY="*"), runs)),
        ]
    print(f"{'command':<24}{'p50 ms':>10}{'p90 ms':>10}{'peak RSS MB':>14}")
    for name, (p50, p90, rss) in rows:
        print(f"{name:<24}{p50:>10.1f}{p90:>10.1f}{rss:>14.1f}")
    (w50, _, wr), (p50, _, pr) = rows[0][1], rows[1][1]
    print(f"wxlink is {p50 / w50:.0f}x faster to start and uses {pr / wr:.1f}x less memory")


if __name__ == "__main__":
    main()
