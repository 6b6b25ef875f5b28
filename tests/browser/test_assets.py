"""The panel's files themselves, without a browser: both languages complete, every string the
code asks for exists, nothing the Content-Security-Policy would block, nothing off-origin."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ASSETS = Path(__file__).resolve().parents[2] / "crates" / "wxlink" / "src" / "admin" / "assets"
# Keys built at run time from a prefix (`status.${s}`, …): each prefix must have keys.
DYNAMIC = ("error.", "status.", "type.", "login.phase.", "login.renewal.", "message.status.", "nav.", "live.")


def files(*exts: str) -> list[Path]:
    return sorted(p for p in ASSETS.rglob("*") if p.is_file() and p.suffix.lstrip(".") in exts)


def locale(lang: str) -> dict[str, str]:
    return json.loads((ASSETS / "locales" / f"{lang}.json").read_text(encoding="utf-8"))


def test_both_languages_have_every_string():
    en, zh = locale("en"), locale("zh")
    assert set(en) == set(zh), f"only in en: {set(en) - set(zh)}; only in zh: {set(zh) - set(en)}"
    assert all(isinstance(v, str) and v.strip() for v in [*en.values(), *zh.values()])
    for key in en:  # the same placeholders in both
        assert set(re.findall(r"\{\w+\}", en[key])) == set(re.findall(r"\{\w+\}", zh[key])), key


def test_every_string_the_code_uses_exists():
    en = locale("en")
    source = "\n".join(p.read_text(encoding="utf-8") for p in files("js", "html"))
    used = set(re.findall(r"\bt\('([\w.]+)'", source))
    used |= set(re.findall(r"data-i18n(?:-\w+)?=\"([\w.]+)\"", source))
    used |= set(re.findall(r"\b(?:field|counter)\('([\w.]+)'", source))
    used |= set(re.findall(r"\bfield\('[\w.]+', \w+, '([\w.]+)'", source))
    missing = sorted(k for k in used if k not in en)
    assert not missing, missing
    for prefix in DYNAMIC:
        assert any(k.startswith(prefix) for k in en), prefix


def test_nothing_the_csp_blocks_and_nothing_off_origin():
    html = (ASSETS / "index.html").read_text(encoding="utf-8")
    assert not re.search(r"<style|\sstyle=|<script(?![^>]*\ssrc=)|\son\w+=", html, re.I)
    for p in files("js"):
        text = p.read_text(encoding="utf-8")
        assert "innerHTML" not in text and "outerHTML" not in text and "insertAdjacentHTML" not in text, p
        assert not re.search(r"\beval\(|new Function\(|setAttribute\('style'|document\.write", text), p
    for p in files("js", "html", "css", "svg", "json"):
        text = p.read_text(encoding="utf-8")
        urls = re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s'\")]*", text)
        urls = [u for u in urls if "www.w3.org/2000/svg" not in u and not u.startswith("//")]
        assert not urls, f"{p.name}: {urls}"


def test_weight(capsys: pytest.CaptureFixture):
    total = sum(p.stat().st_size for p in ASSETS.rglob("*") if p.is_file())
    with capsys.disabled():
        print(f"\nBENCH panel_assets_bytes total={total}")
    assert total < 120_000, total
