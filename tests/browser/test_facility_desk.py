"""The facility print desk in Chromium: a staff member signs in, finds a beneficiary by phone
and date of birth, opens the print view, and "prints" it (Chromium's own print-to-PDF with
the print stylesheet): the printed page carries the certificate and a QR code that scans
back to the certificate's payload, for a vaccination and for a lab test. axe-core checks
every page; screenshots (``desk-<page>-en-1280.png``) go to the screenshot folder
(tests/browser/conftest.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from certdist.domain.models import TEST
from certdist.domain.requests import TestCertificationRequest
from certdist.formats.divoc_qr import encode_payload
from certdist.services.issuance.demo import DEMO_MOBILE
from certdist.services.issuance.service import IssuanceService
from tests.browser.conftest import LiveServer, assert_accessible, screenshot, staff_finds_asha
from tests.support.imaging import rasterise_pdf, scan
from tests.support.request_bodies import lab_test_request_body


def test_staff_finds_and_prints_a_certificate(
    live_server: LiveServer, browser: Any, axe_script: Path, screenshots: Path, tmp_path: Path
) -> None:
    context = browser.new_context(bypass_csp=True, locale="en-GB")
    page = context.new_page()
    try:
        page.goto(live_server.url + "/facility")
        assert_accessible(page, axe_script)
        page.get_by_label("User name").fill("nurse-7")
        page.get_by_label("Password").fill("certdist-demo")
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("heading", name="Find a beneficiary").wait_for()

        page.get_by_label("Mobile number").fill(DEMO_MOBILE)
        page.get_by_label("Date of birth").fill("1968-03-14")
        page.get_by_role("button", name="Search").click()
        page.get_by_role("link", name="Vaccination certificate – Asha Devi").click()
        page.get_by_role("heading", name="Vaccination certificate with booster dose").wait_for()
        assert_accessible(page, axe_script)
        screenshot(page, screenshots, "desk-print", "en")

        printed = page.pdf(format="A4")  # Chromium prints with the print stylesheet
        image = rasterise_pdf(printed, tmp_path, dpi=200)
        record = live_server.services.database.certificates().for_beneficiary("DEMO0001")
        latest = max(record, key=lambda r: r.dose or 0)
        expected = encode_payload(
            latest.certificate, form=live_server.services.settings.qr_payload_form
        )
        assert expected in scan(image)
    finally:
        context.close()


def test_the_desk_without_javascript(live_server: LiveServer, browser: Any) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(live_server.url + "/facility")
        page.get_by_label("User name").fill("nurse-8")
        page.get_by_label("Password").fill("wrong")
        page.get_by_role("button", name="Sign in").click()
        assert page.get_by_role("alert").is_visible()
        page.get_by_label("Password").fill("certdist-demo")
        page.get_by_role("button", name="Sign in").click()
        page.get_by_label("Mobile number").fill(DEMO_MOBILE)
        page.get_by_label("Date of birth").fill("1996-01-25")
        page.get_by_role("button", name="Search").click()
        page.get_by_role("link", name="Vaccination certificate – प्रिया शर्मा").click()
        assert page.get_by_role("img", name="QR code of certificate").count() == 1
        page.get_by_role("button", name="Sign out").click()
        page.goto(live_server.url + "/facility/certificates/DEMO0003")
        assert page.get_by_label("User name").is_visible()
    finally:
        context.close()


def _issue_lab_test(issuance: IssuanceService, code: str, name: str) -> None:
    """A lab test on the demo number for someone born on Asha Devi's date of birth."""
    body = lab_test_request_body(code, mobile=DEMO_MOBILE)
    body["recipient"] |= {"name": name, "dob": "1968-03-14"}
    issuance.certify([TestCertificationRequest.model_validate(body)])


def test_staff_finds_and_prints_a_lab_test(
    live_server: LiveServer, browser: Any, axe_script: Path, screenshots: Path, tmp_path: Path
) -> None:
    services = live_server.services
    _issue_lab_test(
        services.issuance.certificates, "DEMO0001", "Asha Devi"
    )  # she also has vaccinations
    _issue_lab_test(services.issuance.certificates, "LAB0042", "Mohan Das")  # only a lab test
    context = browser.new_context(bypass_csp=True, locale="en-GB")
    page = context.new_page()
    try:
        staff_finds_asha(page, live_server)
        page.get_by_role("status").filter(has_text="2 beneficiaries found").wait_for()
        assert page.get_by_role("link", name="Vaccination certificate – Asha Devi").count() == 1
        assert page.get_by_role("link", name="Vaccination certificate – Mohan Das").count() == 0
        assert_accessible(page, axe_script)
        screenshot(page, screenshots, "desk-results", "en")

        page.get_by_role("link", name="Test certificate – Mohan Das").click()
        page.get_by_role("heading", name="Test certificate").wait_for()
        assert_accessible(page, axe_script)
        screenshot(page, screenshots, "desk-print-test", "en")
        printed = page.pdf(format="A4")
        record = services.distribution.certificates.bundle("LAB0042", TEST).latest
        expected = encode_payload(record.certificate, form=services.settings.qr_payload_form)
        assert expected in scan(rasterise_pdf(printed, tmp_path, dpi=200))

        # The vaccination address of someone with only a lab test says what is missing.
        page.goto(live_server.url + "/facility/certificates/LAB0042")
        page.get_by_role("heading", name="No vaccination certificate").wait_for()
        assert_accessible(page, axe_script)
        page.get_by_role("link", name="Back to search").click()
        page.get_by_role("heading", name="Find a beneficiary").wait_for()
    finally:
        context.close()
