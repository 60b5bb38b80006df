"""The API documentation pages in Chromium: they render the operations, load nothing from
another host, and break none of their Content-Security-Policy."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import LiveServer


@pytest.mark.parametrize(
    ("path", "operation"),
    [("/docs", ".opblock"), ("/redoc", "[data-section-id^='tag/']")],
)
def test_the_api_docs_render_from_this_origin_only(
    live_server: LiveServer, browser: Any, path: str, operation: str
) -> None:
    page = browser.new_page()
    requested: list[str] = []
    problems: list[str] = []
    # Requests that completed (one the policy blocks never does).
    page.on("requestfinished", lambda request: requested.append(request.url))
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))

    def on_console(message: Any) -> None:
        text = message.text
        # ReDoc links its own logo from its website; the policy blocks it, as it should.
        if "Content Security Policy" in text and "cdn.redoc.ly" not in text:
            problems.append(text)

    page.on("console", on_console)
    page.goto(live_server.url + path)
    page.wait_for_selector(operation, timeout=20_000)
    assert page.locator(operation).count() >= 10
    assert problems == []
    foreign = [url for url in requested if not url.startswith((live_server.url, "data:", "blob:"))]
    assert foreign == []
    page.close()
