"""The citizen portal over HTTP: pages, languages, login, downloads, scoping, brute force."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from certdist.config import PortalSettings, SmsSettings
from certdist.domain.models import TEST
from certdist.domain.requests import TestCertificationRequest
from certdist.services.issuance.demo import DEMO_MOBILE
from certdist.wiring import Services
from tests.support.clients import ClientFactory, client_for, client_from
from tests.support.imaging import open_image, scan
from tests.support.portal import (
    NEIGHBOUR,
    csrf_of,
    log_in,
    outbox_reader,
    seed_portal,
    wait_for_code,
)
from tests.support.request_bodies import lab_test_request_body
from tests.support.services import ServicesFactory

UNREGISTERED = "+919000000099"
LINK = re.compile(r'href="(/portal/certificates/[^"]+)"')


@pytest.fixture
def portal(client: TestClient, services: Services) -> TestClient:
    seed_portal(services)
    return client


def _links(client: TestClient) -> list[str]:
    page = client.get("/portal/certificates")
    assert page.status_code == 200
    return sorted(set(LINK.findall(page.text)))


def test_the_home_page_offers_the_download(portal: TestClient) -> None:
    page = portal.get("/")
    assert page.status_code == 200
    assert '<html lang="en"' in page.text
    assert "Download your Vaccination Certificate" in page.text
    assert 'href="/portal/login"' in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_the_language_comes_from_the_cookie_then_accept_language(portal: TestClient) -> None:
    hindi = portal.get("/", headers={"Accept-Language": "hi-IN,hi;q=0.9,en;q=0.8"})
    assert '<html lang="hi"' in hindi.text
    assert "अपना टीकाकरण प्रमाणपत्र डाउनलोड करें" in hindi.text
    switched = portal.get("/language/en?next=/portal/login", follow_redirects=False)
    assert switched.status_code == 303
    assert switched.headers["location"] == "/portal/login"
    assert "lang=en" in switched.headers["set-cookie"]
    english = portal.get("/", headers={"Accept-Language": "hi"})
    assert '<html lang="en"' in english.text


def test_the_language_switch_never_redirects_off_site(portal: TestClient) -> None:
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example", ""):
        answer = portal.get("/language/hi", params={"next": target}, follow_redirects=False)
        assert answer.headers["location"] == "/"


def test_the_whole_journey_downloads_every_format(portal: TestClient, services: Services) -> None:
    log_in(portal, services.messaging.dev_inbox, DEMO_MOBILE)
    page = portal.get("/portal/certificates")
    for name in ("Asha Devi", "Ravi Kumar", "प्रिया शर्मा"):
        assert name in page.text
    assert "Neighbour" not in page.text
    links = _links(portal)
    formats = services.portal.certificates.formats()
    assert len([link for link in links if "/download/" in link]) == 3 * len(formats)
    media_types = {f"/download/{fmt.name}": fmt.media_type for fmt in formats}
    filenames: list[str] = []
    for link in links:
        answer = portal.get(link, follow_redirects=False)
        if answer.status_code == 303:  # an EU DCC for a name not in Latin letters
            assert "/download/eu-dcc" in link, link
            assert re.fullmatch(
                r"/portal/certificates/\d+/eu-dcc\?pdf=[01]", answer.headers["location"]
            )
            continue
        assert answer.status_code == 200, link
        for suffix, media_type in media_types.items():
            if link.endswith(suffix):
                assert answer.headers["content-type"].startswith(media_type)
                assert answer.headers["content-disposition"].startswith("attachment;")
        if "/download/" in link:
            filenames.append(answer.headers["content-disposition"].split("filename=")[1])
    # Named after the person and the format, so that no download overwrites another.
    assert len(set(filenames)) == len(filenames)
    asha = _certificate_id_of(services, "DEMO0001")
    assert f'"certificate-asha-devi-pdf-{asha}.pdf"' in filenames
    assert f'"certificate-asha-devi-shc-file-{asha}.smart-health-card"' in filenames


def _certificate_id_of(services: Services, code: str) -> str:
    records = services.database.certificates().for_beneficiary(code)
    return max(records, key=lambda r: r.dose or 0).certificate_id


def test_the_eu_certificate_asks_for_passport_names_when_it_cannot_derive_them(
    portal: TestClient, services: Services
) -> None:
    log_in(portal, services.messaging.dev_inbox, DEMO_MOBILE)
    certificate_id = _certificate_id_of(services, "DEMO0003")  # प्रिया शर्मा
    asked = portal.get(f"/portal/certificates/{certificate_id}/download/eu-dcc")
    assert "Names for the EU certificate" in asked.text
    token = csrf_of(asked.text)
    form = f"/portal/certificates/{certificate_id}/eu-dcc"
    wrong = portal.post(
        form, data={"surname": "शर्मा", "given_names": "Priya", "pdf": "false", "csrf_token": token}
    )
    assert wrong.status_code == 400
    assert 'role="alert"' in wrong.text
    assert 'id="surname-error"' in wrong.text
    missing = portal.post(form, data={"surname": " ", "pdf": "false", "csrf_token": token})
    assert missing.status_code == 400
    unsigned = portal.post(form, data={"surname": "Sharma", "pdf": "false"})
    assert unsigned.status_code == 403
    png = portal.post(
        form,
        data={"surname": "Sharma", "given_names": "Priya", "pdf": "false", "csrf_token": token},
    )
    assert png.status_code == 200
    assert png.headers["content-type"] == "image/png"
    [text] = scan(open_image(png.content))
    verified = services.verifier.verify(text.decode())  # raises unless valid
    assert "Sharma" in verified.name
    assert "Priya" in verified.name
    pdf = portal.post(
        form, data={"surname": "Sharma", "given_names": "Priya", "pdf": "true", "csrf_token": token}
    )
    assert pdf.content.startswith(b"%PDF-")
    # Another citizen's certificate is not theirs to ask for.
    neighbour = _certificate_id_of(services, "NBR0001")
    assert portal.get(f"/portal/certificates/{neighbour}/eu-dcc").status_code == 404
    stranger = portal.post(
        f"/portal/certificates/{neighbour}/eu-dcc",
        data={"surname": "Sharma", "pdf": "false", "csrf_token": token},
    )
    assert stranger.status_code == 404


def test_an_unregistered_number_gets_the_same_answer(
    portal: TestClient, services: Services
) -> None:
    pages = []
    for mobile in (DEMO_MOBILE, UNREGISTERED):
        client = TestClient(portal.app)
        token = csrf_of(client.get("/portal/login").text)
        answer = client.post(
            "/portal/login", data={"mobile": mobile, "csrf_token": token}, follow_redirects=False
        )
        page = client.get("/portal/verify")
        pages.append(
            (
                answer.status_code,
                answer.headers["location"],
                answer.content,
                page.status_code,
                page.text.replace(mobile[-4:], "####").replace(token, "TOKEN"),
            )
        )
    assert pages[0] == pages[1]
    wait_for_code(outbox_reader(services.messaging.dev_inbox), DEMO_MOBILE)
    # Nothing at all, code or otherwise, goes to a number with no certificate.
    assert all(to != UNREGISTERED for to, _ in outbox_reader(services.messaging.dev_inbox)())


def test_a_bad_number_is_explained_on_the_form(portal: TestClient) -> None:
    token = csrf_of(portal.get("/portal/login").text)
    answer = portal.post("/portal/login", data={"mobile": "12ab", "csrf_token": token})
    assert answer.status_code == 400
    assert 'role="alert"' in answer.text
    assert 'aria-invalid="true"' in answer.text
    assert 'aria-describedby="mobile-hint mobile-error"' in answer.text


def test_forms_without_their_token_are_refused(portal: TestClient, services: Services) -> None:
    portal.get("/portal/login")
    for data in (
        {"mobile": DEMO_MOBILE},
        {"mobile": DEMO_MOBILE, "csrf_token": "forged"},
        {"mobile": DEMO_MOBILE, "csrf_token": "é" * 64},
    ):
        answer = portal.post("/portal/login", data=data)
        assert answer.status_code == 403
        assert "text/html" in answer.headers["content-type"]
    log_in(portal, services.messaging.dev_inbox, DEMO_MOBILE)
    assert portal.post("/portal/logout", data={"csrf_token": "forged"}).status_code == 403
    # Any text in the token field is refused the same way (compare_digest refuses non-ASCII).
    assert portal.post("/portal/logout", data={"csrf_token": "é" * 43}).status_code == 403
    assert portal.get("/portal/certificates").status_code == 200


def test_many_wrong_codes_never_log_in_and_end_in_429(
    portal: TestClient, services: Services
) -> None:
    token = csrf_of(portal.get("/portal/login").text)
    portal.post("/portal/login", data={"mobile": DEMO_MOBILE, "csrf_token": token})
    code = wait_for_code(outbox_reader(services.messaging.dev_inbox), DEMO_MOBILE)
    wrong = "000000" if code != "000000" else "111111"
    statuses = []
    for _ in range(12):
        answer = portal.post(
            "/portal/verify", data={"code": wrong, "csrf_token": token}, follow_redirects=False
        )
        statuses.append(answer.status_code)
        assert answer.headers.get("location") != "/portal/certificates"
    assert statuses[:10] == [401] * 10
    assert statuses[10:] == [429, 429]
    assert int(answer.headers["retry-after"]) > 0
    assert "Too many attempts" in answer.text
    right = portal.post(
        "/portal/verify", data={"code": code, "csrf_token": token}, follow_redirects=False
    )
    assert right.status_code == 429
    assert portal.get("/portal/certificates", follow_redirects=False).status_code == 303


def test_two_citizens_cannot_reach_each_others_certificates(
    portal: TestClient, services: Services
) -> None:
    family, neighbour = portal, TestClient(portal.app)
    log_in(family, services.messaging.dev_inbox, DEMO_MOBILE)
    log_in(neighbour, services.messaging.dev_inbox, NEIGHBOUR)
    for owner, other in ((family, neighbour), (neighbour, family)):
        links = _links(owner)
        assert links
        ids = {link.split("/")[3] for link in links}
        for link in links:
            assert other.get(link, follow_redirects=False).status_code == 404, link
        for certificate_id in ids:
            base = f"/portal/certificates/{certificate_id}"
            paths = ("/confirm", "/download/pdf", "/download/nope", "/print", "/qr", "/share")
            for path in (*paths, "/eu-dcc", "/download/eu-dcc", "/download/shc-file"):
                assert other.get(base + path, follow_redirects=False).status_code == 404, path
            token = csrf_of(other.get("/portal/certificates").text)
            for path, form in (
                ("/confirm", {"year": "1968"}),
                ("/share", {"kind": "full", "expiry": "7d"}),
                ("/email", {"to": "someone@example.org", "mode": "attachment"}),
                ("/eu-dcc", {"surname": "Sharma", "pdf": "false"}),
            ):
                answer = other.post(base + path, data={**form, "csrf_token": token})
                assert answer.status_code == 404, path


def test_logout_ends_the_session_on_the_server(portal: TestClient, services: Services) -> None:
    log_in(portal, services.messaging.dev_inbox, DEMO_MOBILE)
    stolen = dict(portal.cookies)
    token = csrf_of(portal.get("/portal/certificates").text)
    out = portal.post("/portal/logout", data={"csrf_token": token}, follow_redirects=False)
    assert out.headers["location"] == "/?logged_out=1"
    replay = TestClient(portal.app, cookies=stolen)
    assert replay.get("/portal/certificates", follow_redirects=False).status_code == 303


def test_the_session_id_changes_at_login(portal: TestClient, services: Services) -> None:
    portal.cookies.set("certdist_session", "planted-by-an-attacker", domain="testserver.local")
    answer = log_in(portal, services.messaging.dev_inbox, DEMO_MOBILE)
    issued = re.search(r"certdist_session=([^;]+)", answer.headers["set-cookie"])
    assert issued is not None
    assert len(issued.group(1)) >= 43
    assert portal.cookies.get("certdist_session") == issued.group(1)


def test_cookies_are_http_only_same_site_and_secure_over_https(
    make_services: ServicesFactory,
) -> None:
    services = make_services(public_url="https://certs.example")
    client = client_for(services, base_url="https://testserver")
    cookie = client.get("/portal/login").headers["set-cookie"]
    assert cookie.startswith("__Host-certdist_login=")
    for flag in ("HttpOnly", "Secure", "Path=/", "SameSite=lax"):
        assert flag in cookie


def test_the_year_of_birth_check_over_http(make_sqlite_services: ServicesFactory) -> None:
    services = make_sqlite_services(portal=PortalSettings(require_birth_year=True))
    seed_portal(services)
    client = client_for(services)
    log_in(client, services.messaging.dev_inbox, DEMO_MOBILE)
    links = _links(client)
    assert all(link.endswith("/confirm") for link in links)
    asha = links[0]
    download = asha.replace("/confirm", "/download/pdf")
    assert client.get(download, follow_redirects=False).headers["location"] == asha
    token = csrf_of(client.get(asha).text)
    wrong = client.post(asha, data={"year": "1900", "csrf_token": token})
    assert wrong.status_code == 400
    assert 'role="alert"' in wrong.text
    right = client.post(asha, data={"year": "", "csrf_token": token})
    assert right.status_code == 400
    years = {"Asha Devi": "1968", "Ravi Kumar": "1965", "प्रिया शर्मा": "1996"}
    for link in links:
        page = client.get(link).text
        (year,) = [year for name, year in years.items() if name in page]
        done = client.post(link, data={"year": year, "csrf_token": token})
        assert done.url.path == "/portal/certificates"
    assert client.get(download).content.startswith(b"%PDF")
    assert not [link for link in _links(client) if link.endswith("/confirm")]


def test_error_pages_are_html_for_pages_and_json_for_the_api(portal: TestClient) -> None:
    page = portal.get("/portal/nothing-here", headers={"Accept": "text/html"})
    assert page.status_code == 404
    assert "text/html" in page.headers["content-type"]
    assert "Page not found" in page.text
    api = portal.get("/certificate/api/nothing-here")
    assert api.status_code == 404
    assert api.json()["type"] == "invalid-input"


def test_the_developer_page_shows_the_inbox_to_this_machine_only(
    portal: TestClient, services: Services
) -> None:
    token = csrf_of(portal.get("/portal/login").text)
    portal.post("/portal/login", data={"mobile": DEMO_MOBILE, "csrf_token": token})
    code = wait_for_code(outbox_reader(services.messaging.dev_inbox), DEMO_MOBILE)
    for loopback in ("127.0.0.1", "::1"):
        assert f"#{code}" in client_from(loopback, services).get("/dev/sms").text
    # From a network (or anything that is no loopback address) the page does not exist.
    for elsewhere in ("192.168.1.20", "203.0.113.9", "testclient"):
        page = client_from(elsewhere, services).get("/dev/sms")
        assert page.status_code == 404
        assert code not in page.text


def test_the_login_page_gives_the_browser_a_device_id_and_keeps_it(portal: TestClient) -> None:
    first = portal.get("/portal/login")
    device = first.cookies.get("certdist_device")
    assert device is not None
    assert len(device) >= 22
    assert "max-age=15552000" in first.headers["set-cookie"].lower()  # 180 days
    assert portal.get("/portal/login").cookies.get("certdist_device") in (None, device)
    assert portal.cookies.get("certdist_device") == device


def test_the_developer_page_is_absent_without_the_outbox(
    make_sqlite_services: ServicesFactory,
) -> None:
    services = make_sqlite_services(
        sms=SmsSettings(backend="http", http_url="http://127.0.0.1:9/sms")
    )
    assert client_for(services).get("/dev/sms").status_code == 404


@pytest.fixture
def hindi(portal: TestClient) -> TestClient:
    portal.cookies.set("lang", "hi")
    return portal


def test_the_pages_are_in_hindi(hindi: TestClient, services: Services) -> None:
    log_in(hindi, services.messaging.dev_inbox, DEMO_MOBILE)
    page = hindi.get("/portal/certificates").text
    assert '<html lang="hi"' in page
    assert "आपके प्रमाणपत्र" in page
    sms = services.messaging.dev_inbox
    assert sms is not None
    assert "टीकाकरण प्रमाणपत्र" in sms.latest(1)[0].body


LAB_MOBILE = "+919123456780"


def test_a_lab_test_is_offered_only_the_formats_that_render_it(
    client: TestClient, services: Services
) -> None:
    body = lab_test_request_body("LABP1", mobile=LAB_MOBILE[3:])
    services.issuance.certificates.certify([TestCertificationRequest.model_validate(body)])
    log_in(client, services.messaging.dev_inbox, LAB_MOBILE)
    downloads = [link for link in _links(client) if "/download/" in link]
    offered = {link.rsplit("/", 1)[1] for link in downloads}
    expected = {fmt.name for fmt in services.portal.certificates.formats(TEST)}
    assert offered == expected
    assert {"shc", "shc-pdf", "shc-file", "eu-dcc", "eu-dcc-pdf", "pdf", "qr", "json"} <= offered
    assert "fhir" not in offered
    for link in downloads:
        answer = client.get(link, follow_redirects=False)
        assert answer.status_code == 200, link
    # A link never offered (typed by hand) says the format is not available.
    [certificate_path] = {link.rsplit("/download/", 1)[0] for link in downloads}
    refused = client.get(f"{certificate_path}/download/fhir", follow_redirects=False)
    assert refused.status_code == 422
    assert "This format is not available" in refused.text


def test_strangers_cannot_lock_the_owners_browser_out(make_client: ClientFactory) -> None:
    owner, services = make_client(
        portal=PortalSettings(otp_number_free_guesses=2, otp_number_free_sends=2)
    )
    seed_portal(services)
    inbox = services.messaging.dev_inbox
    log_in(owner, inbox, DEMO_MOBILE)  # this browser is now recognised for the number
    owner.post(
        "/portal/logout", data={"csrf_token": csrf_of(owner.get("/portal/certificates").text)}
    )
    # Strangers, each a new browser, ask for codes and guess until the number is held back.
    statuses = set()
    for _ in range(8):
        stranger = TestClient(owner.app)
        token = csrf_of(stranger.get("/portal/login").text)
        for path, form in (
            ("/portal/login", {"mobile": DEMO_MOBILE}),
            ("/portal/verify", {"code": "000000"}),
        ):
            answer = stranger.post(path, data={**form, "csrf_token": token}, follow_redirects=False)
            statuses.add(answer.status_code)
    assert 429 in statuses  # the number-wide allowance of strangers ran out
    # The owner's browser logs in at once, with a 6-digit code.
    answer = log_in(owner, inbox, DEMO_MOBILE)
    assert answer.headers["location"] == "/portal/certificates"


def test_the_code_page_says_how_many_tries_are_left_and_when_to_ask_again(
    make_client: ClientFactory,
) -> None:
    client, services = make_client(portal=PortalSettings(otp_sends_per_phone=1))
    seed_portal(services)
    token = csrf_of(client.get("/portal/login").text)
    client.post("/portal/login", data={"mobile": DEMO_MOBILE, "csrf_token": token})
    code = wait_for_code(outbox_reader(services.messaging.dev_inbox), DEMO_MOBILE)
    wrong = "000000" if code != "000000" else "111111"
    first = client.post("/portal/verify", data={"code": wrong, "csrf_token": token})
    assert first.status_code == 401
    assert "You have 2 more tries with this code." in first.text
    # One code an hour for this browser: the page says when the next may be asked for.
    assert "You can ask for a new code in 60 minutes." in first.text
    client.post("/portal/verify", data={"code": wrong, "csrf_token": token})
    last = client.post("/portal/verify", data={"code": wrong, "csrf_token": token})
    assert "This code can no longer be used." in last.text
