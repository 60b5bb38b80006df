"""Share links and e-mail over HTTP: the owner's portal pages, the visitor's minimal view and
its headers, passcodes (and their cross-site protection), revocation, and the certificate
e-mailed over real SMTP byte for byte."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from urllib.parse import parse_qs, quote, urlsplit
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from certdist.config import MailSettings, Settings
from certdist.domain.requests import CertificationRequest
from certdist.services.common import format_moment
from certdist.wiring import Services
from tests.support.clients import TokenFactory, client_for
from tests.support.imaging import read_qr_codes
from tests.support.portal import csrf_of, log_in
from tests.support.request_bodies import vaccination_request_body
from tests.support.services import ServicesFactory
from tests.support.smtp import SmtpServer

MOBILE = "+919880414889"
OTHER = "+919000000002"
PUBLIC_URL = "http://127.0.0.1:8000"  # the default; https would make the cookies Secure
SHARE_URL = re.compile(r'value="http://127\.0\.0\.1:8000/s/([A-Za-z0-9_-]+)"')
FORM_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')
VISITOR_HEADERS = {
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "x-robots-tag": "noindex, nofollow",
}


@pytest.fixture
def settings(make_services: ServicesFactory, smtp_server: SmtpServer) -> Settings:
    return make_services.settings(mail=MailSettings.model_validate(smtp_server.mail_fields()))


def issue(services: Services, code: str = "WEB0001", mobile: str = MOBILE) -> str:
    body = vaccination_request_body(code, mobile=mobile)
    [issued] = services.issuance.certificates.certify([CertificationRequest.model_validate(body)])
    return issued.certificate_id


@pytest.fixture
def certificate_id(services: Services) -> str:
    """The owner's certificate (the portal sends login codes only to registered numbers)."""
    return issue(services)


@pytest.fixture
def owner(client: TestClient, services: Services, certificate_id: str) -> TestClient:
    log_in(client, services.messaging.dev_inbox, MOBILE)
    return client


@pytest.fixture
def visitor(services: Services) -> Iterator[TestClient]:
    """Another browser: no cookies of the owner."""
    with client_for(services, raise_server_exceptions=False) as browser:
        yield browser


def make_link(owner: TestClient, certificate_id: str, **form: str) -> str:
    page = owner.get(f"/portal/certificates/{certificate_id}/share")
    assert page.status_code == 200, page.text
    answer = owner.post(
        f"/portal/certificates/{certificate_id}/share",
        data={"csrf_token": csrf_of(page.text), "kind": "full", "expiry": "7d", **form},
    )
    assert answer.status_code == 200, answer.text
    found = SHARE_URL.search(answer.text)
    assert found is not None
    return found.group(1)


def made_page(owner: TestClient, certificate_id: str) -> tuple[str, str]:
    """The "Share link made" page of a new link, and the link's URL."""
    form = owner.get(f"/portal/certificates/{certificate_id}/share")
    answer = owner.post(
        f"/portal/certificates/{certificate_id}/share",
        data={"csrf_token": csrf_of(form.text), "kind": "full", "expiry": "7d"},
    )
    assert answer.status_code == 200, answer.text
    found = SHARE_URL.search(answer.text)
    assert found is not None
    return answer.text, f"{PUBLIC_URL}/s/{found.group(1)}"


class _Elements(HTMLParser):
    """Every start tag of a page with its attributes (entities resolved) and, for the
    elements that hold text directly, that text."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None], list[str]]] = []
        self._open: list[list[str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        texts: list[str] = []
        self.found.append((tag, dict(attrs), texts))
        if tag not in ("input", "img", "meta", "link", "br"):
            self._open.append(texts)

    def handle_endtag(self, tag: str) -> None:
        if self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        if self._open:
            self._open[-1].append(data)


def elements(html: str, tag: str, **wanted: str) -> list[tuple[dict[str, str | None], str]]:
    """The ``tag`` elements whose attributes include ``wanted``, with their own text."""
    parser = _Elements()
    parser.feed(html)
    return [
        (attrs, "".join(texts).strip())
        for name, attrs, texts in parser.found
        if name == tag and all(attrs.get(k) == v for k, v in wanted.items())
    ]


def only(html: str, tag: str, **wanted: str) -> tuple[dict[str, str | None], str]:
    [found] = elements(html, tag, **wanted)
    return found


def link_href(html: str, scheme: str) -> str:
    [href] = [a["href"] for a, _ in elements(html, "a") if (a["href"] or "").startswith(scheme)]
    assert href is not None
    return href


def assert_visitor_headers(response: object) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    for name, value in VISITOR_HEADERS.items():
        assert headers[name] == value, name


def test_a_link_shows_the_minimal_view_and_the_owner_sees_its_use(
    owner: TestClient, visitor: TestClient, certificate_id: str
) -> None:
    token = make_link(owner, certificate_id)

    page = visitor.get(f"/s/{token}")
    assert page.status_code == 200
    assert_visitor_headers(page)
    assert "Bhaya Mitra" in page.text
    assert "1994" in page.text
    for secret in ("9880414889", "2342343334", "30-11", "Koramangala"):
        assert secret not in page.text

    pdf = visitor.get(f"/s/{token}/certificate.pdf")
    assert pdf.status_code == 200
    assert_visitor_headers(pdf)
    assert pdf.headers["content-disposition"] == 'attachment; filename="certificate.pdf"'
    own = owner.get(f"/portal/certificates/{certificate_id}/download/pdf")
    assert pdf.content == own.content

    qr = visitor.get(f"/s/{token}/qr.png")
    assert qr.status_code == 200
    assert qr.headers["content-type"] == "image/png"

    link_qr = visitor.get(f"/s/{token}/link.png")
    [decoded] = read_qr_codes(Image.open(io.BytesIO(link_qr.content)))
    assert decoded.text == f"{PUBLIC_URL}/s/{token}"

    listing = owner.get("/portal/shares")
    assert listing.status_code == 200
    for event in ("Opened", "PDF downloaded", "QR code viewed"):
        assert event in listing.text


def test_revoked_links_answer_404(
    owner: TestClient, visitor: TestClient, services: Services, certificate_id: str
) -> None:
    token = make_link(owner, certificate_id)
    listing = owner.get("/portal/shares")
    [link_id] = re.findall(r'action="/portal/shares/([^/"]+)/revoke"', listing.text)
    answer = owner.post(
        f"/portal/shares/{link_id}/revoke",
        data={"csrf_token": csrf_of(listing.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert visitor.get(f"/s/{token}").status_code == 404
    assert visitor.get(f"/s/{token}/certificate.pdf").status_code == 404
    assert "Withdrawn" in owner.get("/portal/shares").text
    # Ids that are no link id are 404 too (a NUL byte is refused by PostgreSQL: not a 500).
    for bad in ("no-such-link", "a%00b", "x" * 300):
        unknown = owner.post(
            f"/portal/shares/{bad}/revoke", data={"csrf_token": csrf_of(listing.text)}
        )
        assert unknown.status_code == 404


def test_a_corrected_certificate_kills_its_link(
    owner: TestClient, visitor: TestClient, services: Services
) -> None:
    token = make_link(owner, issue(services, "WEB0002"))
    body = vaccination_request_body("WEB0002", mobile=MOBILE)
    services.issuance.certificates.correct([CertificationRequest.model_validate(body)])
    assert visitor.get(f"/s/{token}").status_code == 404


def test_unknown_and_absurd_tokens_are_404(visitor: TestClient) -> None:
    unknown = visitor.get("/s/" + "A" * 43)
    assert unknown.status_code == 404
    # The error page's URL holds a token too: it must not leak through the Referer.
    assert unknown.headers["referrer-policy"] == "no-referrer"
    assert unknown.headers["x-robots-tag"] == "noindex, nofollow"
    assert visitor.get("/s/" + "A" * 500).status_code == 404
    assert visitor.get("/s/" + "A" * 43 + "/link.png").status_code == 404


def test_passcode_protected_links(
    owner: TestClient, visitor: TestClient, services: Services, certificate_id: str
) -> None:
    token = make_link(owner, certificate_id, passcode="tiger-42")
    form = visitor.get(f"/s/{token}")
    assert form.status_code == 200
    assert_visitor_headers(form)
    assert "Bhaya Mitra" not in form.text
    assert visitor.get(f"/s/{token}/certificate.pdf").status_code == 401
    form_token = FORM_TOKEN.search(form.text)
    assert form_token is not None

    wrong = visitor.post(
        f"/s/{token}", data={"passcode": "lion-42", "form_token": form_token.group(1)}
    )
    assert wrong.status_code == 401
    assert "not right" in wrong.text

    right = visitor.post(
        f"/s/{token}",
        data={"passcode": "tiger-42", "form_token": form_token.group(1)},
        follow_redirects=False,
    )
    assert right.status_code == 303
    assert_visitor_headers(right)
    cookie = right.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "samesite=strict" in cookie.lower()
    opened = visitor.get(f"/s/{token}")
    assert "Bhaya Mitra" in opened.text
    assert visitor.get(f"/s/{token}/certificate.pdf").status_code == 200
    assert "Wrong passcode" in owner.get("/portal/shares").text


def test_a_passcode_posted_from_another_site_is_refused(
    owner: TestClient,
    visitor: TestClient,
    services: Services,
    certificate_id: str,
) -> None:
    token = make_link(owner, certificate_id, passcode="tiger-42")
    form = visitor.get(f"/s/{token}")
    form_token = FORM_TOKEN.search(form.text)
    assert form_token is not None
    # Another browser (the victim of a cross-site post) has no share cookie of its own.
    with client_for(services, raise_server_exceptions=False) as victim:
        answer = victim.post(
            f"/s/{token}",
            data={"passcode": "tiger-42", "form_token": form_token.group(1)},
            follow_redirects=False,
        )
        assert answer.status_code == 400
        assert "set-cookie" not in answer.headers


def test_a_form_token_with_any_text_is_refused_not_a_500(
    owner: TestClient, visitor: TestClient, certificate_id: str
) -> None:
    token = make_link(owner, certificate_id, passcode="tiger-42")
    visitor.get(f"/s/{token}")  # sets the browser cookie
    answer = visitor.post(f"/s/{token}", data={"passcode": "tiger-42", "form_token": "é" * 64})
    assert answer.status_code == 400
    browser = visitor.cookies.get("certdist_share_browser")
    mac = "é" * 64
    unlock = f"certdist_share_browser={browser}; certdist_share_unlock=99999999999.{mac}"
    opened = visitor.get(f"/s/{token}", headers={"cookie": unlock.encode("latin-1")})
    assert opened.status_code == 200  # the passcode form again, not a 500
    assert FORM_TOKEN.search(opened.text) is not None


def test_five_wrong_passcodes_kill_the_link(
    owner: TestClient, visitor: TestClient, services: Services, certificate_id: str
) -> None:
    token = make_link(owner, certificate_id, passcode="tiger-42")
    form_token = FORM_TOKEN.search(visitor.get(f"/s/{token}").text)
    assert form_token is not None
    statuses = [
        visitor.post(
            f"/s/{token}", data={"passcode": f"guess-{n}", "form_token": form_token.group(1)}
        ).status_code
        for n in range(6)
    ]
    assert statuses == [401] * 5 + [404]
    right = visitor.post(
        f"/s/{token}", data={"passcode": "tiger-42", "form_token": form_token.group(1)}
    )
    assert right.status_code == 404


def test_the_owner_cannot_share_someone_elses_certificate(
    owner: TestClient, services: Services, certificate_id: str
) -> None:
    theirs = issue(services, "WEB0003", mobile=OTHER)
    assert owner.get(f"/portal/certificates/{theirs}/share").status_code == 404
    page = owner.get(f"/portal/certificates/{certificate_id}/share")
    answer = owner.post(
        f"/portal/certificates/{theirs}/share",
        data={"csrf_token": csrf_of(page.text), "kind": "full", "expiry": "7d"},
    )
    assert answer.status_code == 404


def test_forms_without_the_session_token_or_with_bad_choices_are_refused(
    owner: TestClient, services: Services, certificate_id: str
) -> None:
    assert (
        owner.post(
            f"/portal/certificates/{certificate_id}/share", data={"kind": "full"}
        ).status_code
        == 403
    )
    page = owner.get(f"/portal/certificates/{certificate_id}/share")
    answer = owner.post(
        f"/portal/certificates/{certificate_id}/share",
        data={"csrf_token": csrf_of(page.text), "kind": "full", "expiry": "2y"},
    )
    assert answer.status_code == 400
    short = owner.post(
        f"/portal/certificates/{certificate_id}/share",
        data={"csrf_token": csrf_of(page.text), "kind": "full", "expiry": "1d", "passcode": "12"},
    )
    assert short.status_code == 400
    assert "4 to 64 characters" in short.text


def test_logged_out_owners_are_sent_to_the_login(client: TestClient) -> None:
    answer = client.get("/portal/shares", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/portal/login"


def test_the_emailed_attachment_is_the_download_byte_for_byte(
    owner: TestClient,
    services: Services,
    smtp_server: SmtpServer,
    auth: TokenFactory,
    certificate_id: str,
) -> None:
    page = owner.get(f"/portal/certificates/{certificate_id}/share")
    answer = owner.post(
        f"/portal/certificates/{certificate_id}/email",
        data={"csrf_token": csrf_of(page.text), "to": "friend@example.org", "mode": "attachment"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"].endswith("/share?sent=1")
    services.messaging.outbox_worker().run_once()
    [received] = smtp_server.mailbox.messages
    assert received["To"] == "friend@example.org"
    assert "Bhaya" not in str(received["Subject"])
    [attachment] = list(received.iter_attachments())
    assert attachment.get_filename() == "certificate.pdf"
    download = owner.get(f"/portal/certificates/{certificate_id}/download/pdf")
    api = owner.get(
        f"/certificate/api/certificatePDF?certificateId={certificate_id}",
        headers=auth("recipient", mobile=MOBILE),
    )
    assert attachment.get_content() == download.content == api.content


def test_a_bad_address_is_explained_on_the_page(
    owner: TestClient, services: Services, certificate_id: str
) -> None:
    page = owner.get(f"/portal/certificates/{certificate_id}/share")
    answer = owner.post(
        f"/portal/certificates/{certificate_id}/email",
        data={"csrf_token": csrf_of(page.text), "to": "friend", "mode": "attachment"},
    )
    assert answer.status_code == 400
    assert "Enter an e-mail address" in answer.text
    control = owner.post(
        f"/portal/certificates/{certificate_id}/email",
        data={"csrf_token": csrf_of(page.text), "to": "a\x00b@example.org", "mode": "link"},
    )
    assert control.status_code == 400


def test_issuing_and_correcting_over_the_api_mails_the_recipient(
    client: TestClient, services: Services, smtp_server: SmtpServer, auth: TokenFactory
) -> None:
    body = vaccination_request_body("WEB0010", mobile=MOBILE)
    body["recipient"]["contact"].append("mailto:bhaya@example.org")
    issued = client.post("/divoc/api/v1/certify", json=[body], headers=auth("certificate-issuer"))
    assert issued.status_code == 200, issued.text
    corrected = client.put(
        "/divoc/api/v1/certificate", json=[body], headers=auth("certificate-corrector")
    )
    assert corrected.status_code == 200, corrected.text
    worker = services.messaging.outbox_worker()
    while worker.run_once():
        pass
    subjects = sorted(str(m["Subject"]) for m in smtp_server.mailbox.messages)
    assert subjects == [
        "Your vaccination certificate has been corrected",
        "Your vaccination certificate is ready",
    ]
    assert {str(m["To"]) for m in smtp_server.mailbox.messages} == {"bhaya@example.org"}


def test_the_made_link_page_offers_copy_share_and_links_that_need_no_script(
    owner: TestClient, certificate_id: str
) -> None:
    html, url = made_page(owner, certificate_id)
    field, _ = only(html, "input", id="share-url")
    assert field["value"] == url
    assert "readonly" in field
    # The buttons are sent hidden (share.js reveals them); their texts come from the catalog.
    copy, copy_text = only(html, "button", id="copy-link")
    share, share_text = only(html, "button", id="share-link")
    assert "hidden" in copy
    assert "hidden" in share
    assert (copy_text, share_text) == ("Copy link", "Share…")
    assert copy["data-done"] == "Link copied"
    assert share["data-title"] == "My vaccination certificate"
    only(html, "p", id="share-status", role="status")
    [script] = [a["src"] for a, _ in elements(html, "script") if "share.js" in (a["src"] or "")]
    assert re.fullmatch(r"/static/share\.js\?v=[0-9a-f]{12}", script or "")

    # The SMS and e-mail links carry the exact URL, percent-encoded (":" and "/" too).
    encoded = quote(url, safe="")
    sms = link_href(html, "sms:")
    assert sms.startswith("sms:?&body=")
    assert encoded in sms
    assert sms == "sms:?&body=" + quote(
        f"Here is the link to my vaccination certificate: {url}", safe=""
    )
    mailto = link_href(html, "mailto:")
    assert encoded in mailto
    assert "+" not in mailto
    assert " " not in mailto
    fields = parse_qs(urlsplit(mailto).query)
    assert fields["subject"] == ["My vaccination certificate"]
    assert fields["body"][0].split() == ["Here", "is", "the", "link", "to", "my",
                                         "vaccination", "certificate:", url]  # fmt: skip
    assert only(html, "a", href=sms)[1] == "Send by SMS"
    assert only(html, "a", href=mailto)[1] == "Send by e-mail"

    # The large QR code is an anchor target of the page, the same image with its own text.
    small, _ = only(html, "img", id="share-qr")
    assert only(html, "a", href="#qr-large")[1] == "Show the QR code large"
    both = [img for img, _ in elements(html, "img") if img["src"] == small["src"]]
    assert len(both) == 2
    assert both[1]["alt"]
    assert both[1]["alt"] != small["alt"]
    assert only(html, "div", id="qr-large")


def _expiry(services: Services) -> datetime:
    [overview] = services.sharing.links.links_of(MOBILE)
    expires = overview.link.expires_at
    return expires if expires.tzinfo else expires.replace(tzinfo=UTC)


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def test_every_share_page_shows_the_expiry_as_a_moment(
    owner: TestClient, visitor: TestClient, services: Services, certificate_id: str
) -> None:
    """The made-link page, the owner's list and the visitor's view: a <time> with the instant
    (for local-time.js) and, as text, the moment in the deployment's zone (IST)."""
    html, url = made_page(owner, certificate_id)
    expires = _expiry(services)
    text = format_moment(expires, "en", ZoneInfo("Asia/Kolkata"))
    pages = {
        "made": html,
        "links": owner.get("/portal/shares").text,
        "view": visitor.get(url.removeprefix(PUBLIC_URL)).text,
    }
    for name, page in pages.items():
        [(_, shown)] = elements(page, "time", datetime=_instant(expires))
        assert shown == text, name


def test_the_made_link_page_in_hindi(
    owner: TestClient, services: Services, certificate_id: str
) -> None:
    owner.cookies.set("lang", "hi")
    html, url = made_page(owner, certificate_id)
    assert only(html, "button", id="copy-link")[1] == "लिंक कॉपी करें"
    assert only(html, "button", id="share-link")[1] == "साझा करें…"
    assert only(html, "button", id="copy-link")[0]["data-done"] == "लिंक कॉपी हो गया"
    assert only(html, "a", href="#qr-large")[1] == "QR कोड बड़ा दिखाएँ"
    mailto = link_href(html, "mailto:")
    assert parse_qs(urlsplit(mailto).query)["subject"] == ["मेरा टीकाकरण प्रमाणपत्र"]
    assert quote(url, safe="") in link_href(html, "sms:")
    # The expiry reads as Hindi: Hindi month name, the sentence around it in Hindi.
    expires = _expiry(services)
    moment = format_moment(expires, "hi", ZoneInfo("Asia/Kolkata"))
    [(_, shown)] = elements(html, "time", datetime=_instant(expires))
    assert shown == moment
    assert f"लिंक {moment} तक काम करेगा।" in re.sub(r"<[^>]+>", "", html)
