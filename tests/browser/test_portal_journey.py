"""The citizen portal in Chromium: the whole journey with JavaScript on and off, in English
and Hindi, on a desktop, and without JavaScript on a phone (390x844, where each page's
height is printed); the code read from the SMS outbox; axe-core finds no WCAG 2.2 AA
violation on any page; screenshots of every page at desktop and phone width
(``journey-<page>-<lang>-<width>.png``) go to the screenshot folder (tests/browser/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from certdist.services.issuance.demo import DEMO_MOBILE
from certdist.web.i18n import Catalogs
from tests.browser.conftest import LiveServer, assert_accessible, page_height, screenshot
from tests.support.portal import outbox_reader, sent_count, wait_for_code

VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
FAMILY = ("Asha Devi", "Ravi Kumar", "प्रिया शर्मा")


class Journey:
    """One visit: a page in a browser context, with the checks every page gets."""

    def __init__(
        self,
        server: LiveServer,
        page: Any,
        lang: str,
        *,
        javascript: bool,
        viewport: str,
        axe_script: Path,
        screenshots: Path,
    ) -> None:
        self.server = server
        self.page = page
        self.lang = lang
        self.javascript = javascript
        self.viewport = viewport
        self.axe_script = axe_script
        self.screenshots = screenshots
        self.t: Callable[[str], str] = Catalogs().translations(lang).gettext
        self.checked: list[str] = []
        #: Each page's height on a phone (journeys at the phone's size only).
        self.heights: dict[str, int] = {}

    def url(self, path: str) -> str:
        return self.server.url + path

    def check(self, name: str) -> None:
        """The page is in the right language, passes axe (scripts allowed) and is
        photographed at both widths (once, in the run with scripts); on a phone, its
        height is noted."""
        assert self.page.locator("html").get_attribute("lang") == self.lang
        self.checked.append(name)
        if self.viewport == "phone":
            self.heights[name] = page_height(self.page)
        if not self.javascript:
            return
        assert_accessible(self.page, self.axe_script)
        for size in VIEWPORTS.values():
            self.page.set_viewport_size(size)
            screenshot(self.page, self.screenshots, f"journey-{name}", self.lang)
        self.page.set_viewport_size(VIEWPORTS[self.viewport])

    def link(self, text: str, person: str | None = None) -> Any:
        name = f"{self.t(text)} – {person}" if person else self.t(text)
        return self.page.get_by_role("link", name=name, exact=True)

    def button(self, text: str) -> Any:
        return self.page.get_by_role("button", name=self.t(text), exact=True)

    def field(self, text: str, **values: object) -> Any:
        label = self.t(text) % values if values else self.t(text)
        return self.page.get_by_label(label, exact=True)

    def other_formats(self, person: str) -> Any:
        return self.page.locator("summary", has_text=f"{self.t('Other formats')} – {person}")

    def download(self, text: str, person: str) -> bytes:
        with self.page.expect_download() as started:
            self.link(text, person).click()
        path = started.value.path()
        return Path(path).read_bytes()


JourneyFactory = Callable[..., Journey]


@pytest.fixture
def journey_factory(
    live_server: LiveServer, browser: Any, axe_script: Path, screenshots: Path
) -> Iterator[JourneyFactory]:
    contexts: list[Any] = []

    def make(lang: str, javascript: bool, viewport: str = "desktop") -> Journey:
        # bypass_csp: only so that axe can be injected; the pages themselves run no script.
        context = browser.new_context(
            java_script_enabled=javascript,
            bypass_csp=True,
            accept_downloads=True,
            viewport=VIEWPORTS[viewport],
        )
        contexts.append(context)
        return Journey(
            live_server,
            context.new_page(),
            lang,
            javascript=javascript,
            viewport=viewport,
            axe_script=axe_script,
            screenshots=screenshots,
        )

    yield make
    for context in contexts:
        context.close()


@pytest.mark.parametrize("lang", ["en", "hi"])
@pytest.mark.parametrize(
    ("viewport", "javascript"),
    # On a phone without scripts: the hardest case, and a phone's pages measured.
    [("desktop", True), ("desktop", False), ("phone", False)],
    ids=["desktop-js", "desktop-no-js", "phone-no-js"],
)
def test_the_whole_journey(
    journey_factory: JourneyFactory, lang: str, viewport: str, javascript: bool
) -> None:
    journey = journey_factory(lang, javascript, viewport)
    page, t = journey.page, journey.t
    outbox = journey.server.services.messaging.dev_inbox

    page.goto(journey.url("/"))
    if lang != "en":
        page.get_by_role("link", name="हिन्दी").click()
    assert page.get_by_role("heading", level=1).inner_text() == t(
        "Download your Vaccination Certificate"
    )
    journey.check("home")

    journey.link("Download").click()
    page.wait_for_url(journey.url("/portal/login"))
    journey.check("login")

    journey.field("Mobile number").fill("12ab")
    journey.button("Send code").click()
    alert = page.get_by_role("alert")
    assert t("Enter a valid mobile number, for example 98765 43210.") in alert.inner_text()
    assert journey.field("Mobile number").get_attribute("aria-invalid") == "true"
    journey.check("login-error")

    before = sent_count(outbox, DEMO_MOBILE)
    journey.field("Mobile number").fill("90000 00001")
    journey.button("Send code").click()
    page.wait_for_url(journey.url("/portal/verify"))
    code_field = journey.field("%(digits)s-digit code", digits=6)
    assert code_field.get_attribute("autocomplete") == "one-time-code"
    assert code_field.get_attribute("inputmode") == "numeric"
    journey.check("code")

    code = wait_for_code(outbox_reader(outbox), DEMO_MOBILE, not_before=before)
    # The newest SMS with this code (a notification to the same number may be newer).
    sms = next(body for _, body in outbox_reader(outbox)() if body.endswith(f"#{code}"))
    assert sms.endswith(f"@127.0.0.1 #{code}")
    assert ("आपका टीकाकरण" in sms) == (lang == "hi")
    code_field.fill("000000" if code != "000000" else "111111")
    journey.button("Continue").click()
    wrong = t("That code is not right, or it has expired. Check the SMS, or ask for a new code.")
    assert wrong in page.get_by_role("alert").inner_text()
    journey.check("code-error")

    journey.field("%(digits)s-digit code", digits=6).fill(code)
    journey.button("Continue").click()
    page.wait_for_url(journey.url("/portal/certificates"))
    headings = page.get_by_role("heading", level=2).all_inner_texts()
    assert headings == list(FAMILY)
    journey.check("certificates")

    assert journey.download("Download certificate (PDF)", "Asha Devi").startswith(b"%PDF")
    # The other formats are behind a disclosure, one per certificate; it opens without script.
    journey.other_formats("Ravi Kumar").click()
    journey.other_formats("प्रिया शर्मा").click()
    assert journey.download("QR code (image)", "Ravi Kumar").startswith(b"\x89PNG")
    assert b'"ProofOfVaccinationCredential"' in journey.download(
        "Signed credential (JSON)", "प्रिया शर्मा"
    )

    journey.link("Print view", "Asha Devi").click()
    page.wait_for_url("**/print")
    image = page.get_by_role("img")
    answer = page.context.request.get(journey.url(image.get_attribute("src")))
    assert answer.ok
    assert answer.headers["content-type"] == "image/png"
    journey.check("print")

    journey.link("Back to your certificates").click()
    journey.link("Show QR code only", "Asha Devi").click()
    page.wait_for_url("**/qr")
    assert page.get_by_role("heading", level=1).inner_text() == "Asha Devi"
    journey.check("qr-only")

    # An EU certificate for a name in Devanagari: the passport names are asked for.
    records = journey.server.services.database.certificates().for_beneficiary("DEMO0003")
    page.goto(journey.url(f"/portal/certificates/{records[0].certificate_id}/download/eu-dcc"))
    journey.check("eu-dcc-names")
    journey.field("Surname").fill("शर्मा")
    journey.button("Download the EU certificate").click()
    assert (
        t("Use the Latin letters (A to Z) as written in your passport.")
        in page.get_by_role("alert").inner_text()
    )
    journey.check("eu-dcc-names-error")
    journey.field("Surname").fill("Sharma")
    journey.field("Given names").fill("Priya")
    with page.expect_download() as started:
        journey.button("Download the EU certificate").click()
    assert Path(started.value.path()).read_bytes().startswith(b"\x89PNG")

    missing = page.goto(journey.url("/portal/certificates/000000000000/print"))
    assert missing.status == 404
    assert page.get_by_role("heading", level=1).inner_text() == t("Page not found")
    journey.check("not-found")

    page.goto(journey.url("/dev/sms"))
    journey.check("dev-sms")

    page.goto(journey.url("/portal/certificates"))
    journey.button("Log out").click()
    page.wait_for_url(journey.url("/?logged_out=1"))
    assert t("You have logged out.") in page.get_by_role("status").inner_text()
    journey.check("logged-out")
    page.goto(journey.url("/portal/certificates"))
    assert page.url == journey.url("/portal/login")

    assert journey.checked == [
        "home",
        "login",
        "login-error",
        "code",
        "code-error",
        "certificates",
        "print",
        "qr-only",
        "eu-dcc-names",
        "eu-dcc-names-error",
        "not-found",
        "dev-sms",
        "logged-out",
    ]
    if journey.heights:
        print(f"\npage heights at {VIEWPORTS[viewport]['width']} px ({lang}):")
        for name, height in journey.heights.items():
            print(f"  {name:22} {height:5} px")


@pytest.mark.parametrize("live_server", [{"portal": {"require_birth_year": True}}], indirect=True)
@pytest.mark.parametrize("lang", ["en", "hi"])
def test_the_year_of_birth_check(journey_factory: JourneyFactory, lang: str) -> None:
    journey = journey_factory(lang, True)
    page, t = journey.page, journey.t
    outbox = journey.server.services.messaging.dev_inbox
    page.context.add_cookies([{"name": "lang", "value": lang, "url": journey.url("/")}])
    page.goto(journey.url("/portal/login"))
    before = sent_count(outbox, DEMO_MOBILE)
    journey.field("Mobile number").fill(DEMO_MOBILE)
    journey.button("Send code").click()
    journey.field("%(digits)s-digit code", digits=6).fill(
        wait_for_code(outbox_reader(outbox), DEMO_MOBILE, not_before=before)
    )
    journey.button("Continue").click()
    page.wait_for_url(journey.url("/portal/certificates"))
    journey.check("certificates-locked")

    journey.link("Confirm year of birth to download", "Ravi Kumar").click()
    journey.check("confirm")
    journey.field("Year of birth").fill("1966")
    journey.button("Confirm").click()
    assert (
        t("The year of birth does not match our records.") in page.get_by_role("alert").inner_text()
    )
    journey.check("confirm-error")
    journey.field("Year of birth").fill("1965")
    journey.button("Confirm").click()
    page.wait_for_url(journey.url("/portal/certificates"))
    assert journey.download("Download certificate (PDF)", "Ravi Kumar").startswith(b"%PDF")
    assert journey.link("Confirm year of birth to download", "Asha Devi").count() == 1
