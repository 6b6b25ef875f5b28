"""Smoke check: weilink 0.6.2 imports and can be pointed at a fake iLink.

Run with the interop venv (see setup-venv.sh):

    ILINK_FAKE_URL=http://127.0.0.1:PORT "$VENV/bin/python" tests/interop/weilink_smoke.py

No network calls are made. Importable: ``from weilink_smoke import point_weilink_at``.
"""

from __future__ import annotations

import inspect
import os
import sys


def point_weilink_at(url: str) -> None:
    """Redirect weilink's hard-coded hosts to ``url`` (see WEILINK_NOTES.md §1).

    Call before ``WeiLink.login()``. Session traffic (getupdates, sendmessage, ...)
    follows ``baseurl`` from the fake's "confirmed" answer / token.json instead.
    """
    import weilink._cdn as _cdn
    import weilink._protocol as _protocol

    url = url.rstrip("/")  # weilink concatenates base + "/ilink/..."
    _protocol.get_qr_code.__defaults__ = (url,)  # (base_url,)
    _protocol.poll_qr_status.__defaults__ = (url,)  # (base_url,) ; qrcode has no default
    _protocol.BASE_URL = url  # fallback base_url when "confirmed" lacks "baseurl"
    _cdn.CDN_BASE = url + "/c2c"  # CDN upload/download URLs built without full URLs

    # urllib honours *_PROXY; keep loopback traffic direct.
    for var in ("NO_PROXY", "no_proxy"):
        hosts = [h for h in os.environ.get(var, "").split(",") if h]
        os.environ[var] = ",".join(hosts + [h for h in ("127.0.0.1", "localhost") if h not in hosts])


def main() -> int:
    import weilink
    import weilink._cdn as _cdn
    import weilink._protocol as _protocol

    url = os.environ.get("ILINK_FAKE_URL")
    if not url:
        print("ILINK_FAKE_URL not set; using http://127.0.0.1:9 to exercise the patch", file=sys.stderr)
        url = "http://127.0.0.1:9"
    point_weilink_at(url)

    url = url.rstrip("/")
    for fn in (_protocol.get_qr_code, _protocol.poll_qr_status):
        got = inspect.signature(fn).parameters["base_url"].default
        assert got == url, (fn.__name__, got)
    assert _cdn.CDN_BASE == url + "/c2c" and _protocol.BASE_URL == url
    print(f"weilink {weilink.__version__} patched -> {url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
