"""The admin panel in a real browser: sign-in, QR login, live chat, replies, search, sessions,
languages, themes — against `wxlink serve` and the sandbox."""

from __future__ import annotations

import statistics
import struct
import time
import urllib.request
import zlib
from pathlib import Path

import pytest
from conftest import TOKEN, Panel, Server
from fakectl import FakeControl
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

USER = "o9cq80browser000000000001@im.wechat"
USER2 = "o9cq80browser000000000002@im.wechat"


def png(width: int = 40, height: int = 30) -> bytes:
    """A small valid PNG (a gradient, so the bytes are not trivial)."""
    rows = b"".join(b"\x00" + b"".join(bytes((x * 6 % 256, 160, y * 8 % 256)) for x in range(width))
                    for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def open_chat(panel: Panel, session: str, user: str) -> None:
    """Opens the conversation from the list, as a person would."""
    panel.go("chat")

    def click() -> bool:  # the list may be redrawn between finding and clicking: try again
        links = [a for a in panel.all("a.conv")
                 if a.get_attribute("data-user") == user and a.get_attribute("data-session") == session]
        if links:
            links[0].click()
        return bool(links)

    panel.wait(click, what="conversation in the list")
    panel.visible("#composer-text")
    panel.wait(lambda: panel.css("#messages").get_attribute("data-user") == user)


def bubble_texts(panel: Panel) -> list[str]:
    return panel.js("return [...document.querySelectorAll('#messages-inner .bubble')].map(b => b.textContent)")


def logged_in_chat(panel: Panel, server: Server, fake: FakeControl, first: str = "hello") -> str:
    """A session whose user wrote ``first``; the panel signed in and showing the conversation."""
    session = server.login(USER)["name"]
    fake.inject(from_user_id=USER, text=first)
    assert server.wait_messages(1, user=USER), "the first message never reached the store"
    panel.signed_in()
    open_chat(panel, session, USER)
    panel.wait(lambda: first in bubble_texts(panel), what="first message shown")
    return session


# ---------------------------------------------------------------------------------------------


def test_sign_in_refuses_a_wrong_token_then_accepts_the_right_one(panel: Panel, server: Server):
    panel.open()
    panel.sign_in("not-the-token")
    error = panel.visible("#signin-error")
    assert "Wrong token" in error.text
    assert panel.css("#nav").is_displayed() is False
    panel.sign_in(TOKEN)
    panel.visible("#count-sessions")
    assert panel.css("#nav").is_displayed()
    # The cookie works for the API (and the page never sees it: HttpOnly).
    assert "wxlink_admin" not in panel.js("return document.cookie")
    status = panel.js("return fetch('/api/v1/status').then(r => r.status)")
    assert status == 200
    # A change without the CSRF header is refused.
    refused = panel.js(
        "return fetch('/api/v1/typing', {method: 'POST', headers: {'Content-Type': 'application/json'},"
        " body: JSON.stringify({to: 'x'})}).then(r => r.status)")
    assert refused == 403
    panel.shot("dashboard-empty")


def test_qr_login_scanned_by_the_fake_phone(panel: Panel, server: Server, fake: FakeControl):
    panel.signed_in()
    panel.go("login")
    panel.css("#login-session").send_keys("phone")
    record_login_states(panel)
    panel.css("#login-start").click()
    qr = panel.visible("#qr-img")
    panel.wait(lambda: panel.js("return arguments[0].complete && arguments[0].naturalWidth > 0", qr), what="QR image loaded")
    assert panel.css("#login-phase").get_attribute("data-phase") == "waiting_for_scan"
    assert panel.css("#login-phase").text == "Scan the QR code with WeChat"
    panel.shot("login-qr")
    # The fake phone scans: opening the QR's link is what the sandbox takes for a scan.
    link = panel.css("#qr-link").get_attribute("href")
    assert link.startswith(fake.base_url), link
    urllib.request.build_opener(urllib.request.ProxyHandler({})).open(link, timeout=10).read()
    panel.wait(lambda: panel.css("#login-phase").get_attribute("data-phase") == "confirmed", 20, "confirmed")
    assert "phone" in panel.css("#login-result").text
    phases = [s["phase"] for s in panel.js("return window.__loginStates")]
    assert phases[0] in ("starting", "waiting_for_scan") and phases[-1] == "confirmed", phases
    names = [s["name"] for s in server.api("GET", "/api/v1/sessions")["sessions"]]
    assert "phone" in names
    panel.shot("login-confirmed")
    # The dashboard counts it (the sessions event refreshes it without a reload).
    panel.go("dashboard")
    panel.wait(lambda: panel.css("#count-sessions .value").text == "1", what="one session counted")


def test_a_login_is_picked_up_after_a_reload_and_can_be_cancelled(panel: Panel, server: Server, fake: FakeControl):
    panel.signed_in()
    panel.go("login")
    panel.css("#login-session").send_keys("tablet")
    panel.css("#login-start").click()
    panel.visible("#qr-img")
    # A reload finds the login under way and shows it again.
    panel.d.refresh()
    panel.visible("#qr-img", 20)
    assert "tablet" in panel.css("#login-body").text
    panel.css("#login-cancel").click()
    panel.wait(lambda: panel.css("#login-phase").get_attribute("data-phase") == "failed", 15, "cancelled")
    assert "cancelled" in panel.css("#login-result").text
    assert server.api("GET", "/api/v1/logins")["logins"] == []


def record_login_states(panel: Panel) -> None:
    """Records every (phase, QR generation, renewal note, wrong-code) the login page shows."""
    panel.js("""
        window.__loginStates = [];
        const snap = () => {
          const p = document.querySelector('#login-phase');
          const img = document.querySelector('#qr-img');
          const note = document.querySelector('#qr-renewal');
          const wrong = document.querySelector('#login-code-wrong');
          const s = { phase: p ? p.dataset.phase : null, generation: img ? img.dataset.generation : null,
                      renewal: note ? note.textContent : null, wrong: !!(wrong && !wrong.hidden) };
          const last = window.__loginStates[window.__loginStates.length - 1];
          if (s.phase !== 'idle' && JSON.stringify(s) !== JSON.stringify(last)) window.__loginStates.push(s);
        };
        new MutationObserver(snap).observe(document.querySelector('#main'), {subtree: true, childList: true, attributes: true, characterData: true});
    """)


def test_qr_login_with_a_new_code_and_a_verification_number(panel: Panel, server: Server, fake: FakeControl):
    # The first code expires; the second is scanned, the phone asks for a number, then confirms.
    fake.qr_script("expired")
    fake.qr_script("scaned", {"status": "need_verifycode", "verify_code": "4242"},
                   {"status": "confirmed", "user_id": USER2})
    panel.signed_in()
    panel.go("login")
    record_login_states(panel)
    panel.css("#login-start").click()
    code = panel.visible("#login-code", 20)
    code.send_keys("1111")
    panel.css("#login-code-submit").click()
    panel.visible("#login-code-wrong", 15)
    panel.shot("login-wrong-code")
    code = panel.css("#login-code")
    code.send_keys("4242")
    panel.css("#login-code-submit").click()
    panel.wait(lambda: panel.css("#login-phase").get_attribute("data-phase") == "confirmed", 20, "confirmed")
    states = panel.js("return window.__loginStates")
    gens = {s["generation"] for s in states if s["generation"]}
    assert "2" in gens, states  # the replacement code was shown…
    assert any(s["renewal"] and "expired" in s["renewal"] for s in states), states  # …with why
    assert any(s["phase"] == "need_verify_code" for s in states), states
    assert any(s["wrong"] for s in states), states


def test_inbound_message_appears_live_and_replies_go_out(panel: Panel, server: Server, fake: FakeControl):
    session = logged_in_chat(panel, server, fake)
    watch_bubbles(panel)
    # An inbound message shows up live: added to the open chat by the event stream, which stayed
    # connected (no reconnection and catch-up), without a reload. How fast is a benchmark's
    # question (test_bench_event_latency), not this test's.
    fake.inject(from_user_id=USER, text="live ping")
    panel.wait(lambda: "live ping" in bubble_texts(panel), 5, "live message")
    seen = panel.js("return window.__seen.find(s => s.text.includes('live ping'))")
    assert seen, "the bubble was drawn by a redraw of the chat, not added live"
    assert panel.js("return window.__liveChanges") == [], "the event stream went off meanwhile"
    assert panel.js("return performance.getEntriesByType('navigation').length") == 1  # no reload

    # A text reply: Enter sends.
    box = panel.css("#composer-text")
    box.send_keys("reply from the panel")
    box.send_keys(Keys.ENTER)
    panel.wait(lambda: any(s.get("text") == "reply from the panel" for s in fake.sent()), 10, "text at the fake")
    panel.wait(lambda: panel.js(
        "const m = [...document.querySelectorAll('.msg.out')].find(m => m.textContent.includes('reply from the panel'));"
        "return m && m.dataset.status === 'sent'"), 10, "sent bubble")
    assert box.get_attribute("value") == ""
    # Shift+Enter is a new line, not a send.
    box.send_keys("line one")
    box.send_keys(Keys.SHIFT, Keys.ENTER)
    box.send_keys("line two")
    assert box.get_attribute("value") == "line one\nline two"
    box.send_keys(Keys.ENTER)
    panel.wait(lambda: any(s.get("text") == "line one\nline two" for s in fake.sent()), 10, "two lines at the fake")

    # An image: the bytes the fake's CDN received are the file's.
    image = png()
    path = Path(server.stderr_path.parent) / "photo.png"
    path.write_bytes(image)
    uploads_before = len(fake.uploads())
    panel.css("#composer-file").send_keys(str(path))
    panel.wait(lambda: len(fake.uploads()) > uploads_before, 15, "upload at the fake")
    assert fake.upload_plain(uploads_before) == image
    img = panel.wait(lambda: panel.all(".msg.out img.media-img")[-1], 10, "image bubble")
    panel.wait(lambda: panel.js("return arguments[0].complete && arguments[0].naturalWidth == 40", img), 10, "image served back")
    # The conversation list follows: the newest message (the image) is its preview.
    panel.wait(lambda: "You: [Image]" in panel.css(f"a.conv[data-user='{USER}']").text, 5, "list preview")
    assert session
    panel.shot("chat-light")
    panel.css("#theme-switch").click()
    assert panel.js("return document.documentElement.dataset.theme") == "dark"
    panel.shot("chat-dark")
    panel.css("#theme-switch").click()


def watch_bubbles(panel: Panel) -> None:
    """Records when each bubble enters the page (wall-clock ms, comparable with the test's), and
    every change of the event stream's state from here on."""
    panel.js("""
        window.__seen = [];
        window.__liveChanges = [];
        new MutationObserver(() => {
          const state = document.querySelector('#live-status').dataset.state;
          if (state !== 'on') window.__liveChanges.push(state);
        }).observe(document.querySelector('#live-status'), { attributes: true, attributeFilter: ['data-state'] });
        new MutationObserver((records) => {
          const wall = performance.timeOrigin + performance.now();
          for (const r of records) for (const n of r.addedNodes) {
            if (n.nodeType === 1 && n.classList.contains('msg')) window.__seen.push({ text: n.textContent, wall });
          }
        }).observe(document.querySelector('#messages-inner'), { childList: true });
    """)


def test_refused_sends_are_explained(panel: Panel, server: Server, fake: FakeControl):
    session = logged_in_chat(panel, server, fake)
    box = panel.css("#composer-text")

    def refused(expect: str) -> str:
        error = panel.visible("#composer-error")
        panel.wait(lambda: expect in error.text, 10, f"error saying {expect!r}")
        return error.text

    # The reply quota (10 per message received) is used up by a script; the panel's send is refused.
    for i in range(10):
        server.api("POST", "/api/v1/messages", {"to": USER, "text": f"quota {i}", "session": session})
    box.send_keys("one too many")
    box.send_keys(Keys.ENTER)
    refused("No replies left")
    assert box.get_attribute("value") == "one too many"  # kept, to send later

    # A file over the server's limit (--max-upload-mb 1).
    big = Path(server.stderr_path.parent) / "big.bin"
    big.write_bytes(b"x" * (1024 * 1024 + 10))
    panel.css("#composer-file").send_keys(str(big))
    refused("Too large")
    assert not panel.css("#upload-progress").is_displayed()

    # Someone who never wrote to the bot cannot be answered.
    panel.go(f"chat/{session}/o9cq80nobody@im.wechat")
    box = panel.visible("#composer-text")
    box.send_keys("hello?")
    box.send_keys(Keys.ENTER)
    refused("write to the bot first")
    panel.shot("chat-refused")


def test_search_finds_a_chinese_word(panel: Panel, server: Server, fake: FakeControl):
    logged_in_chat(panel, server, fake, first="你好")
    fake.inject(from_user_id=USER, text="今天天气很好")
    fake.inject(from_user_id=USER, text="明天见")
    panel.wait(lambda: "明天见" in bubble_texts(panel), 10, "messages shown")
    panel.css("#chat-search").send_keys("天气")
    panel.wait(lambda: bubble_texts(panel) == ["今天天气很好"], 10, "one match")
    assert "天气" in panel.visible("#chat-search-info").text
    panel.css("#chat-search").send_keys(Keys.CONTROL, "a")
    panel.css("#chat-search").send_keys(Keys.DELETE)
    panel.wait(lambda: len(bubble_texts(panel)) == 3, 10, "back to the conversation")

    panel.go("history")
    panel.css("#history-text").send_keys("天气")
    panel.css("#history-submit").click()
    panel.wait(lambda: len(panel.all("#history-results li")) == 1 and "今天天气很好" in panel.css("#history-results").text, 10)
    assert panel.css("#history-total").text.startswith("1 ")
    panel.shot("history")


def test_rename_and_log_out_a_session(panel: Panel, server: Server, fake: FakeControl):
    server.login(USER, session="work")
    panel.signed_in()
    panel.go("sessions")
    panel.click("tr.session-row[data-session='work'] [data-testid=expand-users]")
    panel.visible("tr.users-row")
    panel.shot("sessions")
    panel.click("tr.session-row[data-session='work'] [data-testid=rename]")
    name = panel.visible("#rename-input")
    name.send_keys(Keys.CONTROL, "a")
    name.send_keys("office")
    name.send_keys(Keys.ENTER)
    panel.wait(lambda: panel.all("tr.session-row[data-session='office']"), 10, "renamed row")
    assert [s["name"] for s in server.api("GET", "/api/v1/sessions")["sessions"]] == ["office"]

    panel.click("tr.session-row[data-session='office'] [data-testid=logout]")
    panel.click("#logout-dialog [data-testid=dialog-confirm]")
    panel.wait(lambda: server.api("GET", "/api/v1/sessions/office")["connected"] is False, 10, "logged out")
    panel.wait(lambda: "logged out" in panel.css("tr.session-row[data-session='office']").text, 10, "status shown")
    # Esc closes a dialog without doing anything.
    panel.click("tr.session-row[data-session='office'] [data-testid=rename]")
    panel.visible("#rename-input").send_keys(Keys.ESCAPE)
    panel.wait(lambda: not panel.all("#rename-dialog"), 5, "dialog closed")
    assert [s["name"] for s in server.api("GET", "/api/v1/sessions")["sessions"]] == ["office"]


def test_chinese_then_sign_out(panel: Panel, server: Server, fake: FakeControl):
    logged_in_chat(panel, server, fake, first="你好")
    Select(panel.css("#lang-switch")).select_by_value("zh")
    panel.wait(lambda: panel.css("#composer-send").text == "发送", what="translated send button")
    assert panel.js("return document.documentElement.lang") == "zh-CN"
    assert panel.css("a[data-route=history]").text == "历史记录"
    panel.shot("chat-zh")
    panel.d.refresh()  # the choice is remembered
    panel.wait(lambda: panel.css("a[data-route=dashboard]").text == "概览", what="still Chinese")
    panel.go("dashboard")
    panel.visible("#count-sessions")
    panel.shot("dashboard-zh")
    Select(panel.css("#lang-switch")).select_by_value("en")
    panel.wait(lambda: panel.css("a[data-route=dashboard]").text == "Dashboard")

    panel.css("#signout").click()
    panel.visible("#token")
    assert panel.js("return fetch('/api/v1/status').then(r => r.status)") == 401


def test_phone_layout(panel: Panel, server: Server, fake: FakeControl):
    logged_in_chat(panel, server, fake)
    panel.d.set_window_size(390, 844)
    try:
        assert panel.css("#composer-text").is_displayed()
        assert not panel.css("#conv-list").is_displayed()  # the chat takes the screen
        panel.shot("chat-phone")
        panel.go("login")
        panel.css("#login-session").send_keys("second")
        panel.css("#login-start").click()
        qr = panel.visible("#qr-img")
        assert qr.size["width"] >= 250, qr.size  # big enough to scan from another phone
        panel.shot("login-qr-phone")
    finally:
        panel.d.set_window_size(1280, 900)


def test_bench_event_latency(panel: Panel, server: Server, fake: FakeControl, capsys: pytest.CaptureFixture):
    """Inject → bubble in the DOM, over the event stream (printed, not asserted)."""
    logged_in_chat(panel, server, fake)
    watch_bubbles(panel)
    latencies = []
    for i in range(20):
        text = f"bench {i}"
        before = time.time() * 1000
        fake.inject(from_user_id=USER, text=text)
        panel.wait(lambda: panel.js("return window.__seen.some(s => s.text.includes(arguments[0]))", text), 10, text)
        seen = panel.js("return window.__seen.find(s => s.text.includes(arguments[0])).wall", text)
        latencies.append(seen - before)
        time.sleep(0.1)
    latencies.sort()
    p50 = statistics.median(latencies)
    p90 = latencies[int(len(latencies) * 0.9) - 1]
    with capsys.disabled():
        print(f"\nBENCH panel_event_latency_ms p50={p50:.1f} p90={p90:.1f} n={len(latencies)}")


def test_older_messages_load_on_scroll_and_history_pages(panel: Panel, server: Server, fake: FakeControl):
    session = server.login(USER)["name"]
    for i in range(45):
        fake.inject(from_user_id=USER, text=f"numbered {i:02d}")
    assert len(server.wait_messages(45, limit=50, user=USER)) == 45
    panel.signed_in()
    open_chat(panel, session, USER)
    panel.wait(lambda: len(bubble_texts(panel)) == 30, 10, "the first 30")
    assert bubble_texts(panel)[-1] == "numbered 44"
    panel.js("document.getElementById('messages').scrollTop = 0")
    panel.wait(lambda: len(bubble_texts(panel)) == 45, 10, "older ones on scroll")
    assert bubble_texts(panel) == [f"numbered {i:02d}" for i in range(45)]  # in order, none twice
    assert not panel.css("#load-older").is_displayed()  # nothing older

    panel.go("history")
    panel.wait(lambda: panel.css("#history-total").text.startswith("45 "), 10, "total")
    assert len(panel.all("#history-results > li")) == 30
    panel.css("#history-more").click()
    panel.wait(lambda: len(panel.all("#history-results > li")) == 45, 10, "load more")
    assert not panel.css("#history-more").is_displayed()
    # Filters: received messages of this user only, newest first.
    Select(panel.css("#history-direction")).select_by_value("out")
    panel.css("#history-submit").click()
    panel.wait(lambda: panel.css("#history-total").text.startswith("0 "), 10, "no sent messages")


def test_dashboard_shows_a_degraded_session_live(panel: Panel, server: Server, fake: FakeControl):
    bot_id = server.login(USER)["bot_id"]
    panel.signed_in()
    card = panel.wait(lambda: panel.css(".session-card[data-session='default']"), what="session card")
    assert "polling" in card.text
    # Three unreadable answers in a row degrade the session (it heals at the next good poll,
    # 30 s later: not waited for here).
    fake.fault("getupdates", "malformed", times=3, bot_id=bot_id)
    panel.wait(lambda: panel.all(".session-card[data-session='default'] .badge.bad"), 20, "degraded badge")
    assert "not valid protocol JSON" in panel.css(".session-card[data-session='default']").text
    panel.shot("dashboard-degraded")
