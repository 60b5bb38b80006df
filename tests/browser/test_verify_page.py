"""The public verify page in Chromium: upload a photo of a QR code, see the outcome."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from PIL import Image

from certdist.domain.requests import CertificationRequest
from certdist.formats.divoc_qr import encode_payload
from certdist.formats.qr_image import qr_png
from tests.browser.conftest import LiveServer, assert_accessible, launch_chromium, qr_photo
from tests.support.request_bodies import vaccination_request_body


def test_uploading_a_qr_photo_shows_valid(
    live_server: LiveServer, browser: Any, tmp_path: Path
) -> None:
    photo = qr_photo(live_server, tmp_path)
    page = browser.new_page()
    try:
        page.goto(f"{live_server.url}/verify")
        page.get_by_label("Photo of the QR code", exact=True).set_input_files(str(photo))
        page.get_by_role("button", name="Check certificate").click()
        page.wait_for_url(f"{live_server.url}/verify/result")
        outcome = page.locator(".outcome")
        assert outcome.get_attribute("role") == "status"
        assert "Valid: this certificate is genuine and current." in outcome.inner_text()
        assert page.locator('[data-field="name"]').inner_text() == "Bhaya Mitra"
    finally:
        page.close()


def test_revoked_is_announced_and_scripts_work(
    live_server: LiveServer, browser: Any, tmp_path: Path
) -> None:
    photo = qr_photo(live_server, tmp_path)
    live_server.services.issuance.certificates.revoke("BEN0001", None, reason="issued in error")
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(f"{live_server.url}/verify")
        # Our script ran: browsers with a camera API get the scan button.
        assert page.get_by_role("button", name="Scan with camera").is_visible()
        assert not page.get_by_role("button", name="Stop camera").is_visible()
        page.get_by_label("Photo of the QR code", exact=True).set_input_files(str(photo))
        page.get_by_role("button", name="Check certificate").click()
        alert = page.get_by_role("alert")
        assert "Revoked: the issuer has withdrawn this certificate." in alert.inner_text()
    finally:
        page.close()
    assert errors == []


def test_without_javascript_the_form_still_works(
    live_server: LiveServer, browser: Any, tmp_path: Path
) -> None:
    photo = qr_photo(live_server, tmp_path)
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/verify")
        assert not page.get_by_role("button", name="Scan with camera").is_visible()
        page.get_by_label("Photo of the QR code", exact=True).set_input_files(str(photo))
        page.get_by_role("button", name="Check certificate").click()
        assert "Valid:" in page.locator(".outcome-status").inner_text()
    finally:
        context.close()


def y4m_video(png: bytes, path: Path, *, width: int = 640, height: int = 480) -> Path:
    """A few grey frames showing ``png`` in the middle: Chromium's fake camera input."""
    image = Image.open(io.BytesIO(png)).convert("L")
    frame = Image.new("L", (width, height), 255)
    frame.paste(image, ((width - image.width) // 2, (height - image.height) // 2))
    chroma = bytes([128]) * (width // 2 * height // 2)
    with path.open("wb") as video:
        video.write(f"YUV4MPEG2 W{width} H{height} F5:1 Ip A1:1 C420jpeg\n".encode("ascii"))
        for _ in range(5):
            video.write(b"FRAME\n" + frame.tobytes() + chroma + chroma)
    return path


def test_scanning_with_the_camera(live_server: LiveServer, playwright: Any, tmp_path: Path) -> None:
    request = CertificationRequest.model_validate(vaccination_request_body())
    issued = live_server.services.issuance.certificates.certify([request])
    credential = live_server.services.issuance.certificates.signed_credential(
        issued[0].certificate_id
    )
    video = y4m_video(qr_png(encode_payload(credential), module_px=3), tmp_path / "qr.y4m")
    camera_browser = launch_chromium(
        playwright,
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    )
    try:
        page = camera_browser.new_page()
        page.goto(f"{live_server.url}/verify")
        page.get_by_role("button", name="Scan with camera").click()
        result = page.locator("#camera-result .outcome")
        result.wait_for(timeout=20_000)
        assert "outcome-valid" in (result.get_attribute("class") or "")
        assert result.locator('[data-field="name"]').inner_text() == "Bhaya Mitra"
        assert result.locator('[data-field="doses"]').inner_text() == "1 / 2"
        # The words of the result page, picked by code from those the page rendered.
        assert result.locator('[data-field="heading"]').inner_text() == "The certificate is valid"
        assert result.locator('[data-field="advice"]').inner_text().startswith("Check that the")
        assert result.locator("[data-words]").count() == 0
        assert not page.locator("#camera-video").is_visible()  # the camera was stopped
    finally:
        camera_browser.close()


def test_the_verify_pages_meet_wcag_aa(
    live_server: LiveServer, browser: Any, axe_script: Path, tmp_path: Path
) -> None:
    photo = qr_photo(live_server, tmp_path)
    context = browser.new_context(bypass_csp=True, viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/verify")
        assert_accessible(page, axe_script)
        page.get_by_role("button", name="Check certificate").click()  # nothing chosen
        assert page.get_by_role("alert").is_visible()
        assert_accessible(page, axe_script)
        page.get_by_label("Photo of the QR code", exact=True).set_input_files(str(photo))
        page.get_by_role("button", name="Check certificate").click()
        page.wait_for_url(f"{live_server.url}/verify/result")
        assert_accessible(page, axe_script)
        # The page of a photo without a QR code: a heading, the reason and what to do.
        blank = tmp_path / "blank.png"
        Image.new("L", (200, 200), 255).save(blank, "PNG")
        page.goto(f"{live_server.url}/verify")
        page.get_by_label("Photo of the QR code", exact=True).set_input_files(str(blank))
        page.get_by_role("button", name="Check certificate").click()
        page.get_by_role("heading", name="No QR code found").wait_for(timeout=10_000)
        assert_accessible(page, axe_script)
    finally:
        context.close()
