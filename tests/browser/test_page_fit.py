"""The citizen's certificates page, the facility print view and the SMS outbox fit a phone
(390x844) and a desktop (1280x800): nothing is wider than the window, and axe-core finds no
violation of any impact with all its rules (best practices included, not only WCAG AA)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from certdist.services.issuance.demo import DEMO_MOBILE
from tests.browser.conftest import LiveServer, assert_accessible, staff_finds_asha
from tests.support.portal import outbox_reader, sent_count, wait_for_code

VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}


@pytest.fixture(params=list(VIEWPORTS))
def page(request: pytest.FixtureRequest, browser: Any) -> Iterator[Any]:
    context = browser.new_context(
        bypass_csp=True, locale="en-GB", viewport=VIEWPORTS[request.param]
    )
    try:
        yield context.new_page()
    finally:
        context.close()


def assert_fits(page: Any, axe_script: Path, screenshots: Path, name: str) -> None:
    width = page.viewport_size["width"]
    page.screenshot(path=str(screenshots / f"fit-{name}-{width}.png"), full_page=True)
    assert_accessible(page, axe_script, every_rule=True)
    page_width = page.evaluate("() => document.documentElement.scrollWidth")
    # The elements that stick out, to say what to fix.
    wider = page.evaluate(
        "w => [...document.querySelectorAll('body *')]"
        ".filter(e => e.getBoundingClientRect().right > w)"
        ".slice(0, 5).map(e => e.outerHTML.slice(0, 80))",
        width,
    )
    assert page_width <= width, f"{page.url} is {page_width} px wide at {width} px: {wider}"


def log_in(page: Any, server: LiveServer) -> None:
    outbox = server.services.messaging.dev_inbox
    before = sent_count(outbox, DEMO_MOBILE)
    page.goto(server.url + "/portal/login")
    page.get_by_label("Mobile number").fill(DEMO_MOBILE)
    page.get_by_role("button", name="Send code").click()
    code = wait_for_code(outbox_reader(outbox), DEMO_MOBILE, not_before=before)
    page.get_by_label("6-digit code").fill(code)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(server.url + "/portal/certificates")


def test_the_certificates_page_fits(
    page: Any, live_server: LiveServer, axe_script: Path, screenshots: Path
) -> None:
    log_in(page, live_server)
    height = page.evaluate("() => document.documentElement.scrollHeight")
    print(f"certificates page at {page.viewport_size['width']} px: {height} px tall")
    assert_fits(page, axe_script, screenshots, "certificates")
    for summary in page.locator("summary").all():  # every "Other formats" open
        summary.click()
    assert_fits(page, axe_script, screenshots, "certificates-open")


def test_the_certificates_page_fits_in_hindi(
    page: Any, live_server: LiveServer, axe_script: Path, screenshots: Path
) -> None:
    """Hindi's words are longer: the page still fits, with the other formats open."""
    log_in(page, live_server)
    page.context.add_cookies([{"name": "lang", "value": "hi", "url": live_server.url}])
    page.reload()
    for summary in page.locator("summary").all():
        summary.click()
    assert_fits(page, axe_script, screenshots, "certificates-hi")


def test_the_sms_outbox_fits(
    page: Any, live_server: LiveServer, axe_script: Path, screenshots: Path
) -> None:
    log_in(page, live_server)  # so that the outbox holds a message
    page.goto(live_server.url + "/dev/sms")
    assert_fits(page, axe_script, screenshots, "dev-sms")


def test_the_facility_print_view_fits(
    page: Any, live_server: LiveServer, axe_script: Path, screenshots: Path
) -> None:
    staff_finds_asha(page, live_server)
    page.get_by_role("link", name="Vaccination certificate – Asha Devi").click()
    page.get_by_role("heading", name="Vaccination certificate with booster dose").wait_for()
    qr = page.locator(".print-qr svg").bounding_box()
    assert qr["width"] <= page.viewport_size["width"] - 32
    assert_fits(page, axe_script, screenshots, "facility-print")
