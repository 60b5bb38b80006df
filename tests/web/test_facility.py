"""The facility print desk: staff sign-in (local and OpenID Connect + PKCE), search, print."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient
from sqlalchemy import select

from certdist.config import PrintSettings, TrustedIssuer
from certdist.domain.requests import CertificationRequest, TestCertificationRequest
from certdist.errors import ConfigurationError
from certdist.formats.divoc_qr import encode_payload
from certdist.formats.qr_image import qr_svg
from certdist.storage.schema import download_audit
from certdist.wiring import Services
from tests.support.clients import ClientFactory
from tests.support.loopback import QuietHandler, serving
from tests.support.oidc_provider import API_AUDIENCE, CLIENT_ID, ISSUER, FakeOidcProvider
from tests.support.request_bodies import lab_test_request_body, vaccination_request_body
from tests.support.services import ServicesFactory

MOBILE = "9880414889"
DOB = "1994-11-30"  # the factory's date of birth


def _issue(services: Services, code: str = "BEN0001") -> None:
    body = vaccination_request_body(code, mobile=MOBILE)
    services.issuance.certificates.certify([CertificationRequest.model_validate(body)])


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def _local_sign_in(client: TestClient) -> None:
    page = client.get("/facility")
    assert page.status_code == 200
    answer = client.post(
        "/facility/login/local",
        data={"username": "nurse-7", "password": "certdist-demo", "csrf_token": _csrf(page.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/facility"


def test_staff_signs_in_finds_and_prints_a_certificate(
    client: TestClient, services: Services
) -> None:
    _issue(services)
    _local_sign_in(client)
    search_page = client.get("/facility")
    assert "Find a beneficiary" in search_page.text
    found = client.post(
        "/facility/search",
        data={"mobile": MOBILE, "dob": DOB, "csrf_token": _csrf(search_page.text)},
    )
    assert found.status_code == 200
    assert "Bhaya Mitra" in found.text
    assert "/facility/certificates/BEN0001" in found.text

    printed = client.get("/facility/certificates/BEN0001")
    assert printed.status_code == 200
    assert "Bhaya Mitra" in printed.text
    # The QR is the certificate's own payload, drawn as vector graphics (crisp on paper).
    record = services.database.certificates().for_beneficiary("BEN0001")[0]
    payload = encode_payload(record.certificate, form=services.settings.qr_payload_form)
    assert qr_svg(payload, module_px=3) in printed.text
    assert printed.headers["cache-control"] == "no-store"

    pdf = client.get("/facility/certificates/BEN0001/pdf")
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF-")

    services.database.audit().flush()
    with services.database.transactions.read() as connection:
        rows = connection.execute(
            select(download_audit.c.actor, download_audit.c.format, download_audit.c.permission)
        ).all()
    assert ("nurse-7", "print-view", "print") in rows
    assert ("nurse-7", "pdf", "print") in rows


def test_search_with_no_match_and_bad_input(client: TestClient, services: Services) -> None:
    _issue(services)
    _local_sign_in(client)
    token = _csrf(client.get("/facility").text)
    none = client.post(
        "/facility/search", data={"mobile": MOBILE, "dob": "2000-01-01", "csrf_token": token}
    )
    assert none.status_code == 200
    assert "0 beneficiaries found" in none.text
    bad = client.post(
        "/facility/search", data={"mobile": "12", "dob": "14/03/1980", "csrf_token": token}
    )
    assert bad.status_code == 400
    assert 'role="alert"' in bad.text


def test_forms_need_their_csrf_token(client: TestClient, services: Services) -> None:
    client.get("/facility")
    refused = client.post(
        "/facility/login/local",
        data={"username": "x", "password": "certdist-demo", "csrf_token": "forged"},
        follow_redirects=False,
    )
    assert refused.status_code == 403
    _local_sign_in(client)
    search = client.post("/facility/search", data={"mobile": MOBILE, "dob": DOB})
    assert search.status_code == 403


def test_wrong_password_is_refused(client: TestClient) -> None:
    page = client.get("/facility")
    answer = client.post(
        "/facility/login/local",
        data={"username": "nurse", "password": "guess", "csrf_token": _csrf(page.text)},
    )
    assert answer.status_code == 401
    assert "not right" in answer.text
    assert client.get("/facility/certificates/BEN0001", follow_redirects=False).status_code == 303


def test_password_guessing_is_rate_limited(client: TestClient) -> None:
    token = _csrf(client.get("/facility").text)
    statuses = [
        client.post(
            "/facility/login/local",
            data={"username": "nurse", "password": f"guess-{n}", "csrf_token": token},
        ).status_code
        for n in range(12)
    ]
    assert statuses[:10] == [401] * 10
    assert statuses[10:] == [429, 429]
    refused = client.post(
        "/facility/login/local",
        data={"username": "nurse", "password": "certdist-demo", "csrf_token": token},
    )
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0


def test_pages_need_a_session_and_logout_ends_it(client: TestClient, services: Services) -> None:
    _issue(services)
    for path in ("/facility/certificates/BEN0001", "/facility/certificates/BEN0001/pdf"):
        assert client.get(path, follow_redirects=False).headers["location"] == "/facility"
    _local_sign_in(client)
    cookie = client.cookies.get("certdist_staff")
    assert cookie
    token = _csrf(client.get("/facility").text)
    client.post("/facility/logout", data={"csrf_token": token}, follow_redirects=False)
    # The server forgot the session: the old cookie no longer works.
    client.cookies.set("certdist_staff", cookie)
    assert client.get("/facility/certificates/BEN0001", follow_redirects=False).status_code == 303


def test_unknown_beneficiary_is_404(client: TestClient) -> None:
    _local_sign_in(client)
    assert client.get("/facility/certificates/NOSUCH").status_code == 404
    # No beneficiary id holds a NUL byte (PostgreSQL refuses one in a query: not a 500).
    assert client.get("/facility/certificates/a%00b").status_code == 404
    assert client.get("/facility/certificates/a%00b/pdf").status_code == 404


def test_production_refuses_local_staff_sign_in() -> None:
    problems = PrintSettings().production_problems()
    assert any("local_staff_sign_in" in p for p in problems)
    assert PrintSettings(local_staff_sign_in=False).production_problems() == []


# --- OpenID Connect ----------------------------------------------------------------------


@pytest.fixture
def provider() -> Iterator[tuple[FakeOidcProvider, str]]:
    """The fake provider's token endpoint over real HTTP (the service posts to it)."""
    fake = FakeOidcProvider()

    class TokenEndpoint(QuietHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = dict(parse_qsl(self.rfile.read(length).decode()))
            status, body = fake.token(self.path, form)
            self.answer(status, body, {"Content-Type": "application/json"})

    with serving(TokenEndpoint) as base:
        yield fake, base + "/token"


@pytest.fixture
def oidc_client(
    tmp_path: Path, make_client: ClientFactory, provider: tuple[FakeOidcProvider, str]
) -> TestClient:
    fake, token_url = provider
    pem = tmp_path / "idp.pem"
    pem.write_bytes(
        fake.key.get_op_key("verify").public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    client, _ = make_client(
        trusted_issuers=[TrustedIssuer(issuer=ISSUER, audience=API_AUDIENCE, public_key_file=pem)],
        printing=PrintSettings(
            oidc_issuer=ISSUER,
            oidc_client_id=CLIENT_ID,
            oidc_authorization_endpoint=f"{ISSUER}/auth",
            oidc_token_endpoint=token_url,
            local_staff_sign_in=False,
        ),
    )
    return client


def test_staff_signs_in_through_the_provider(
    oidc_client: TestClient, provider: tuple[FakeOidcProvider, str]
) -> None:
    fake, _ = provider
    login = oidc_client.get("/facility")
    assert "Sign in with your organisation account" in login.text
    assert "Local sign-in" not in login.text
    start = oidc_client.get("/facility/login/oidc", follow_redirects=False)
    assert start.status_code == 303
    location = start.headers["location"]
    assert location.startswith(f"{ISSUER}/auth?")
    callback = oidc_client.get(
        "/facility/oidc/callback", params=fake.authorize(location), follow_redirects=False
    )
    assert callback.status_code == 303
    assert "Find a beneficiary" in oidc_client.get("/facility").text
    # The local sign-in is off in these settings.
    assert oidc_client.post("/facility/login/local", data={}).status_code == 404


def test_a_callback_delivered_to_another_browser_is_refused(
    oidc_client: TestClient, provider: tuple[FakeOidcProvider, str]
) -> None:
    fake, _ = provider
    location = oidc_client.get("/facility/login/oidc", follow_redirects=False).headers["location"]
    answer = fake.authorize(location)
    oidc_client.cookies.clear()  # the victim's browser: no pre-sign-in cookie of this flow
    refused = oidc_client.get("/facility/oidc/callback", params=answer, follow_redirects=False)
    assert refused.status_code == 401
    assert "certdist_staff" not in refused.cookies


def test_provider_issuer_must_be_trusted(make_services: ServicesFactory) -> None:
    with pytest.raises(ConfigurationError, match="trusted_issuers"):
        make_services(printing=PrintSettings(oidc_issuer=ISSUER, oidc_client_id=CLIENT_ID))


def test_the_desk_prints_only_what_the_session_found(
    client: TestClient, services: Services
) -> None:
    """An id typed into the address bar is not a search: it answers like an unknown id."""
    _issue(services, "BEN0001")
    _issue(services, "BEN0002")
    services.issuance.certificates.certify(
        [
            CertificationRequest.model_validate(
                vaccination_request_body("BEN0003", mobile="9000000077")
            )
        ]
    )
    _local_sign_in(client)
    for path in ("/facility/certificates/BEN0001", "/facility/certificates/BEN0001/pdf"):
        assert client.get(path).status_code == 404
    token = _csrf(client.get("/facility").text)
    found = client.post(
        "/facility/search", data={"mobile": MOBILE, "dob": DOB, "csrf_token": token}
    )
    assert "/facility/certificates/BEN0001" in found.text
    assert "/facility/certificates/BEN0002" in found.text
    for code in ("BEN0001", "BEN0002"):
        assert client.get(f"/facility/certificates/{code}").status_code == 200
        assert client.get(f"/facility/certificates/{code}/pdf").status_code == 200
    # Another number's beneficiary stays out of reach, and unknown and found-elsewhere ids
    # get the same answer.
    other = client.get("/facility/certificates/BEN0003")
    unknown = client.get("/facility/certificates/BEN9999")
    assert other.status_code == unknown.status_code == 404


# --- Lab-test certificates ---------------------------------------------------------------


def _issue_lab_test(services: Services, code: str, mobile: str = MOBILE) -> str:
    """Issue a lab-test certificate (the factory's date of birth); returns its id."""
    request = TestCertificationRequest.model_validate(lab_test_request_body(code, mobile=mobile))
    return services.issuance.certificates.certify([request])[0].certificate_id


def _search(client: TestClient, mobile: str = MOBILE) -> str:
    token = _csrf(client.get("/facility").text)
    found = client.post(
        "/facility/search", data={"mobile": mobile, "dob": DOB, "csrf_token": token}
    )
    assert found.status_code == 200
    return found.text


def _print_audit(services: Services, certificate_id: str) -> set[tuple[str, str, str]]:
    services.database.audit().flush()
    with services.database.transactions.read() as connection:
        rows = connection.execute(
            select(
                download_audit.c.actor, download_audit.c.format, download_audit.c.permission
            ).where(download_audit.c.certificate_id == certificate_id)
        ).all()
    return {(row.actor, row.format, row.permission) for row in rows}


def test_a_beneficiary_with_both_kinds_has_both_printed(
    client: TestClient, services: Services
) -> None:
    _issue(services, "BEN0001")
    test_id = _issue_lab_test(services, "BEN0001")
    _local_sign_in(client)
    results = _search(client)
    assert 'href="/facility/certificates/BEN0001"' in results
    assert 'href="/facility/certificates/BEN0001/test"' in results
    assert results.count("Bhaya Mitra</span>") == 2  # each link names whose certificate

    vaccination = client.get("/facility/certificates/BEN0001")
    assert vaccination.status_code == 200
    assert "Test certificate" not in vaccination.text
    printed = client.get("/facility/certificates/BEN0001/test")
    assert printed.status_code == 200
    assert "<h1>Test certificate</h1>" in printed.text
    assert "Negative" in printed.text  # the test's result, from the sheet's test facts
    assert 'href="/facility/certificates/BEN0001/test/pdf"' in printed.text
    record = services.database.certificates().get(test_id)
    assert record is not None
    payload = encode_payload(record.certificate, form=services.settings.qr_payload_form)
    assert qr_svg(payload, module_px=3) in printed.text

    pdf = client.get("/facility/certificates/BEN0001/test/pdf")
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF-")
    assert pdf.headers["cache-control"] == "no-store"
    # Both documents of the lab test are audited under the staff member's name.
    assert _print_audit(services, test_id) == {
        ("nurse-7", "print-view", "print"),
        ("nurse-7", "pdf", "print"),
    }


def test_a_beneficiary_with_only_a_lab_test_is_found_and_printed(
    client: TestClient, services: Services
) -> None:
    test_id = _issue_lab_test(services, "LAB0001")
    _local_sign_in(client)
    results = _search(client)
    assert "1 beneficiary found" in results
    assert 'href="/facility/certificates/LAB0001/test"' in results
    assert 'href="/facility/certificates/LAB0001"' not in results
    assert client.get("/facility/certificates/LAB0001/test").status_code == 200
    assert client.get("/facility/certificates/LAB0001/test/pdf").status_code == 200
    assert _print_audit(services, test_id) == {
        ("nurse-7", "print-view", "print"),
        ("nurse-7", "pdf", "print"),
    }

    # The vaccination address of a found beneficiary says what is missing.
    for path in ("/facility/certificates/LAB0001", "/facility/certificates/LAB0001/pdf"):
        missing = client.get(path)
        assert missing.status_code == 404
        assert "<h1>No vaccination certificate</h1>" in missing.text
        assert 'href="/facility"' in missing.text


def test_an_unsearched_lab_test_answers_like_an_unknown_one(
    client: TestClient, services: Services
) -> None:
    _issue_lab_test(services, "LAB0001")
    _issue_lab_test(services, "LAB0002", mobile="9000000077")
    _local_sign_in(client)
    before = client.get("/facility/certificates/LAB0001/test")
    assert before.status_code == 404
    assert "Page not found" in before.text
    _search(client)
    assert client.get("/facility/certificates/LAB0001/test").status_code == 200
    for code in ("LAB0002", "LAB9999"):
        for suffix in ("/test", "/test/pdf", ""):
            answer = client.get(f"/facility/certificates/{code}{suffix}")
            assert answer.status_code == 404
            assert "Page not found" in answer.text  # not the found-beneficiary page
    assert (
        _print_audit(
            services, services.database.certificates().for_beneficiary("LAB0002")[0].certificate_id
        )
        == set()
    )
