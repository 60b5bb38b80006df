"""Pages shown in Hindi contain no English from the UI strings: every page a citizen, the
recipient of a share link, a verifier and facility staff can see is rendered with the
``lang=hi`` cookie, the text a person sees or hears is taken from it (text outside scripts
and styles, and the attributes a browser shows or reads out), the certificates' own data is
taken out (names, facility names, vaccine brands, ids: read from the issued records, never
listed here), and no word of an English msgid of ``messages.pot`` may be left.

A word is 3 or more Latin letters; it is compared without regard to case. A part of a page
marked as being in another language (``lang="en"``, the language switch's "English") is not
Hindi text and is skipped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient
from httpx import Response

from certdist.config import PortalSettings
from certdist.domain.certificate_view import CertificateView
from certdist.domain.requests import TestCertificationRequest
from certdist.services.issuance.demo import DEMO_MOBILE, demo_requests
from certdist.web.i18n import LOCALE_DIR
from certdist.wiring import Services
from tests.support.clients import ClientFactory, client_for, client_from
from tests.support.issuing import issue_signed
from tests.support.portal import csrf_of, log_in, outbox_reader, seed_portal, wait_for_code
from tests.support.request_bodies import lab_test_request_body

HINDI = "hi"
LAB_CODE = "LAB0001"
#: The lab test's beneficiary (the request body's date of birth), on the demo family's number.
LAB_BIRTH_DATE = "1994-11-30"
ASHA = ("DEMO0001", "1968-03-14")  # three doses: the certificate with a booster

#: Words that stay in Latin letters in Hindi text: names of formats, standards and the
#: product, which Hindi writes as they are (no Devanagari form is in use). Compared as
#: written here (so "PDF" is allowed, an English "pdf" in a sentence would not be). Each
#: must be a word of some msgid, else it is not needed here (a test checks that).
ALLOWED = {
    "PDF": "file format; Hindi writes PDF",
    "JSON": "data format name",
    "FHIR": "name of the HL7 standard (FHIR document)",
    "SMS": "Hindi writes SMS for a text message",
    "SMART": "SMART Health Card is a proper name; Hindi keeps SMART and writes हेल्थ कार्ड",
    "PNG": "image format name",
    "JPEG": "image format name",
    "shc": "the literal prefix shc:/ of a SMART Health Card's text, to be recognised",
    "shlink": "the literal prefix shlink:/ of a SMART Health Link, to be recognised",
    "JavaScript": "the name of the browser's programming language, written so in Hindi",
    "Chrome": "a browser's proper name",
    "Firefox": "a browser's proper name",
    "Safari": "a browser's proper name",
    "PCR": "the test's technical name (RT-PCR), written so on Hindi lab reports",
    "NPR": "National Population Register: the card's name is its acronym (NPR स्मार्ट कार्ड)",
    "PRIYA": "a proper name: the example of a given name as a passport writes it (Latin)",
    "SHARMA": "a proper name: the example of a surname as a passport writes it (Latin)",
    # A phrase: taken out of the text as a whole.
    "name@example.org": "the example of an e-mail address, which is written in Latin letters",
}

_WORD = re.compile(r"[A-Za-z]+")
_ALLOWED_PHRASES = [entry for entry in ALLOWED if not _WORD.fullmatch(entry)]
_PLACEHOLDER = re.compile(r"%\(\w+\)s")
_SCRIPT_PLACEHOLDER = re.compile(r"\{\w+\}")
_VOID = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
    "track", "wbr",
}  # fmt: skip
#: Attributes whose text a browser shows or a screen reader reads out.
_SHOWN_ATTRIBUTES = ("alt", "title", "aria-label", "placeholder")


def _msgid_words() -> set[str]:
    with (LOCALE_DIR / "messages.pot").open("rb") as source:
        catalog = read_po(source)
    words: set[str] = set()
    for message in catalog:
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        for text in ids:
            for word in _WORD.findall(_PLACEHOLDER.sub(" ", text)):
                if len(word) >= 3:
                    words.add(word.lower())
    return words


MSGID_WORDS = _msgid_words()


class _VisibleText(HTMLParser):
    """The texts of a page a person sees or hears, each as one string."""

    def __init__(self, language: str) -> None:
        super().__init__(convert_charrefs=True)
        self.language = language
        self.texts: list[str] = []
        # Open elements: (tag, whether their content is skipped).
        self._open: list[tuple[str, bool]] = []

    @property
    def _skipping(self) -> bool:
        return any(skipped for _, skipped in self._open)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        lang = values.get("lang", "").split("-")[0]
        skipped = tag in ("script", "style") or bool(lang and lang != self.language)
        if not (self._skipping or skipped):
            self.texts.extend(values[name] for name in _SHOWN_ATTRIBUTES if name in values)
            if tag == "input" and values.get("type") in ("submit", "button", "reset"):
                self.texts.append(values.get("value", ""))
            # Shown by the style sheet (stacked table cells name their column) or by a
            # script (the verifier's camera messages).
            self.texts.extend(v for n, v in values.items() if n == "data-label")
            # ``{dose}`` in a script's message is a placeholder the script fills in.
            self.texts.extend(
                _SCRIPT_PLACEHOLDER.sub(" ", v)
                for n, v in values.items()
                if n.startswith("data-msg-")
            )
        if tag not in _VOID:
            self._open.append((tag, skipped))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self._open) - 1, -1, -1):
            if self._open[index][0] == tag:
                del self._open[index:]
                return

    def handle_data(self, data: str) -> None:
        if not self._skipping and data.strip():
            self.texts.append(data)


@dataclass
class Pages:
    """The pages rendered so far and the data values they may show."""

    services: Services
    html: dict[str, str] = field(default_factory=dict)
    extra_data: set[str] = field(default_factory=set)

    def add(self, name: str, response: Response, status: int = 200) -> str:
        assert response.status_code == status, f"{name}: {response.status_code}"
        assert f'<html lang="{HINDI}"' in response.text, f"{name} is not in Hindi"
        self.html[name] = response.text
        return response.text

    def data_values(self) -> list[str]:
        """The certificates' data as shown: every issued record's names, ids, vaccine,
        facility and people, longest first (so a name is taken out before its parts)."""
        values = set(self.extra_data)
        certificates = self.services.database.certificates()
        codes = [request.preEnrollmentCode for request in demo_requests()]
        for code in (*codes, LAB_CODE):
            for record in certificates.for_beneficiary(code):
                values.add(record.pre_enrollment_code)
                values.add(record.certificate_id)
                view = CertificateView.from_credentials(
                    json.loads(record.certificate), qr_payload=b""
                )
                values.update(_data_of(view))
        shown = {" ".join(value.split()) for value in values}
        return sorted((value for value in shown if value), key=len, reverse=True)


def _data_of(view: CertificateView) -> Iterable[str]:
    # Not the gender, the test's type and result, the identity document's type or dates:
    # those are words the page must say in the reader's language.
    fields = view.fields()
    for name in (
        "certificate_id", "name", "ref_id", "vaccine", "manufacturer", "batch", "vaccinator",
        "facility", "facility_address", "test_name", "test_manufacturer", "tester",
    ):  # fmt: skip
        yield fields.get(name, "")
    yield view.beneficiary.identity.rpartition(" ")[2]  # the masked number
    for dose in view.doses:
        yield from (dose.vaccine, dose.batch, dose.facility, dose.certificate_id)


def english_words(pages: Pages) -> list[str]:
    """Every English msgid word left on the pages: ``page: "word" in "…context…"``."""
    data = pages.data_values()
    found: list[str] = []
    for page, html in pages.html.items():
        parser = _VisibleText(HINDI)
        parser.feed(html)
        parser.close()
        for text in parser.texts:
            text = " ".join(text.split())
            for value in (*data, *_ALLOWED_PHRASES):
                text = text.replace(value, " ")
            for word in _WORD.finditer(text):
                english = word.group()
                if len(english) < 3 or english in ALLOWED or english.lower() not in MSGID_WORDS:
                    continue
                start, end = max(0, word.start() - 30), word.end() + 30
                found.append(f'{page}: "{english}" in "{text[start:end].strip()}"')
    return found


def assert_all_hindi(pages: Pages) -> None:
    found = english_words(pages)
    assert not found, "English on pages shown in Hindi:\n" + "\n".join(found)


def _hindi(client: TestClient) -> TestClient:
    client.cookies.set("lang", HINDI)
    return client


@pytest.fixture
def family(services: Services) -> Services:
    """The demo family on ``DEMO_MOBILE`` (one of them with a booster) and, on the same
    number, a lab test certificate."""
    seed_portal(services)
    body = lab_test_request_body(LAB_CODE, mobile=DEMO_MOBILE[3:])
    services.issuance.certificates.certify([TestCertificationRequest.model_validate(body)])
    return services


def test_the_allowed_words_are_words_of_the_catalogue() -> None:
    words = {word for entry in ALLOWED for word in _WORD.findall(entry)}
    assert {word for word in words if word.lower() not in MSGID_WORDS} == set()


def test_the_check_finds_english() -> None:
    page = (
        '<html lang="hi"><head><title>प्रमाणपत्र</title><style>.download{}</style></head>'
        '<body><p>लिंग: Female</p><img alt="QR code"><a lang="en">Download</a>'
        '<input type="submit" value="Send"><script>download()</script></body></html>'
    )
    pages = Pages(services=None)  # type: ignore[arg-type]
    pages.html["sample"] = page
    pages.data_values = lambda: ["Female"]  # type: ignore[method-assign]
    assert english_words(pages) == [
        'sample: "code" in "QR code"',
        'sample: "Send" in "Send"',
    ]


def test_citizen_pages(client: TestClient, family: Services) -> None:
    citizen = _hindi(client)
    pages = Pages(family)
    pages.add("home", citizen.get("/"))
    login = pages.add("portal login", citizen.get("/portal/login"))
    pages.add(
        "portal login (error)",
        citizen.post("/portal/login", data={"mobile": "12", "csrf_token": csrf_of(login)}),
        status=400,
    )
    inbox = family.messaging.dev_inbox
    answer = citizen.post(
        "/portal/login",
        data={"mobile": DEMO_MOBILE, "csrf_token": csrf_of(login)},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    code = wait_for_code(outbox_reader(inbox), DEMO_MOBILE)
    pages.add("code entry", citizen.get("/portal/verify"))
    resent = citizen.post("/portal/resend", data={"csrf_token": csrf_of(login)})
    pages.add("code entry (new code sent)", resent)
    code = wait_for_code(outbox_reader(inbox), DEMO_MOBILE, not_before=1)
    wrong = f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"
    pages.add(
        "code entry (wrong code)",
        citizen.post("/portal/verify", data={"code": wrong, "csrf_token": csrf_of(login)}),
        status=401,
    )
    answer = citizen.post(
        "/portal/verify",
        data={"code": code, "csrf_token": csrf_of(login)},
        follow_redirects=False,
    )
    assert answer.headers.get("location") == "/portal/certificates"
    pages.add("certificates", citizen.get("/portal/certificates"))
    for code_, _ in (ASHA, (LAB_CODE, LAB_BIRTH_DATE)):
        [record] = family.database.certificates().for_beneficiary(code_)[-1:]
        base = f"/portal/certificates/{record.certificate_id}"
        pages.add(f"print view {code_}", citizen.get(f"{base}/print"))
        pages.add(f"QR code only {code_}", citizen.get(f"{base}/qr"))
        names = pages.add(f"EU certificate names {code_}", citizen.get(f"{base}/eu-dcc"))
        for state, form in (("no surname", {}), ("not Latin", {"surname": "शर्मा"})):
            pages.add(
                f"EU certificate names {code_} ({state})",
                citizen.post(f"{base}/eu-dcc", data={"csrf_token": csrf_of(names), **form}),
                status=400,
            )
    pages.add(
        "format not available",
        citizen.get(f"{base}/download/fhir"),  # a lab test has no FHIR document
        status=422,
    )
    logged_out = citizen.post(
        "/portal/logout", data={"csrf_token": csrf_of(names)}, follow_redirects=True
    )
    pages.add("home (logged out)", logged_out)
    assert_all_hindi(pages)


def test_the_birth_year_confirmation(make_client: ClientFactory) -> None:
    client, services = make_client(portal=PortalSettings(require_birth_year=True))
    citizen = _hindi(client)
    seed_portal(services)
    log_in(citizen, services.messaging.dev_inbox, DEMO_MOBILE)
    pages = Pages(services)
    pages.add("certificates (birth year needed)", citizen.get("/portal/certificates"))
    [record] = services.database.certificates().for_beneficiary(ASHA[0])[-1:]
    path = f"/portal/certificates/{record.certificate_id}/confirm"
    confirm = pages.add("confirm the year of birth", citizen.get(path))
    pages.add(
        "confirm the year of birth (wrong year)",
        citizen.post(path, data={"csrf_token": csrf_of(confirm), "year": "1999"}),
        status=400,
    )
    assert_all_hindi(pages)


def _share_link(citizen: TestClient, certificate_id: str, **form: str) -> tuple[str, str]:
    """The page that made the link, and the link's path."""
    page = citizen.get(f"/portal/certificates/{certificate_id}/share")
    made = citizen.post(
        f"/portal/certificates/{certificate_id}/share",
        data={"csrf_token": csrf_of(page.text), "kind": "full", "expiry": "7d", **form},
    )
    assert made.status_code == 200, made.text
    found = re.search(r'value="https?://[^/"]+(/s/[A-Za-z0-9_-]+)"', made.text)
    assert found is not None
    return made.text, found.group(1)


def test_share_pages(client: TestClient, family: Services) -> None:
    citizen = _hindi(client)
    log_in(citizen, family.messaging.dev_inbox, DEMO_MOBILE)
    pages = Pages(family)
    certificates = family.database.certificates()
    [record] = certificates.for_beneficiary(ASHA[0])[-1:]
    pages.add("share create", citizen.get(f"/portal/certificates/{record.certificate_id}/share"))
    form = csrf_of(pages.html["share create"])
    for name, choices in (
        ("share create (short passcode)", {"expiry": "7d", "passcode": "12"}),
        ("share create (a choice not offered)", {"expiry": "2y"}),
    ):
        pages.add(
            name,
            citizen.post(
                f"/portal/certificates/{record.certificate_id}/share",
                data={"csrf_token": form, "kind": "full", **choices},
            ),
            status=400,
        )
    for name, choices in (
        ("share create (bad e-mail address)", {"to": "not an address", "mode": "link"}),
        ("share create (a sending not offered)", {"to": "a@example.org", "mode": "fax"}),
    ):
        pages.add(
            name,
            citizen.post(
                f"/portal/certificates/{record.certificate_id}/email",
                data={"csrf_token": form, **choices},
            ),
            status=400,
        )
    made, path = _share_link(citizen, record.certificate_id)
    pages.html["share made"] = made
    _, protected = _share_link(citizen, record.certificate_id, passcode="tiger-42")
    with client_for(family, raise_server_exceptions=False) as browser:
        recipient = _hindi(browser)
        pages.add("shared view", recipient.get(path))
        passcode = pages.add("passcode page", recipient.get(protected))
        form_token = re.search(r'name="form_token" value="([^"]+)"', passcode)
        assert form_token is not None
        pages.add(
            "passcode page (wrong passcode)",
            recipient.post(protected, data={"passcode": "lion-42", "form_token": form_token[1]}),
            status=401,
        )
    shl_form = pages.add(
        "SMART Health Link create", citizen.get(f"/portal/certificates/{record.certificate_id}/shl")
    )
    for name, choices in (
        ("SMART Health Link create (short passcode)", {"expiry": "7d", "passcode": "12"}),
        ("SMART Health Link create (long label)", {"expiry": "7d", "label": "x" * 81}),
    ):
        pages.add(
            name,
            citizen.post(
                f"/portal/certificates/{record.certificate_id}/shl",
                data={"csrf_token": csrf_of(shl_form), **choices},
            ),
            status=400,
        )
    pages.add(
        "SMART Health Link made",
        citizen.post(
            f"/portal/certificates/{record.certificate_id}/shl",
            data={"csrf_token": csrf_of(shl_form), "expiry": "7d", "passcode": "tiger-42"},
        ),
    )
    with client_for(family, raise_server_exceptions=False) as browser:
        pages.add("SMART Health Link viewer", _hindi(browser).get("/shl"))
    links = pages.add("your links", citizen.get("/portal/shares"))
    first = re.search(r'action="(/portal/shares/[^/"]+/revoke)"', links)
    assert first is not None
    withdrawn = citizen.post(first[1], data={"csrf_token": csrf_of(links)})
    pages.add("your links (one withdrawn)", withdrawn)
    assert_all_hindi(pages)


def test_verifier_pages(client: TestClient, services: Services) -> None:
    verifier = _hindi(client)
    pages = Pages(services)
    pages.add("verify form", verifier.get("/verify"))
    signed = issue_signed(services, "DEMO0001")  # its data is taken out like the family's
    pages.add("verify result (valid)", verifier.post("/verify/result", data={"payload": signed}))
    forged = signed.replace("Bhaya", "Bhayya")
    pages.add(
        "verify result (not valid)", verifier.post("/verify/result", data={"payload": forged})
    )
    pages.add(
        "verify form (unreadable)",
        verifier.post("/verify/result", data={"payload": "hello"}),
        status=400,
    )
    assert_all_hindi(pages)


def _staff_csrf(staff: TestClient) -> str:
    return csrf_of(staff.get("/facility").text)


def test_facility_pages(client: TestClient, family: Services) -> None:
    staff = _hindi(client)
    pages = Pages(family)
    login = pages.add("facility login", staff.get("/facility"))
    pages.add(
        "facility login (wrong password)",
        staff.post(
            "/facility/login/local",
            data={"username": "nurse-7", "password": "wrong", "csrf_token": csrf_of(login)},
        ),
        status=401,
    )
    signed_in = staff.post(
        "/facility/login/local",
        data={"username": "nurse-7", "password": "certdist-demo", "csrf_token": csrf_of(login)},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303
    search = pages.add("facility search", staff.get("/facility"))
    for code, birth_date in (ASHA, (LAB_CODE, LAB_BIRTH_DATE)):
        pages.add(
            f"facility results {code}",
            staff.post(
                "/facility/search",
                data={"mobile": DEMO_MOBILE, "dob": birth_date, "csrf_token": csrf_of(search)},
            ),
        )
    pages.add(
        "facility results (none)",
        staff.post(
            "/facility/search",
            data={"mobile": DEMO_MOBILE, "dob": "2001-01-01", "csrf_token": csrf_of(search)},
        ),
    )
    pages.add(
        "facility search (error)",
        staff.post(
            "/facility/search", data={"mobile": "12", "dob": "", "csrf_token": csrf_of(search)}
        ),
        status=400,
    )
    pages.add("facility print view", staff.get(f"/facility/certificates/{ASHA[0]}"))
    pages.add("facility print view (test)", staff.get(f"/facility/certificates/{LAB_CODE}/test"))
    pages.add(
        "facility not held",
        staff.get(f"/facility/certificates/{LAB_CODE}"),
        status=404,
    )
    assert_all_hindi(pages)


def test_error_and_development_pages(client: TestClient, family: Services) -> None:
    visitor = _hindi(client)
    pages = Pages(family)
    pages.add("404", visitor.get("/no-such-page", headers={"Accept": "text/html"}), status=404)
    pages.add(
        "403 (form expired)",
        visitor.post("/facility/login/local", data={"username": "a", "password": "b"}),
        status=403,
    )
    token = csrf_of(visitor.get("/facility").text)
    for attempt in range(20):
        answer = visitor.post(
            "/facility/login/local",
            data={"username": "nurse", "password": f"guess-{attempt}", "csrf_token": token},
        )
        if answer.status_code == 429:
            break
    pages.add("429", answer, status=429)
    with client_from("127.0.0.1", family, raise_server_exceptions=False) as local:
        log_in(_hindi(local), family.messaging.dev_inbox, DEMO_MOBILE)
        pages.add("/dev/sms", local.get("/dev/sms"))
    # The messages are data: what was sent, in the language it was sent in.
    pages.extra_data.update(m.body for m in family.messaging.dev_inbox.latest(200))  # type: ignore[union-attr]
    assert_all_hindi(pages)
