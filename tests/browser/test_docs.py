"""The REST API's docs page (Swagger UI, served by the binary) in a real browser: it renders the
server's own OpenAPI document under the panel's Content-Security-Policy (the fixture fails the
test on any console error, a blocked script or style included) and loads nothing off-origin."""

from __future__ import annotations

from conftest import Panel, Server


def test_docs_page_renders_every_operation(panel: Panel, server: Server):
    panel.signed_in()  # the page is behind the token like every route: the cookie lets it in
    doc = panel.js("return fetch('/api/v1/openapi.json').then(r => r.json())")
    operations = sum(len(item) for item in doc["paths"].values())
    assert operations > 10, doc["paths"].keys()
    panel.d.get(f"{server.url}/api/v1/docs")
    assert panel.d.current_url.endswith("/api/v1/docs/")
    title = panel.visible(".information-container .title")
    assert title.text.startswith("wxlink"), title.text
    panel.wait(lambda: len(panel.all(".opblock")) == operations, what=f"{operations} operations shown")
    # Every resource the page loaded came from this server.
    origins = panel.js(
        "return performance.getEntriesByType('resource').map(e => new URL(e.name).origin)")
    assert origins and set(origins) == {server.url}, origins
    panel.shot("api-docs")
