"""Sharing a certificate from a phone (390x844, Chromium): the "Share link made" page's Copy
link and Share… buttons (static/share.js), its SMS and e-mail links and large QR code without
JavaScript, the expiry in the reader's time zone, and every share page fitting a phone and a
desktop with no axe-core violation of any rule, in English and Hindi, for the owner and for
the recipient who opens the link in another browser."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from certdist.services.common import format_moment
from certdist.services.issuance.demo import DEMO_MOBILE
from certdist.web.i18n import Catalogs
from tests.browser.conftest import LiveServer, fit_problems, log_in, screenshot
from tests.browser.test_page_fit import DESKTOP, PHONE

NEW_YORK = ZoneInfo("America/New_York")

#: Installed before the page's scripts: a Web Share API that records what it was asked to
#: share; the first call is cancelled by the person (AbortError), the second succeeds.
SHARE_STUB = """
window.__shared = [];
navigator.share = function (data) {
  window.__shared.push(data);
  return window.__shared.length === 1
    ? Promise.reject(new DOMException("cancelled", "AbortError"))
    : Promise.resolve();
};
"""
#: Every text the live region is given, in order (to see that nothing else was announced).
STATUS_RECORDER = """
window.__announced = [];
document.addEventListener("DOMContentLoaded", function () {
  var status = document.getElementById("share-status");
  new MutationObserver(function () {
    if (status.textContent) { window.__announced.push(status.textContent); }
  }).observe(status, {childList: true, characterData: true, subtree: true});
});
"""

ContextFactory = Callable[..., Any]


@pytest.fixture
def new_context(browser: Any) -> Iterator[ContextFactory]:
    """Browser contexts at phone size (``bypass_csp`` only so that axe can be injected),
    closed after the test."""
    contexts: list[Any] = []

    def make(**options: Any) -> Any:
        settings = {"bypass_csp": True, "locale": "en-US", "viewport": PHONE, **options}
        context = browser.new_context(**settings)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


def make_link(page: Any, server: LiveServer, lang: str = "en", passcode: str = "") -> str:
    """Logs in, makes a share link to the first certificate (Asha Devi's) in ``lang`` and
    answers its URL; the page is left on "Share link made"."""
    log_in(page, server)
    page.context.add_cookies([{"name": "lang", "value": lang, "url": server.url}])
    share_form = page.locator('a[href$="/share"]').first.get_attribute("href")
    page.goto(server.url + share_form)
    t = Catalogs().translations(lang).gettext
    if passcode:
        page.get_by_label(t("Passcode (optional)")).fill(passcode)
    page.get_by_role("button", name=t("Make the link")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(t("Share link made"))
    url: str = page.locator("#share-url").input_value()
    assert url.startswith(server.url + "/s/")
    return url


def expiry_of(server: LiveServer) -> datetime:
    [overview] = server.services.sharing.links.links_of(DEMO_MOBILE)
    expires = overview.link.expires_at
    return expires if expires.tzinfo else expires.replace(tzinfo=UTC)


def test_copy_link_puts_the_exact_url_on_the_clipboard(
    live_server: LiveServer, new_context: ContextFactory
) -> None:
    context = new_context(permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    url = make_link(page, live_server)
    page.evaluate("() => navigator.clipboard.writeText('not the link')")
    status = page.get_by_role("status")
    expect(status).to_have_text("")

    page.get_by_role("button", name="Copy link").click()
    expect(status).to_have_text("Link copied")
    assert page.evaluate("() => navigator.clipboard.readText()") == url


def test_without_the_clipboard_api_the_field_is_copied_by_selection(
    live_server: LiveServer, new_context: ContextFactory
) -> None:
    """The fallback: the field's text selected and document.execCommand("copy")."""
    context = new_context(permissions=["clipboard-read", "clipboard-write"])
    # The pages of the share form (and its answer, "Share link made") have no Clipboard API.
    context.add_init_script(
        "if (location.pathname.endsWith('/share')) {"
        " Object.defineProperty(Navigator.prototype, 'clipboard', {get: () => undefined}); }"
    )
    page = context.new_page()
    url = make_link(page, live_server)
    assert page.evaluate("() => navigator.clipboard") is None
    reader = context.new_page()  # a page with the Clipboard API, to read it back
    reader.goto(live_server.url + "/portal/shares")
    reader.evaluate("() => navigator.clipboard.writeText('not the link')")

    page.get_by_role("button", name="Copy link").click()
    expect(page.get_by_role("status")).to_have_text("Link copied")
    assert reader.evaluate("() => navigator.clipboard.readText()") == url


def test_share_hands_the_link_to_the_web_share_api(
    live_server: LiveServer, new_context: ContextFactory
) -> None:
    context = new_context()
    context.add_init_script(SHARE_STUB)
    context.add_init_script(STATUS_RECORDER)
    page = context.new_page()
    url = make_link(page, live_server)
    share = page.get_by_role("button", name="Share…")

    share.click()  # cancelled by the person: no message
    page.wait_for_function("() => window.__shared.length === 1")
    share.click()
    page.wait_for_function("() => window.__shared.length === 2")
    assert (
        page.evaluate("() => window.__shared")
        == [
            {
                "title": "My vaccination certificate",
                "text": "Here is the link to my vaccination certificate:",
                "url": url,
            }
        ]
        * 2
    )
    page.get_by_role("button", name="Copy link").click()
    expect(page.get_by_role("status")).to_have_text("Link copied")
    assert page.evaluate("() => window.__announced") == ["Link copied"]


def test_share_is_hidden_where_the_browser_cannot_share(
    live_server: LiveServer, new_context: ContextFactory
) -> None:
    page = new_context().new_page()
    make_link(page, live_server)
    assert page.evaluate("() => typeof navigator.share") == "undefined"  # headless Chromium
    expect(page.get_by_role("button", name="Copy link")).to_be_visible()  # the script ran
    expect(page.locator("#share-link")).to_be_hidden()


@pytest.mark.parametrize("lang", ["en", "hi"])
def test_the_expiry_is_in_the_browsers_time_zone(
    live_server: LiveServer, new_context: ContextFactory, lang: str
) -> None:
    page = new_context(timezone_id="America/New_York").new_page()
    make_link(page, live_server, lang)
    expires = expiry_of(live_server)
    served = format_moment(expires, lang, live_server.services.settings.site.time_zone)
    moment = page.locator("time[data-local-time]")
    expect(moment).not_to_have_text(served)  # local-time.js rewrote it
    in_new_york = expires.astimezone(NEW_YORK)
    text = moment.inner_text()
    assert f"{in_new_york:%-I:%M}" in text, text
    assert str(in_new_york.day) in text, text
    assert any(zone in text for zone in ("EST", "EDT", "GMT-5", "GMT-4")), text


@pytest.mark.parametrize("lang", ["en", "hi"])
def test_without_javascript_the_links_work_and_no_button_shows(
    live_server: LiveServer, new_context: ContextFactory, lang: str
) -> None:
    context = new_context(java_script_enabled=False, timezone_id="America/New_York")
    page = context.new_page()
    url = make_link(page, live_server, lang)
    t = Catalogs().translations(lang).gettext
    expires = expiry_of(live_server)
    # The server's zone (Asia/Kolkata unless display_time_zone says otherwise), named.
    served = format_moment(expires, lang, live_server.services.settings.site.time_zone)
    expect(page.locator("time[data-local-time]")).to_have_text(served)

    for button in page.locator(".share-actions button").all():
        expect(button).to_be_hidden()
    assert page.get_by_role("button").count() == 1  # only the header's log-out
    sms = page.get_by_role("link", name=t("Send by SMS"), exact=True)
    mail = page.get_by_role("link", name=t("Send by e-mail"), exact=True)
    expect(sms).to_be_visible()
    expect(mail).to_be_visible()
    encoded = url.replace(":", "%3A").replace("/", "%2F")
    assert encoded in (sms.get_attribute("href") or "")
    assert encoded in (mail.get_attribute("href") or "")
    field = page.get_by_label(t("Share link"), exact=True)
    expect(field).to_have_value(url)

    # The large QR code opens as an anchor target: the width of the phone, less the margins.
    large = page.get_by_role(
        "img", name=t("QR code of the share link, large, for another phone to scan")
    )
    expect(large).to_be_hidden()
    page.get_by_role("link", name=t("Show the QR code large")).click()
    expect(large).to_be_visible()
    box = large.bounding_box()
    assert PHONE["width"] - 40 <= box["width"] <= PHONE["width"] - 32 + 1, box
    page.get_by_role("link", name=t("Show the QR code small again")).click()
    expect(large).to_be_hidden()


@pytest.mark.parametrize("lang", ["en", "hi"])
def test_every_share_page_fits_a_phone_and_a_desktop(
    live_server: LiveServer,
    new_context: ContextFactory,
    axe_script: Path,
    screenshots: Path,
    lang: str,
) -> None:
    """The owner's pages and the recipient's (another browser), each at both sizes: nothing
    wider than the window, no axe-core violation of any rule."""
    owner = new_context().new_page()
    t = Catalogs().translations(lang).gettext

    def fits(page: Any, name: str) -> None:
        for size in (PHONE, DESKTOP):
            page.set_viewport_size(size)
            screenshot(page, screenshots, f"share-{name}", lang)
            problems = fit_problems(page, axe_script)
            assert not problems, f"share-{name} ({lang}, {size['width']} px): {problems}"
        page.set_viewport_size(PHONE)

    url = make_link(owner, live_server, lang, passcode="tiger-42")
    share_form = owner.url  # the form posts to its own address
    fits(owner, "created")
    owner.get_by_role("link", name=t("Show the QR code large")).click()
    fits(owner, "created-qr-large")
    owner.get_by_role("link", name=t("Your share links")).click()
    owner.wait_for_url(live_server.url + "/portal/shares")
    fits(owner, "links")
    owner.goto(share_form)
    fits(owner, "create")

    recipient = new_context(timezone_id="America/New_York").new_page()
    recipient.context.add_cookies([{"name": "lang", "value": lang, "url": live_server.url}])
    recipient.goto(url)
    fits(recipient, "passcode")
    recipient.get_by_label(t("Passcode"), exact=True).fill("tiger-42")
    recipient.get_by_role("button", name=t("Open")).click()
    expect(recipient.get_by_role("heading", level=1)).to_have_text(t("Shared certificate"))
    fits(recipient, "view")
    recipient.locator("summary").click()  # the link's own QR code, to pass it on
    fits(recipient, "view-pass-on")
