"""WeiLink 0.6.2's SDK sending text to the fake iLink server (the anchor of bench/send.sh).

Usage: python bench/weilink_send.py BASE_URL [COUNT]
Prints one JSON object with sequential sends/s and latency p50/p99.

WeiLink refuses an 11th send per context token client-side; for a throughput figure that
guard is lifted by raising ``weilink._protocol.CONTEXT_TOKEN_QUOTA`` (the fake's own quota
is lifted by bench/send.sh). Everything else is WeiLink as shipped: a new connection per
request, its context files re-read and re-written on every send.
"""

import json
import os
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "interop"))
from weilink_smoke import point_weilink_at  # noqa: E402


def control(base, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method="POST" if data else "GET",
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def main():
    base = sys.argv[1].rstrip("/") + "/"
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    point_weilink_at(base)
    import weilink._protocol as proto
    from weilink import WeiLink

    proto.CONTEXT_TOKEN_QUOTA = 10**9
    control(base, "__fake/config", {"qr_auto_confirm": True, "qr_hold_ms": 10,
                                     "longpolling_timeout_ms": 1000, "hold_ms": 100})
    with tempfile.TemporaryDirectory() as tmp:
        wl = WeiLink(base_path=tmp)
        devnull = open(os.devnull, "w")
        real_stdout, sys.stdout = sys.stdout, devnull  # login() draws the QR on stdout
        try:
            info = wl.login()
        finally:
            sys.stdout = real_stdout
        control(base, "__fake/inbound", {"bot_id": info.bot_id, "text": "start"})
        msgs = []
        while not msgs:
            msgs = wl.recv(timeout=5)
        user = msgs[0].from_user
        for i in range(100):
            assert wl.send(user, text=f"warm-up {i}")
        lat = []
        start = time.perf_counter()
        for i in range(count):
            t = time.perf_counter()
            ok = wl.send(user, text=f"bench {i}")
            lat.append(time.perf_counter() - t)
            assert ok, "send failed"
        secs = time.perf_counter() - start
        wl.close()
    lat.sort()
    pct = lambda p: lat[min(int(len(lat) * p), len(lat) - 1)] * 1000
    print(json.dumps({"client": "weilink 0.6.2", "sequential": {
        "count": count, "secs": secs, "per_sec": count / secs, "p50_ms": pct(0.5), "p99_ms": pct(0.99)}}))


if __name__ == "__main__":
    main()
