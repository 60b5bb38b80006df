"""The SMART Health Link viewer in Chromium, under the page's real Content-Security-Policy:
a link made in the portal, opened in a fresh browser at the viewer address, asks for the
passcode, counts down wrong ones, shows the holder and "verified" (the card's ES256
signature checked in the browser against the issuer's JWKS), in English and Hindi; and no
request the viewer makes carries the link's key."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from playwright.sync_api import expect

from certdist.services.issuance.demo import DEMO_MOBILE
from certdist.web.i18n import Catalogs
from tests.browser.conftest import LiveServer, log_in
from tests.browser.test_page_fit import PHONE


def make_health_link(page: Any, server: LiveServer, lang: str, passcode: str) -> str:
    """Logs in, makes a SMART Health Link to Asha Devi's certificate in ``lang`` and
    answers the viewer address shown."""
    log_in(page, server)
    page.context.add_cookies([{"name": "lang", "value": lang, "url": server.url}])
    [record] = server.services.database.certificates().for_beneficiary("DEMO0001")[-1:]
    page.goto(f"{server.url}/portal/certificates/{record.certificate_id}/shl")
    t = Catalogs().translations(lang).gettext
    page.get_by_label(t("Passcode (optional)")).fill(passcode)
    page.get_by_role("button", name=t("Make the link")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(t("SMART Health Link made"))
    url: str = page.locator("#shl-viewer-url").input_value()
    assert url.startswith(server.url + "/shl#shlink:/")
    return url


def key_of(viewer_url: str) -> str:
    encoded = viewer_url.split("#shlink:/", 1)[1]
    payload = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    key: str = payload["key"]
    return key


@pytest.mark.parametrize("lang", ["en", "hi"])
def test_the_viewer_opens_a_portal_link_with_its_passcode(
    live_server: LiveServer, browser: Any, contexts: list[Any], lang: str
) -> None:
    t = Catalogs().translations(lang).gettext
    contexts.append(owner := browser.new_context(viewport=PHONE))
    viewer_url = make_health_link(owner.new_page(), live_server, lang, "tiger-42")
    key = key_of(viewer_url)

    # A fresh browser, with the page's own policy (no bypass_csp): what a recipient has.
    contexts.append(fresh := browser.new_context(viewport=PHONE))
    fresh.add_cookies([{"name": "lang", "value": lang, "url": live_server.url}])
    page = fresh.new_page()
    requests: list[str] = []
    problems: list[str] = []
    page.on("request", lambda r: requests.append(f"{r.method} {r.url} {r.post_data or ''}"))
    # The browser logs each 401 of a wrong passcode; anything else (a CSP refusal, a script
    # error) is a problem.
    page.on(
        "console",
        lambda m: (
            problems.append(m.text) if m.type == "error" and "status of 401" not in m.text else None
        ),
    )
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(viewer_url)

    passcode = page.get_by_label(t("Passcode"), exact=True)
    expect(passcode).to_be_visible()
    passcode.fill("lion-42")
    page.get_by_role("button", name=t("Show the certificate")).click()
    wrong = t("Wrong passcode. Attempts left before the link is locked: %(count)s.")
    expect(page.get_by_role("alert")).to_have_text(wrong % {"count": 4})
    passcode.fill("lion-43")
    page.get_by_role("button", name=t("Show the certificate")).click()
    expect(page.get_by_role("alert")).to_have_text(wrong % {"count": 3})

    passcode.fill("tiger-42")
    page.get_by_role("button", name=t("Show the certificate")).click()
    expect(page.locator("#shl-card")).to_be_visible()
    expect(page.locator("#shl-name")).to_have_text("Asha Devi")
    expect(page.locator("#shl-verdict")).to_have_text(
        t("Verified: the signature is genuine and made by the issuer shown.")
    )
    expect(page.locator("#shl-issuer")).to_have_text(live_server.url)
    assert page.locator("#shl-vaccinations li").count() == 3
    assert not problems, problems  # no CSP refusal, no script error

    encoded = viewer_url.split("#", 1)[1]
    assert not [r for r in requests if key in r or encoded.removeprefix("shlink:/") in r]
    assert any(r.startswith("POST " + live_server.url + "/shl/") for r in requests)
    # The owner reads who opened it.
    listing = owner.pages[0]
    listing.goto(live_server.url + "/portal/shares")
    expect(listing.locator("main")).to_contain_text("certdist viewer")


def test_a_withdrawn_link_and_a_damaged_key_say_so(
    live_server: LiveServer, browser: Any, contexts: list[Any]
) -> None:
    t = Catalogs().translations("en").gettext
    contexts.append(owner := browser.new_context(viewport=PHONE))
    viewer_url = make_health_link(owner.new_page(), live_server, "en", "tiger-42")

    # The key changed (a link copied wrong): the manifest comes, the files do not decrypt.
    encoded = viewer_url.split("#shlink:/", 1)[1]
    payload = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    payload["key"] = base64.urlsafe_b64encode(bytes(32)).decode().rstrip("=")
    damaged = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    contexts.append(fresh := browser.new_context(viewport=PHONE))
    page = fresh.new_page()
    page.goto(f"{live_server.url}/shl#shlink:/{damaged}")
    page.get_by_label(t("Passcode"), exact=True).fill("tiger-42")
    page.get_by_role("button", name=t("Show the certificate")).click()
    expect(page.get_by_role("alert")).to_have_text(
        t("The certificate could not be decrypted. The link may be damaged or incomplete.")
    )

    owner_page = owner.pages[0]
    owner_page.goto(live_server.url + "/portal/shares")
    owner_page.locator("form[action$='/revoke'] [type=submit]").first.click()
    owner_page.wait_for_url(live_server.url + "/portal/shares")
    page.goto(viewer_url)
    page.reload()
    page.get_by_label(t("Passcode"), exact=True).fill("tiger-42")
    page.get_by_role("button", name=t("Show the certificate")).click()
    expect(page.get_by_role("alert")).to_have_text(
        t(
            "This link no longer works: it has expired, was withdrawn, or was locked after"
            " too many wrong passcodes."
        )
    )


def test_a_link_that_is_not_one_is_refused(live_server: LiveServer, browser: Any) -> None:
    t = Catalogs().translations("en").gettext
    context = browser.new_context(viewport=PHONE)
    try:
        page = context.new_page()
        page.goto(live_server.url + "/shl#shlink:/bm90IGpzb24")
        expect(page.get_by_role("alert")).to_have_text(
            t("This is not a valid SMART Health Link. Check that you copied all of it.")
        )
        pasted = page.get_by_label(t("SMART Health Link"), exact=True)
        expect(pasted).to_be_visible()
        expect(page.get_by_label(t("Passcode"), exact=True)).to_be_hidden()

        # A whole viewer address pasted (the specification's https://…/shl#shlink:/… form).
        links = live_server.services.sharing.health_links
        [record] = live_server.services.database.certificates().for_beneficiary("DEMO0001")[-1:]
        created = links.create(DEMO_MOBILE, record.certificate_id, flags="P", passcode="tiger-42")
        pasted.fill(links.viewer_url(created.uri))
        page.get_by_role("button", name=t("Open"), exact=True).click()
        expect(page.get_by_label(t("Passcode"), exact=True)).to_be_visible()
        expect(page.get_by_role("alert")).to_be_hidden()
    finally:
        context.close()
