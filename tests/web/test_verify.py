"""``POST /verify`` and the public verify page."""

from __future__ import annotations

import io
import json
import logging
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from typing import get_args

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from PIL import Image

from certdist.config import ForeignShcIssuer, VerifierSettings
from certdist.domain.requests import TestCertificationRequest
from certdist.formats.divoc_qr import encode_payload
from certdist.formats.qr_image import qr_png
from certdist.formats.shc import card_file, qr_text
from certdist.formats.wallet_formats import FhirFormat
from certdist.services.common import format_day
from certdist.services.verification import (
    CertificateFormat,
    OutcomeCode,
    Status,
    VerificationOutcome,
)
from certdist.signing.keys import KeyStore, KeyUse
from certdist.web.i18n import Catalogs
from certdist.web.routes.verify import (
    NO_QR_CODE_PAGE,
    PAGE_CODES,
    CertificateFields,
    OutcomeWords,
    VerificationResult,
    outcome_words,
    reason_texts,
)
from certdist.wiring import Services
from tests.support import wallet_samples
from tests.support.clients import ClientFactory
from tests.support.issuing import issue_signed
from tests.support.pdf_samples import blank_page, certificate_pdf, page_with, pdf_of_pages
from tests.support.request_bodies import lab_test_request_body
from tests.support.verifier_samples import png_of, sign

# --- the API --------------------------------------------------------------------------------


def test_json_payload(client: TestClient, services: Services) -> None:
    response = client.post("/verify", json={"payload": issue_signed(services)})
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["code"]) == ("valid", "valid")
    assert body["certificate"]["name"] == "Bhaya Mitra"
    assert body["certificate"]["dose"] == 1
    assert "9880414889" not in response.text
    assert response.headers["Cache-Control"] == "no-store"


def test_uploaded_image(client: TestClient, services: Services) -> None:
    png = qr_png(encode_payload(issue_signed(services)))
    response = client.post("/verify", files={"file": ("qr.png", png, "image/png")})
    assert response.status_code == 200
    assert response.json()["status"] == "valid"


def test_raw_image_body(client: TestClient, services: Services) -> None:
    png = qr_png(encode_payload(issue_signed(services), form="zip-latin1-utf8"))
    response = client.post("/verify", content=png, headers={"Content-Type": "image/png"})
    assert response.json()["status"] == "valid"


def test_invalid_and_revoked_are_outcomes_not_errors(
    client: TestClient, services: Services
) -> None:
    text = issue_signed(services)
    tampered = client.post("/verify", json={"payload": text.replace("Bhaya", "Bhayya")})
    assert tampered.status_code == 200
    assert tampered.json() == {
        "status": "invalid",
        "code": "signature",
        "reason": "the signature does not match the credential",
    }
    services.issuance.certificates.revoke("BEN0001", None, reason="issued in error")
    revoked = client.post("/verify", content=text, headers={"Content-Type": "text/plain"})
    assert revoked.status_code == 200
    assert (revoked.json()["status"], revoked.json()["code"]) == ("revoked", "revoked")
    assert revoked.json()["certificate"]["name"] == "Bhaya Mitra"


_DEEP_ARRAY = b'{"payload": ' + b"[" * 5000 + b"]" * 5000 + b"}"
_DEEP_OBJECT = '{"a": ' * 5000 + "1" + "}" * 5000


def _deep_divoc_archive() -> bytes:
    """A DIVOC QR archive whose one entry is JSON nested 5000 deep."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("certificate.json", _DEEP_OBJECT)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"json": {"payload": "hello"}}, None),
        ({"json": {"payload": ""}}, "payload"),
        ({"json": ["not", "an", "object"]}, "payload"),
        ({"content": b"{not json", "headers": {"Content-Type": "application/json"}}, None),
        ({"content": b"", "headers": {"Content-Type": "image/png"}}, "input"),
        ({"data": {"other": "x"}}, "input"),
        # JSON nested past Python's recursion limit: json.loads raises RecursionError.
        ({"content": _DEEP_ARRAY, "headers": {"Content-Type": "application/json"}}, None),
        ({"json": {"payload": _DEEP_OBJECT}}, None),
    ],
)
def test_unreadable_input_is_400(
    client: TestClient, kwargs: dict[str, object], field: str | None
) -> None:
    response = client.post("/verify", **kwargs)
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "invalid-input"
    if field is not None:
        assert body["errors"][0]["field"] == field


def test_a_divoc_archive_that_cannot_be_decoded_is_malformed(client: TestClient) -> None:
    """A DIVOC QR archive is recognised by its ZIP header: one whose JSON cannot be read is a
    malformed certificate (an outcome), not unreadable input."""
    response = client.post(
        "/verify", content=_deep_divoc_archive(), headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["code"]) == ("invalid", "malformed")


def test_an_image_without_a_code_names_the_image(client: TestClient) -> None:
    response = client.post("/verify", content=_blank_png(), headers={"Content-Type": "image/png"})
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "image", "message": "no QR code found"}]


def _blank_png() -> bytes:
    out = io.BytesIO()
    Image.new("L", (120, 120), 255).save(out, "PNG")
    return out.getvalue()


def test_oversized_image_is_413(make_client: ClientFactory) -> None:
    client, services = make_client(verifier=VerifierSettings(max_image_bytes=2048))
    png = qr_png(encode_payload(issue_signed(services)))
    assert len(png) > 2048
    response = client.post("/verify", content=png, headers={"Content-Type": "image/png"})
    assert response.status_code == 413
    too_big = client.post("/verify", content=b"\x89PNG" + bytes(200_000))
    assert too_big.status_code == 413  # refused by the body limit before it is read


def test_rate_limited_per_client(make_client: ClientFactory) -> None:
    client, _ = make_client(verifier=VerifierSettings(requests_per_minute=3))
    statuses = [client.post("/verify", json={"payload": "hello"}).status_code for _ in range(4)]
    assert statuses == [400, 400, 400, 429]
    limited = client.post("/verify", json={"payload": "hello"})
    assert int(limited.headers["Retry-After"]) >= 1


def test_the_api_is_described(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/verify"]["post"]
    assert set(operation["requestBody"]["content"]) >= {
        "application/json",
        "multipart/form-data",
        "image/png",
        "image/jpeg",
    }
    assert "security" not in operation


# --- the page -------------------------------------------------------------------------------


def test_the_page_has_an_accessible_upload_form(client: TestClient) -> None:
    response = client.get("/verify")
    assert response.status_code == 200
    page = response.text
    assert '<form method="post" action="/verify/result" enctype="multipart/form-data">' in page
    assert '<label for="verify-file">' in page
    assert 'id="verify-file" name="file"' in page
    assert '<label for="verify-payload">' in page
    # The camera button comes from our own script, served here; no third-party scripts.
    # (Every page also loads local-time.js, which shows moments in the browser's zone.)
    scripts = re.findall(r'<script[^>]*src="([^"?]+)(?:\?v=[0-9a-f]{12})?"', page)
    assert scripts == ["/static/local-time.js", "/static/verify.js"]
    assert client.get("/static/verify.js").status_code == 200
    assert client.get("/static/verify.css").status_code == 200
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


def test_uploading_a_photo_without_javascript(client: TestClient, services: Services) -> None:
    png = qr_png(encode_payload(issue_signed(services)))
    response = client.post("/verify/result", files={"file": ("qr.png", png, "image/png")})
    assert response.status_code == 200
    assert 'class="outcome outcome-valid"' in response.text
    assert "Valid: this certificate is genuine and current." in response.text
    assert '<dd data-field="name">Bhaya Mitra</dd>' in response.text
    assert '<dd data-field="doses">1 / 2</dd>' in response.text


def test_pasted_text_of_a_revoked_certificate(client: TestClient, services: Services) -> None:
    text = issue_signed(services)
    services.issuance.certificates.revoke("BEN0001", None, reason="issued in error")
    response = client.post("/verify/result", data={"payload": text})
    assert response.status_code == 200
    assert 'class="outcome outcome-revoked" data-outcome data-code="revoked" role="alert"' in (
        response.text
    )


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"data": {"payload": ""}}, "Choose a photo of the QR code or paste the certificate text."),
        ({"data": {"payload": "hello"}}, "This is not a certificate we can read"),
    ],
)
def test_form_errors_are_announced(
    client: TestClient, form: dict[str, object], message: str
) -> None:
    response = client.post("/verify/result", **form)
    assert response.status_code == 400
    alert = re.search(
        r'<div class="alert" role="alert" id="verify-error">\s*<p>([^<]*)', response.text
    )
    assert alert is not None
    assert alert.group(1).startswith(message)
    assert 'aria-describedby="verify-file-hint verify-error"' in response.text


def test_a_too_large_photo_on_the_page(make_client: ClientFactory) -> None:
    client, services = make_client(verifier=VerifierSettings(max_image_bytes=2048))
    png = qr_png(encode_payload(issue_signed(services)))
    response = client.post("/verify/result", files={"file": ("qr.png", png, "image/png")})
    assert response.status_code == 413
    assert "The photo is too large." in response.text


def test_reloading_the_result_page_starts_again(client: TestClient) -> None:
    response = client.get("/verify/result", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/verify")


def test_every_outcome_code_has_words_and_passes_the_answer_model() -> None:
    """A code the page cannot explain or the API cannot describe would be a 500."""
    texts = reason_texts(lambda text: text)
    for code in get_args(OutcomeCode):
        assert texts[code]
        VerificationResult(status="invalid", code=code, reason="r")


def test_every_certificate_format_passes_the_answer_model() -> None:
    """A format the answer model does not list would be a 500 for a valid certificate."""
    for name in CertificateFormat:
        CertificateFields(format=name.value, kind="vaccination", issuer="i", name="n")


def test_an_unavailable_revocation_list_is_explained(
    make_client: ClientFactory, testdata: Path
) -> None:
    """The SMART example issuer announces a revocation list (``crlVersion``) that cannot be
    fetched here (nothing listens on the discard port): never "valid", and the page says why."""
    examples = testdata / "shc" / "examples"
    issuer = ForeignShcIssuer(
        iss="https://spec.smarthealth.cards/examples/issuer",
        jwks_file=examples / "issuer" / ".well-known" / "jwks.json",
        crl_base_url="http://127.0.0.1:9/crl",
    )
    client, _ = make_client(verifier=VerifierSettings(shc_issuers=[issuer]))
    card = (examples / "example-00-d-jws.txt").read_text().strip()
    answer = client.post("/verify", json={"payload": card})
    assert answer.status_code == 200
    assert (answer.json()["status"], answer.json()["code"]) == ("invalid", "revocation-unknown")
    assert answer.json()["certificate"]["format"] == "smart-health-card"
    client.cookies.set("lang", "hi")
    page = client.post("/verify/result", data={"payload": card})
    assert page.status_code == 200
    assert "रद्द किए गए प्रमाणपत्रों की सूची जाँची नहीं जा सकी" in page.text


# --- PDFs ------------------------------------------------------------------------------------


@pytest.mark.parametrize("format_name", ["pdf", "shc-pdf", "eu-dcc-pdf"])
def test_our_pdfs_verify_uploaded_and_raw(
    client: TestClient, services: Services, format_name: str
) -> None:
    issue_signed(services, "PDF0001")
    pdf = certificate_pdf(services, "PDF0001", format_name)
    uploaded = client.post("/verify", files={"file": ("cert.pdf", pdf, "application/pdf")})
    assert uploaded.status_code == 200
    assert (uploaded.json()["status"], uploaded.json()["certificate"]["name"]) == (
        "valid",
        "Bhaya Mitra",
    )
    raw = client.post("/verify", content=pdf, headers={"Content-Type": "application/pdf"})
    assert raw.json()["status"] == "valid"


def test_a_lab_test_pdf_verifies(client: TestClient, services: Services) -> None:
    request = TestCertificationRequest.model_validate(lab_test_request_body("LAB0001"))
    services.issuance.certificates.certify([request])
    pdf = certificate_pdf(services, "LAB0001", "eu-dcc-pdf")
    response = client.post("/verify", files={"file": ("test.pdf", pdf, "application/pdf")})
    assert response.json()["status"] == "valid"
    assert response.json()["certificate"]["kind"] == "test"


def _blank_pdf() -> bytes:
    return pdf_of_pages(blank_page())


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (("blank.pdf", _blank_pdf(), "application/pdf"), "no QR code found in the PDF"),
        (("cut.pdf", _blank_pdf()[:300], "application/pdf"), "not a PDF we can read"),
        (("letter.pdf", b"Dear beneficiary", "application/pdf"), "not a PDF we can read"),
        (("letter.pdf", _blank_png(), "application/octet-stream"), "not a PDF we can read"),
        (("photo.png", _blank_png(), "application/pdf"), "not a PDF we can read"),
    ],
    ids=["no-qr", "truncated", "text", "png-named-pdf", "png-sent-as-pdf"],
)
def test_unreadable_pdfs_are_400(
    client: TestClient, upload: tuple[str, bytes, str], message: str
) -> None:
    response = client.post("/verify", files={"file": upload})
    assert response.status_code == 400
    assert response.json()["type"] == "invalid-input"
    assert response.json()["extra"].startswith(message)


def test_a_raw_body_sent_as_pdf_must_be_one(client: TestClient) -> None:
    response = client.post(
        "/verify", content=b"HC1:6BF", headers={"Content-Type": "application/pdf"}
    )
    assert response.status_code == 400
    assert response.json()["extra"].startswith("not a PDF we can read")


def test_an_oversized_pdf_is_413(make_client: ClientFactory) -> None:
    client, _ = make_client(verifier=VerifierSettings(max_image_bytes=2048))
    pdf = _blank_pdf() + b"%" * 4096
    upload = client.post("/verify", files={"file": ("big.pdf", pdf, "application/pdf")})
    assert upload.status_code == 413
    raw = client.post(
        "/verify", content=pdf + bytes(200_000), headers={"Content-Type": "application/pdf"}
    )
    assert raw.status_code == 413


def test_uploading_a_pdf_on_the_page(client: TestClient, services: Services) -> None:
    issue_signed(services, "PDF0001")
    pdf = certificate_pdf(services, "PDF0001", "pdf")
    response = client.post("/verify/result", files={"file": ("cert.pdf", pdf, "application/pdf")})
    assert response.status_code == 200
    assert 'class="outcome outcome-valid"' in response.text
    assert "application/pdf" in client.get("/verify").text  # the file picker offers PDFs
    blank = client.post(
        "/verify/result", files={"file": ("b.pdf", _blank_pdf(), "application/pdf")}
    )
    assert blank.status_code == 400
    assert 'data-code="no-qr-code"' in blank.text
    assert "We could not find a QR code in the photo or on the first pages of the PDF." in (
        blank.text
    )


# --- FHIR bundles ---------------------------------------------------------------------------


def fhir_bundle(services: Services) -> bytes:
    """What ``certdist export --format fhir`` writes for BEN0001."""
    issue_signed(services)
    bundle = services.distribution.certificates.bundle("BEN0001")
    return FhirFormat(services.distribution.wallet.issuers.fhir).render(bundle)


def test_a_fhir_bundle_as_json_payload_and_upload(client: TestClient, services: Services) -> None:
    document = fhir_bundle(services)
    sent = client.post("/verify", json={"payload": document.decode()})
    uploaded = client.post(
        "/verify", files={"file": ("bundle.fhir.json", document, "application/fhir+json")}
    )
    for response in (sent, uploaded):
        assert response.status_code == 200
        body = response.json()
        assert (body["status"], body["code"]) == ("valid", "valid")
        certificate = body["certificate"]
        assert (certificate["format"], certificate["name"]) == ("fhir", "Bhaya Mitra")
        assert (certificate["dose"], certificate["total_doses"]) == (1, 2)


def test_a_tampered_or_revoked_fhir_bundle_is_an_outcome(
    client: TestClient, services: Services
) -> None:
    document = fhir_bundle(services)
    tampered = document.replace(b"Bhaya", b"Bhaja")
    response = client.post("/verify", files={"file": ("bundle.json", tampered, "application/json")})
    assert response.status_code == 200
    assert response.json() == {
        "status": "invalid",
        "code": "signature",
        "reason": "the bundle signature does not match its content",
    }
    services.issuance.certificates.revoke("BEN0001", None, reason="issued in error")
    revoked = client.post("/verify", json={"payload": document.decode()})
    assert (revoked.status_code, revoked.json()["status"]) == (200, "revoked")


@pytest.mark.parametrize(
    "payload",
    [
        '{"resourceType": "Bundle", "type": "document", "entry": []}',
        '{"resourceType": "Bundle", "signature": {"data": "%%%"}, "entry": ['
        + "[" * 5000
        + "]" * 5000
        + "]}",
    ],
    ids=["unsigned", "nested past the limit"],
)
def test_unreadable_fhir_bundles_are_400(client: TestClient, payload: str) -> None:
    for response in (
        client.post("/verify", json={"payload": payload}),
        client.post("/verify", files={"file": ("b.json", payload.encode(), "application/json")}),
    ):
        assert response.status_code == 400
        assert response.json()["type"] == "invalid-input"


@pytest.mark.parametrize(
    "signature",
    [
        {"sigFormat": "application/jose", "data": "not base64!"},
        {"sigFormat": "application/jose", "data": "YWJj"},  # "abc": no JWS
        "signed",
    ],
)
def test_malformed_fhir_signatures_are_invalid_not_errors(
    client: TestClient, services: Services, signature: object
) -> None:
    document = json.loads(fhir_bundle(services))
    document["signature"] = signature
    response = client.post("/verify", json={"payload": json.dumps(document)})
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["code"]) == ("invalid", "malformed")


def test_a_fhir_bundle_on_the_page(client: TestClient, services: Services) -> None:
    document = fhir_bundle(services)
    response = client.post(
        "/verify/result", files={"file": ("bundle.fhir.json", document, "application/fhir+json")}
    )
    assert response.status_code == 200
    assert 'class="outcome outcome-valid"' in response.text
    assert '<dd data-field="name">Bhaya Mitra</dd>' in response.text
    assert (
        '<dd data-field="vaccine">COVID-19 vaccine, non-replicating viral vector</dd>'
        in response.text
    )
    assert '<dd data-field="doses">1 / 2</dd>' in response.text


@pytest.mark.parametrize("forged", ["tampered", "HC1:garbage"])
def test_a_certificate_that_is_not_valid_gets_its_page(
    client: TestClient, services: Services, forged: str
) -> None:
    # Checking fakes is the verifier's main job: a "not valid" answer is a page, never a 5xx
    # (the page used to fail on the certificate an invalid answer does not carry).
    text = issue_signed(services)
    body = text.replace("Bhaya", "Bhayya") if forged == "tampered" else forged
    response = client.post("/verify/result", data={"payload": body})
    assert response.status_code == 200
    assert 'class="outcome outcome-invalid"' in response.text
    assert "Not valid: do not accept this certificate." in response.text
    assert '<dl class="facts" data-facts hidden>' in response.text


# --- a page for every outcome, in every language ---------------------------------------------


class _VisibleText(HTMLParser):
    """The text a reader sees: without the head, scripts, templates and hidden elements."""

    _SKIPPED = frozenset({"head", "script", "style", "template"})
    _VOID = frozenset({"br", "img", "input", "link", "meta", "hr", "source", "wbr"})

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skipping = 0  # depth inside a skipped element

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._VOID:
            return
        hidden = tag in self._SKIPPED or any(name == "hidden" for name, _ in attrs)
        if self._skipping or hidden:
            self._skipping += 1

    def handle_endtag(self, tag: str) -> None:
        if tag not in self._VOID and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def visible_text(page: str) -> str:
    parser = _VisibleText()
    parser.feed(page)
    return " ".join(" ".join(parser.parts).split())


_LANGUAGES = ("en", "hi")
_VALID_FROM = "2031-05-04"


def _words(language: str) -> dict[str, OutcomeWords]:
    return outcome_words(Catalogs().translations(language).gettext)


def _advice(words: OutcomeWords, code: str, language: str) -> str:
    """The advice a page shows: not-yet-valid names its date, in the page's language."""
    if code == "not-yet-valid":
        return words.dated_advice.replace("{date}", format_day(_VALID_FROM, language))
    return words.advice


def _outcome_of(code: OutcomeCode) -> VerificationOutcome:
    status = {"valid": Status.VALID, "revoked": Status.REVOKED}.get(code, Status.INVALID)
    valid_from = _VALID_FROM if code == "not-yet-valid" else None
    return VerificationOutcome(status, code, "technical detail", valid_from=valid_from)


def _assert_only_its_words(page: str, code: str, language: str) -> None:
    shown = visible_text(page)
    words = _words(language)
    said = words[code]
    for text in (said.heading, said.reason, _advice(said, code, language)):
        assert text in shown, (code, text)
    for other, others in words.items():
        if other == code:
            continue
        for text in (others.heading, others.reason, others.advice):
            assert text not in shown, f"the {code} page shows the {other} text {text!r}"


@pytest.mark.parametrize("language", _LANGUAGES)
@pytest.mark.parametrize("code", get_args(OutcomeCode))
def test_every_outcome_has_its_own_page(
    client: TestClient,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
    code: OutcomeCode,
    language: str,
) -> None:
    """Parametrised over the codes themselves: a new code without words fails here."""
    monkeypatch.setattr(services.verifier, "check", lambda *args, **kwargs: _outcome_of(code))
    client.cookies.set("lang", language)
    page = client.post("/verify/result", data={"payload": "x"})
    assert page.status_code == 200
    assert f'data-code="{code}"' in page.text
    _assert_only_its_words(page.text, code, language)
    if language == "hi":
        # The catalog translated it: the Hindi page does not show the English heading.
        assert _words("en")[code].heading not in visible_text(page.text)


@pytest.mark.parametrize("language", _LANGUAGES)
def test_a_photo_without_a_qr_code_has_its_own_page(client: TestClient, language: str) -> None:
    upload = {"file": ("blank.png", _blank_png(), "image/png")}
    client.cookies.set("lang", language)
    page = client.post("/verify/result", files=upload)
    assert page.status_code == 400  # as the API answers it
    assert 'data-code="no-qr-code"' in page.text
    assert 'id="verify-error"' not in page.text  # an outcome page, not a form error
    _assert_only_its_words(page.text, "no-qr-code", language)
    statuses = ("Valid:", "Revoked:", "Not valid:")
    assert not any(status in visible_text(page.text) for status in statuses)


class _WordsOfTheTemplate(HTMLParser):
    """The ``data-words-for`` elements of the verify page's result template."""

    def __init__(self) -> None:
        super().__init__()
        self.words: dict[str, OutcomeWords] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if "data-words-for" in values:
            self.words[values["data-words-for"]] = OutcomeWords(
                values["data-heading"],
                values["data-reason"],
                values["data-advice"],
                values["data-dated-advice"],
            )


@pytest.mark.parametrize("language", _LANGUAGES)
def test_the_camera_result_has_the_same_words_as_the_result_page(
    client: TestClient, language: str
) -> None:
    """verify.js fills the result template from these: the words of every code, as the
    result page renders them (no English is hard-coded in the script)."""
    parser = _WordsOfTheTemplate()
    client.cookies.set("lang", language)
    parser.feed(client.get("/verify").text)
    assert parser.words == _words(language)
    assert set(parser.words) == set(PAGE_CODES) == {*get_args(OutcomeCode), NO_QR_CODE_PAGE}
    script = client.get("/static/verify.js").text
    assert not any(words.heading in script for words in _words("en").values())


# --- every format, valid and tampered, through the API and the page ---------------------------


@dataclass(frozen=True)
class Sample:
    """What a visitor sends: text (pasted, or a JSON payload) or a file."""

    data: str | bytes
    filename: str = "upload"
    media_type: str = "application/octet-stream"

    def api(self, client: TestClient) -> Response:
        if isinstance(self.data, str):
            return client.post("/verify", json={"payload": self.data})
        return client.post("/verify", files={"file": (self.filename, self.data, self.media_type)})

    def page(self, client: TestClient) -> Response:
        if isinstance(self.data, str):
            return client.post("/verify/result", data={"payload": self.data})
        files = {"file": (self.filename, self.data, self.media_type)}
        return client.post("/verify/result", files=files)


def _changed(text: str) -> str:
    return text.replace("Bhaya", "Bhayya")


def _other_signature(jws: str) -> str:
    """The card with its signature's last bytes changed: well formed, but not what signed it."""
    return jws[:-4] + ("AAAA" if not jws.endswith("AAAA") else "BBBB")


def _card(services: Services) -> str:
    issue_signed(services)
    return services.distribution.wallet.issuers.shc.jws(
        services.distribution.certificates.bundle("BEN0001")
    )


def _hc1(services: Services) -> str:
    issue_signed(services)
    return services.distribution.wallet.issuers.dcc.hc1(
        services.distribution.certificates.bundle("BEN0001")
    )


def _stranger_signed(services: Services, directory: Path) -> str:
    stranger = KeyStore.init_directory(directory / "stranger", now=datetime.now(UTC))
    credential = json.loads(issue_signed(services))
    del credential["proof"]
    return sign(credential, stranger.active(KeyUse.CREDENTIAL))


def _our_pdf(services: Services) -> Sample:
    issue_signed(services)
    return Sample(certificate_pdf(services, "BEN0001", "pdf"), "cert.pdf", "application/pdf")


def _pdf_of(payload: bytes) -> Sample:
    return Sample(pdf_of_pages(page_with(png_of(payload))), "cert.pdf", "application/pdf")


SAMPLES: dict[str, Callable[[Services, Path], Sample]] = {
    "divoc zip": lambda s, _: Sample(encode_payload(issue_signed(s)), "qr.bin"),
    "divoc zip tampered": lambda s, _: Sample(encode_payload(_changed(issue_signed(s))), "qr.bin"),
    "divoc json": lambda s, _: Sample(issue_signed(s)),
    "divoc json tampered": lambda s, _: Sample(_changed(issue_signed(s))),
    "eu dcc": lambda s, _: Sample(_hc1(s)),
    "eu dcc tampered": lambda s, _: Sample(wallet_samples.tampered_variants(_hc1(s))["signature"]),
    "shc numeric": lambda s, _: Sample(qr_text(_card(s))),
    "shc numeric tampered": lambda s, _: Sample(qr_text(_other_signature(_card(s)))),
    "shc jws": lambda s, _: Sample(_card(s)),
    "shc jws tampered": lambda s, _: Sample(_other_signature(_card(s))),
    "shc file": lambda s, _: Sample(card_file([_card(s)]), "c.smart-health-card"),
    "shc file tampered": lambda s, _: Sample(
        card_file([_other_signature(_card(s))]), "c.smart-health-card"
    ),
    "fhir bundle": lambda s, _: Sample(fhir_bundle(s), "b.json", "application/fhir+json"),
    "fhir bundle tampered": lambda s, _: Sample(
        fhir_bundle(s).replace(b"Bhaya", b"Bhaja"), "b.json", "application/fhir+json"
    ),
    "our pdf": lambda s, _: _our_pdf(s),
    "pdf tampered": lambda s, _: _pdf_of(encode_payload(_changed(issue_signed(s)))),
    "png photo": lambda s, _: Sample(
        png_of(encode_payload(issue_signed(s))), "qr.png", "image/png"
    ),
    "png photo tampered": lambda s, _: Sample(
        png_of(encode_payload(_changed(issue_signed(s)))), "qr.png", "image/png"
    ),
    "unknown issuer": lambda s, directory: Sample(_stranger_signed(s, directory)),
    "HC1:garbage": lambda s, _: Sample("HC1:garbage"),
    "png without a qr code": lambda s, _: Sample(_blank_png(), "blank.png", "image/png"),
    "empty form": lambda s, _: Sample(b"", "empty.png", "image/png"),
}

#: The answer of POST /verify (HTTP status, code or error field) and of the page (status,
#: the data-code of its outcome, or "form" for the upload form with its error).
_NOT_CERTIFICATES: dict[str, tuple[int, str, int, str]] = {
    "unknown issuer": (200, "unknown-key", 200, "unknown-key"),
    "HC1:garbage": (200, "malformed", 200, "malformed"),
    "png without a qr code": (400, "image", 400, "no-qr-code"),
    "empty form": (400, "input", 400, "form"),
}
EXPECTED: dict[str, tuple[int, str, int, str]] = {
    name: _NOT_CERTIFICATES.get(name)
    or (
        (200, "signature", 200, "signature") if "tampered" in name else (200, "valid", 200, "valid")
    )
    for name in SAMPLES
}


@pytest.mark.parametrize("name", SAMPLES)
def test_every_input_gets_its_answer_and_page_never_a_5xx(
    client: TestClient,
    services: Services,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    name: str,
) -> None:
    sample = SAMPLES[name](services, tmp_path)
    api_status, api_code, page_status, page_code = EXPECTED[name]
    with caplog.at_level(logging.INFO):
        answer = sample.api(client)
        page = sample.page(client)
    assert answer.status_code == api_status, answer.text
    body = answer.json()
    assert (body.get("code") or body["errors"][0]["field"]) == api_code, body
    assert page.status_code == page_status
    if page_code == "form":
        assert 'id="verify-error"' in page.text
    else:
        assert f'data-code="{page_code}"' in page.text
        assert escape(_words("en")[page_code].heading) in page.text
    problems = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert problems == []


def test_a_certificate_not_valid_yet_names_its_date(client: TestClient, services: Services) -> None:
    credential = json.loads(issue_signed(services))
    del credential["proof"]
    credential["issuanceDate"] = "2999-03-04T05:06:07Z"
    text = sign(credential, services.keys.active(KeyUse.CREDENTIAL))
    answer = client.post("/verify", json={"payload": text})
    assert answer.status_code == 200
    body = answer.json()
    assert (body["status"], body["code"], body["valid_from"]) == (
        "invalid",
        "not-yet-valid",
        "2999-03-04",
    )
    assert body["certificate"]["name"] == "Bhaya Mitra"
    client.cookies.set("lang", "hi")
    page = client.post("/verify/result", data={"payload": text})
    dated = _words("hi")["not-yet-valid"].dated_advice.replace("{date}", "4 मार्च 2999")
    assert dated in visible_text(page.text)
