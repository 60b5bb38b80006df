"""Every page of the product fits a phone (390x844) and a desktop (1280x800): nothing is
wider than the window (``scrollWidth <= innerWidth``; the elements that stick out are named),
axe-core finds no violation of any impact with all its rules (best practices included, not
only WCAG AA), and a full-page screenshot of each is kept (``<page>-<lang>-<width>.png``).

The portal, share, verifier and facility pages are walked in English and Hindi. Each walk
records the routes its pages came from and must cover exactly the routes it names in
:data:`SWEPT`; :func:`test_every_page_route_is_swept` fails when a GET page route of the app
is neither swept nor on :data:`NOT_SWEPT` (redirects, downloads), so a new page cannot slip
past the sweep.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from certdist.services.issuance.demo import DEMO_MOBILE
from certdist.web.app import create_app
from tests.browser.conftest import (
    LiveServer,
    fit_problems,
    log_in,
    page_height,
    qr_photo,
    screenshot,
)
from tests.support.portal import outbox_reader, sent_count, wait_for_code
from tests.support.routes import browser_routes, leaf_routes
from tests.support.services import ServicesFactory

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
LANGS = ["en", "hi"]

#: The GET routes each walk below shows a page of (``METHOD path``; pages shown after a
#: form post count under their POST route).
SWEPT: dict[str, set[str]] = {
    "portal": {
        "GET /",
        "GET /portal/login",
        "POST /portal/login",
        "GET /portal/verify",
        "POST /portal/verify",
        "GET /portal/certificates",
        "GET /portal/certificates/{certificate_id}/print",
        "GET /portal/certificates/{certificate_id}/qr",
        "GET /portal/certificates/{certificate_id}/eu-dcc",
        "POST /portal/certificates/{certificate_id}/eu-dcc",
        "GET /dev/sms",
    },
    "confirm": {
        "GET /portal/certificates",
        "GET /portal/certificates/{certificate_id}/confirm",
        "POST /portal/certificates/{certificate_id}/confirm",
    },
    "share": {
        "GET /portal/certificates/{certificate_id}/share",
        "POST /portal/certificates/{certificate_id}/share",
        "POST /portal/certificates/{certificate_id}/email",
        "GET /portal/shares",
        "GET /s/{token}",
        "POST /s/{token}",
    },
    "health-link": {
        "GET /portal/certificates/{certificate_id}/shl",
        "POST /portal/certificates/{certificate_id}/shl",
        "GET /shl",
    },
    "wallet": {
        "GET /portal/certificates/{certificate_id}/wallet",
        "POST /portal/certificates/{certificate_id}/wallet",
    },
    "verifier": {"GET /verify", "POST /verify/result"},
    "facility": {
        "GET /facility",
        "POST /facility/login/local",
        "POST /facility/search",
        "GET /facility/certificates/{pre_enrollment_code}",
        "GET /facility/certificates/{pre_enrollment_code}/test",
    },
}

#: GET routes without a page of their own to sweep, and why.
NOT_SWEPT = {
    # Prometheus text for the operator's scraper, behind its token; no page.
    "GET /metrics",
    # Redirect only: sets the language cookie and goes back (every page shows the switch).
    "GET /language/{code}",
    # Redirect only: a reload of a result goes back to the form (results are not stored).
    "GET /verify/result",
    # Redirects to the sign-in provider and back; their failures are the error page.
    "GET /facility/login/oidc",
    "GET /facility/oidc/callback",
    # Downloads (PDF, PNG, JSON); a Devanagari name's EU certificate redirects to the
    # eu-dcc page, swept.
    "GET /portal/certificates/{certificate_id}/download/{format_name}",
    "GET /facility/certificates/{pre_enrollment_code}/pdf",
    "GET /facility/certificates/{pre_enrollment_code}/test/pdf",
    "GET /s/{token}/certificate.pdf",
    "GET /s/{token}/qr.png",
    "GET /s/{token}/link.png",
    # Third-party UIs (Swagger UI, ReDoc), rendered and checked by test_api_docs.py.
    "GET /docs",
    "GET /redoc",
    # JSON, not a page.
    "GET /openapi.json",
}


def page_routes(app: Any) -> set[str]:
    """``GET path`` of every route that may answer a browser with a page."""
    return {f"GET {path}" for method, path in browser_routes(app) if method == "GET"}


def test_every_page_route_is_swept(make_sqlite_services: ServicesFactory) -> None:
    services = make_sqlite_services()
    routes = page_routes(create_app(services.settings, services=services))
    assert "GET /portal/certificates" in routes  # the listing works at all
    swept = set().union(*SWEPT.values())
    assert routes - swept - NOT_SWEPT == set(), "add these pages to a walk, or to NOT_SWEPT"
    stale = {route for route in swept | NOT_SWEPT if route.startswith("GET ")} - routes
    assert stale == set(), "these routes are gone"


class Sweep:
    """A walk through pages in one language: :meth:`check` photographs the page at both
    widths and collects what axe-core and the width check find; :meth:`done` fails with
    all of it at once, and when the walk's routes are not the ones :data:`SWEPT` names."""

    def __init__(self, server: LiveServer, axe_script: Path, screenshots: Path, lang: str):
        self.server = server
        self.axe_script = axe_script
        self.screenshots = screenshots
        self.lang = lang
        self.routes: set[str] = set()
        self.problems: list[str] = []
        self.checked: list[str] = []
        self.heights: dict[str, int] = {}
        self._last: dict[Any, str] = {}

    def context(self, browser: Any) -> Any:
        """A context at phone size, in the walk's language; bypass_csp lets axe in."""
        context = browser.new_context(bypass_csp=True, locale="en-GB", viewport=PHONE)
        context.add_cookies([{"name": "lang", "value": self.lang, "url": self.server.url}])
        return context

    def page(self, context: Any) -> Any:
        page = context.new_page()

        def on_response(response: Any) -> None:
            request = response.request
            navigation = request.is_navigation_request() and response.frame == page.main_frame
            if navigation and not 300 <= response.status < 400:  # where redirects end
                self._last[page] = f"{request.method} {request.url}"

        page.on("response", on_response)
        return page

    def url(self, path: str) -> str:
        return self.server.url + path

    def _route(self, page: Any) -> str | None:
        method, url = self._last[page].split(" ", 1)
        path = url.removeprefix(self.server.url).split("?")[0]
        for route in leaf_routes(self.server.app.routes):
            regex = getattr(route, "path_regex", None)
            methods = getattr(route, "methods", None) or set()
            if method in methods and regex is not None and regex.match(path):
                return f"{method} {route.path}"
        return None  # a 404 for an address no route has

    def check(self, page: Any, name: str) -> None:
        assert name not in self.checked, name
        assert page.locator("html").get_attribute("lang") == self.lang, f"{name}: language"
        self.checked.append(name)
        route = self._route(page)
        if route:
            self.routes.add(route)
        for size in (PHONE, DESKTOP):
            page.set_viewport_size(size)
            if size is PHONE:
                self.heights[name] = page_height(page)
            screenshot(page, self.screenshots, name, self.lang)
            self.problems += [
                f"{name} ({size['width']} px, {page.url}): {problem}"
                for problem in fit_problems(page, self.axe_script)
            ]
        page.set_viewport_size(PHONE)

    def done(self, area: str) -> None:
        print(f"\npage heights at {PHONE['width']} px ({area}, {self.lang}):")
        for name, height in self.heights.items():
            print(f"  {name:28} {height:5} px")
        assert not self.problems, "\n".join(self.problems)
        assert self.routes == SWEPT[area]


@pytest.fixture
def sweep(
    request: pytest.FixtureRequest, live_server: LiveServer, axe_script: Path, screenshots: Path
) -> Sweep:
    return Sweep(live_server, axe_script, screenshots, request.param)


def submit(page: Any, action: str) -> int:
    """Sends the form that posts to ``action`` with its (first) submit button; the status
    of the page that comes back (after redirects)."""
    with page.expect_navigation() as navigation:
        page.locator(f"form[action='{action}'] [type=submit]").first.click()
    status: int = navigation.value.status
    return status


def certificate_ids(server: LiveServer, code: str) -> str:
    records = server.services.database.certificates().for_beneficiary(code)
    return str(records[0].certificate_id)


@pytest.mark.parametrize("sweep", LANGS, indirect=True)
def test_the_portal_pages_fit(sweep: Sweep, browser: Any, contexts: list[Any]) -> None:
    contexts.append(context := sweep.context(browser))
    page = sweep.page(context)
    page.goto(sweep.url("/"))
    sweep.check(page, "home")

    page.goto(sweep.url("/portal/login"))
    sweep.check(page, "login")
    page.locator("input[name=mobile]").fill("12ab")
    submit(page, "/portal/login")
    assert page.get_by_role("alert").is_visible()
    sweep.check(page, "login-error")

    outbox = sweep.server.services.messaging.dev_inbox
    before = sent_count(outbox, DEMO_MOBILE)
    page.locator("input[name=mobile]").fill(DEMO_MOBILE)
    submit(page, "/portal/login")
    page.wait_for_url(sweep.url("/portal/verify"))
    sweep.check(page, "code")
    code = wait_for_code(outbox_reader(outbox), DEMO_MOBILE, not_before=before)
    page.locator("input[name=code]").fill("000000" if code != "000000" else "111111")
    submit(page, "/portal/verify")
    assert page.get_by_role("alert").is_visible()
    sweep.check(page, "code-error")
    page.locator("input[name=code]").fill(code)
    submit(page, "/portal/verify")
    page.wait_for_url(sweep.url("/portal/certificates"))
    sweep.check(page, "certificates")
    for summary in page.locator("summary").all():  # every "Other formats" open
        summary.click()
    assert page.locator("details[open]").count() == 3
    sweep.check(page, "certificates-open")

    base = f"/portal/certificates/{certificate_ids(sweep.server, 'DEMO0001')}"
    page.goto(sweep.url(base + "/print"))
    qr = page.locator(".print-qr, main img").first.bounding_box()
    assert qr is not None
    assert qr["width"] <= PHONE["width"] - 32
    sweep.check(page, "print")
    page.goto(sweep.url(base + "/qr"))
    sweep.check(page, "qr-only")

    # A name in Devanagari: the EU certificate asks for the passport names.
    priya = f"/portal/certificates/{certificate_ids(sweep.server, 'DEMO0003')}"
    page.goto(sweep.url(priya + "/download/eu-dcc"))
    page.wait_for_url("**/eu-dcc?pdf=0")
    sweep.check(page, "eu-dcc-names")
    page.locator("input[name=surname]").fill("शर्मा")
    submit(page, priya + "/eu-dcc")
    assert page.get_by_role("alert").is_visible()
    sweep.check(page, "eu-dcc-names-error")

    missing = page.goto(sweep.url("/portal/certificates/000000000000/print"))
    assert missing is not None
    assert missing.status == 404
    sweep.check(page, "not-found")
    missing = page.goto(sweep.url("/no/such/page"))
    assert missing is not None
    assert missing.status == 404
    sweep.check(page, "not-found-unrouted")

    page.goto(sweep.url("/dev/sms"))
    sweep.check(page, "dev-sms")

    page.goto(sweep.url("/portal/certificates"))
    submit(page, "/portal/logout")
    page.wait_for_url(sweep.url("/?logged_out=1"))
    assert page.get_by_role("status").is_visible()
    sweep.check(page, "logged-out")
    sweep.done("portal")


@pytest.mark.parametrize("live_server", [{"portal": {"require_birth_year": True}}], indirect=True)
@pytest.mark.parametrize("sweep", LANGS, indirect=True)
def test_the_year_of_birth_pages_fit(sweep: Sweep, browser: Any, contexts: list[Any]) -> None:
    contexts.append(context := sweep.context(browser))
    page = sweep.page(context)
    log_in(page, sweep.server)
    sweep.check(page, "certificates-locked")
    confirm = f"/portal/certificates/{certificate_ids(sweep.server, 'DEMO0002')}/confirm"
    page.goto(sweep.url(confirm))
    sweep.check(page, "confirm")
    page.locator("input[name=year]").fill("1966")
    submit(page, confirm)
    assert page.get_by_role("alert").is_visible()
    sweep.check(page, "confirm-error")
    sweep.done("confirm")


@pytest.mark.parametrize("sweep", LANGS, indirect=True)
def test_the_share_pages_fit(sweep: Sweep, browser: Any, contexts: list[Any]) -> None:
    contexts.append(owner := sweep.context(browser))
    page = sweep.page(owner)
    log_in(page, sweep.server)
    page.goto(sweep.url("/portal/shares"))
    sweep.check(page, "share-links-none")

    share = f"/portal/certificates/{certificate_ids(sweep.server, 'DEMO0001')}"
    page.goto(sweep.url(share + "/share"))
    sweep.check(page, "share-create")
    page.locator("input[name=passcode]").fill("12")
    submit(page, share + "/share")
    assert page.get_by_role("alert").is_visible()
    sweep.check(page, "share-create-error")
    page.locator("input[name=to]").fill("not an address")
    submit(page, share + "/email")
    assert page.get_by_role("alert").is_visible()
    sweep.check(page, "share-email-error")
    page.locator("input[name=to]").fill("friend@example.org")
    submit(page, share + "/email")
    page.wait_for_url("**/share?sent=1")
    assert page.get_by_role("status").is_visible()
    sweep.check(page, "share-email-sent")

    # A link with a passcode, opened by someone else (a fresh context).
    page.locator("input[name=passcode]").fill("sesame")
    submit(page, share + "/share")
    sweep.check(page, "share-made")
    link = page.locator("#share-url").input_value()
    contexts.append(visitor_context := sweep.context(browser))
    visitor = sweep.page(visitor_context)
    visitor.goto(link)
    sweep.check(visitor, "share-passcode")
    visitor.locator("input[name=passcode]").fill("wrong")
    submit(visitor, link.removeprefix(sweep.server.url))
    assert visitor.get_by_role("alert").is_visible()
    sweep.check(visitor, "share-passcode-wrong")
    visitor.locator("input[name=passcode]").fill("sesame")
    submit(visitor, link.removeprefix(sweep.server.url))
    visitor.wait_for_url(link)
    sweep.check(visitor, "share-view")

    # A link to the QR code only, without a passcode.
    page.goto(sweep.url(share + "/share"))
    page.locator("input[name=kind][value=qr-only]").check()
    submit(page, share + "/share")
    qr_link = page.locator("#share-url").input_value()
    visitor.goto(qr_link)
    sweep.check(visitor, "share-view-qr-only")

    page.goto(sweep.url("/portal/shares"))
    assert page.locator("table").count() >= 1  # the access log of the first link
    sweep.check(page, "share-links")
    withdraw = page.locator("form[action$='/revoke'] [type=submit]")
    assert withdraw.count() == 2
    while withdraw.count():
        with page.expect_navigation(url=sweep.url("/portal/shares")):
            withdraw.first.click()
    sweep.check(page, "share-links-withdrawn")
    gone = visitor.goto(link)
    assert gone is not None
    assert gone.status == 404
    sweep.check(visitor, "share-gone")
    sweep.done("share")


@pytest.mark.parametrize("sweep", LANGS, indirect=True)
def test_the_smart_health_link_pages_fit(sweep: Sweep, browser: Any, contexts: list[Any]) -> None:
    """The portal's SMART Health Link form (and its error), the page of the made link, and
    the viewer in another browser: asking for the passcode, a wrong one, the card, and the
    viewer opened without a link."""
    contexts.append(owner := sweep.context(browser))
    page = sweep.page(owner)
    log_in(page, sweep.server)
    shl = f"/portal/certificates/{certificate_ids(sweep.server, 'DEMO0001')}/shl"
    page.goto(sweep.url(shl))
    sweep.check(page, "shl-create")
    page.locator("input[name=passcode]").fill("12")
    submit(page, shl)
    assert page.get_by_role("alert").is_visible()
    sweep.check(page, "shl-create-error")
    page.locator("input[name=passcode]").fill("sesame")
    page.locator("input[name=label]").fill("Asha, for the clinic")
    submit(page, shl)
    sweep.check(page, "shl-made")
    viewer_url = page.locator("#shl-viewer-url").input_value()

    contexts.append(viewer_context := sweep.context(browser))
    viewer = sweep.page(viewer_context)
    viewer.goto(viewer_url)
    passcode = viewer.locator("#shl-passcode")
    passcode.wait_for()
    sweep.check(viewer, "shl-viewer-passcode")
    passcode.fill("wrong")
    viewer.locator("#shl-open [type=submit]").click()
    viewer.locator("#shl-error").wait_for()
    sweep.check(viewer, "shl-viewer-wrong")
    passcode.fill("sesame")
    viewer.locator("#shl-open [type=submit]").click()
    viewer.locator("#shl-card").wait_for()
    assert viewer.locator("#shl-verdict").get_attribute("data-verdict") == "verified"
    sweep.check(viewer, "shl-viewer-card")
    viewer.goto(sweep.url("/shl"))
    viewer.locator("#shl-paste").wait_for()
    sweep.check(viewer, "shl-viewer-empty")
    sweep.done("health-link")


@pytest.mark.parametrize("sweep", LANGS, indirect=True)
def test_the_wallet_offer_pages_fit(sweep: Sweep, browser: Any, contexts: list[Any]) -> None:
    contexts.append(owner := sweep.context(browser))
    page = sweep.page(owner)
    log_in(page, sweep.server)
    wallet = f"/portal/certificates/{certificate_ids(sweep.server, 'DEMO0001')}/wallet"
    page.goto(sweep.url(wallet))
    sweep.check(page, "wallet-offer")
    assert submit(page, wallet) == 200
    assert page.locator("#wallet-offer-qr").is_visible()
    sweep.check(page, "wallet-offer-made")
    sweep.done("wallet")


@pytest.mark.parametrize("sweep", LANGS, indirect=True)
def test_the_verifier_pages_fit(
    sweep: Sweep, browser: Any, contexts: list[Any], tmp_path: Path
) -> None:
    photo = qr_photo(sweep.server, tmp_path)
    contexts.append(context := sweep.context(browser))
    page = sweep.page(context)
    page.goto(sweep.url("/verify"))
    sweep.check(page, "verify")
    submit(page, "/verify/result")  # nothing chosen
    assert page.get_by_role("alert").is_visible()
    sweep.check(page, "verify-error")

    # The form posts itself (its script only adds the camera): the no-JavaScript path.
    page.goto(sweep.url("/verify"))
    page.locator("input[type=file]").set_input_files(str(photo))
    submit(page, "/verify/result")
    page.wait_for_url(sweep.url("/verify/result"))
    assert "outcome-valid" in (page.locator(".outcome").get_attribute("class") or "")
    sweep.check(page, "verify-valid")

    sweep.server.services.issuance.certificates.revoke("BEN0001", None, reason="in error")
    page.goto(sweep.url("/verify"))
    page.locator("input[type=file]").set_input_files(str(photo))
    submit(page, "/verify/result")
    page.wait_for_url(sweep.url("/verify/result"))
    assert "outcome-valid" not in (page.locator(".outcome").get_attribute("class") or "")
    sweep.check(page, "verify-not-valid")
    sweep.done("verifier")


@pytest.mark.parametrize("sweep", LANGS, indirect=True)
def test_the_facility_pages_fit(sweep: Sweep, browser: Any, contexts: list[Any]) -> None:
    contexts.append(context := sweep.context(browser))
    page = sweep.page(context)
    page.goto(sweep.url("/facility"))
    sweep.check(page, "facility-login")
    page.locator("input[name=username]").fill("nurse-7")
    page.locator("input[name=password]").fill("wrong")
    submit(page, "/facility/login/local")
    assert page.get_by_role("alert").is_visible()
    sweep.check(page, "facility-login-error")
    page.locator("input[name=password]").fill("certdist-demo")
    submit(page, "/facility/login/local")
    page.wait_for_url(sweep.url("/facility"))
    sweep.check(page, "facility-search")
    page.locator("input[name=mobile]").fill(DEMO_MOBILE)
    page.locator("input[name=dob]").fill("1968-03-14")
    submit(page, "/facility/search")
    assert page.get_by_role("status").is_visible()
    sweep.check(page, "facility-results")
    page.locator("a[href='/facility/certificates/DEMO0001']").click()
    page.wait_for_url(sweep.url("/facility/certificates/DEMO0001"))
    qr = page.locator(".print-qr svg").bounding_box()
    assert qr is not None
    assert qr["width"] <= PHONE["width"] - 32
    sweep.check(page, "facility-print")
    # Asha Devi has no test certificate: the page says what is missing.
    page.goto(sweep.url("/facility/certificates/DEMO0001/test"))
    sweep.check(page, "facility-not-held")
    submit(page, "/facility/logout")
    sweep.check(page, "facility-logged-out")
    sweep.done("facility")


@pytest.mark.parametrize("live_server", [{"verifier": {"requests_per_minute": 1}}], indirect=True)
@pytest.mark.parametrize("sweep", ["en"], indirect=True)
def test_the_too_many_attempts_page_fits(sweep: Sweep, browser: Any, contexts: list[Any]) -> None:
    contexts.append(context := sweep.context(browser))
    page = sweep.page(context)
    page.goto(sweep.url("/verify"))
    assert submit(page, "/verify/result") == 400  # the one attempt of the minute
    page.goto(sweep.url("/verify"))
    assert submit(page, "/verify/result") == 429
    sweep.check(page, "too-many-attempts")
    sweep.heights.clear()
    assert not sweep.problems, "\n".join(sweep.problems)


def test_the_checks_catch_a_page_that_does_not_fit(
    live_server: LiveServer, browser: Any, axe_script: Path
) -> None:
    """The sweep can fail: a field without a label and a box wider than the window are
    found, and the box is named."""
    context = browser.new_context(bypass_csp=True, viewport=PHONE)
    try:
        page = context.new_page()
        page.goto(live_server.url + "/portal/login")
        assert fit_problems(page, axe_script) == []
        page.evaluate(
            """() => {
              const box = document.createElement('div');
              box.className = 'too-wide';
              box.style.width = '600px';
              box.textContent = 'wide';
              document.querySelector('main').append(box, document.createElement('input'));
            }"""
        )
        problems = fit_problems(page, axe_script)
        assert any(problem.startswith("label ") for problem in problems), problems
        assert any("div.too-wide" in problem for problem in problems), problems
    finally:
        context.close()
