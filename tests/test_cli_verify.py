"""``certdist verify``: exit 0 valid, 1 invalid (also expired and revoked), 2 unreadable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from certdist.cli import main
from certdist.domain.requests import CertificationRequest, TestCertificationRequest
from certdist.formats.divoc_qr import encode_payload
from certdist.formats.qr_image import qr_png
from certdist.wiring import Services
from tests.support.issuing import issue_signed
from tests.support.pdf_samples import blank_page, certificate_pdf, page_with, pdf_of_pages
from tests.support.request_bodies import lab_test_request_body, vaccination_request_body
from tests.support.sd_jwt import named, present
from tests.support.services import ServicesFactory


def verify(cli_env: dict[str, str], *args: str, stdin: bytes | None = None) -> Result:
    return CliRunner().invoke(main, ["verify", *args], env=cli_env, input=stdin)


def verify_unreadable(cli_env: dict[str, str], path: Path, content: bytes) -> Result:
    """``certdist verify`` of a file with ``content``, which must be exit 2 (unreadable)."""
    path.write_bytes(content)
    result = verify(cli_env, str(path))
    assert result.exit_code == 2, result.output
    return result


def test_a_valid_qr_image(cli_env: dict[str, str], services: Services, tmp_path: Path) -> None:
    image = tmp_path / "qr.png"
    image.write_bytes(qr_png(encode_payload(issue_signed(services))))
    result = verify(cli_env, str(image))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("VALID: ")
    assert "Bhaya Mitra" in result.stdout
    assert "Covishield" in result.stdout


def test_standard_input(cli_env: dict[str, str], services: Services) -> None:
    result = verify(cli_env, "-", stdin=issue_signed(services).encode())
    assert result.exit_code == 0, result.output


def test_tampered_is_exit_1(cli_env: dict[str, str], services: Services, tmp_path: Path) -> None:
    path = tmp_path / "certificate.json"
    path.write_text(issue_signed(services).replace("Bhaya", "Bhayya"))
    result = verify(cli_env, str(path))
    assert result.exit_code == 1
    assert result.stdout.startswith("INVALID: the signature does not match")
    assert "Bhayya" not in result.stdout  # nothing of an invalid document is shown


def test_revoked_is_exit_1(cli_env: dict[str, str], services: Services, tmp_path: Path) -> None:
    path = tmp_path / "certificate.json"
    path.write_text(issue_signed(services))
    services.issuance.certificates.revoke("BEN0001", None, reason="issued in error")
    result = verify(cli_env, str(path))
    assert result.exit_code == 1
    assert result.stdout.startswith("REVOKED: ")


def test_foreign_key_from_settings(cli_env: dict[str, str], testdata: Path) -> None:
    signed = str(testdata / "divoc" / "rsa2018-signed.json")
    assert verify(cli_env, signed).exit_code == 1  # did:india is not trusted by default
    key = [{"id": "did:india", "path": str(testdata / "divoc" / "rsa2018-public.pem")}]
    trusted = {**cli_env, "CERTDIST_VERIFIER__CREDENTIAL_KEYS": json.dumps(key)}
    assert verify(trusted, signed).exit_code == 0
    assert verify(trusted, str(testdata / "divoc" / "rsa2018-tampered.json")).exit_code == 1


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("hello", "error: not a certificate"),
        ("HL0:XYZ", "error: not a certificate"),
        ("shc:/1", "error: a shc:/ payload must be followed by pairs of digits"),
    ],
)
def test_unreadable_is_exit_2(cli_env: dict[str, str], argument: str, message: str) -> None:
    result = verify(cli_env, argument)
    assert result.exit_code == 2
    assert result.stderr.startswith(message)


def test_too_large_is_exit_2(cli_env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    path.write_bytes(b"x" * 5000)
    result = verify({**cli_env, "CERTDIST_VERIFIER__MAX_IMAGE_BYTES": "4096"}, str(path))
    assert result.exit_code == 2
    assert "larger than 4096 bytes" in result.stderr


def test_certificate_text_is_never_read_as_markup(
    cli_env: dict[str, str], services: Services, tmp_path: Path
) -> None:
    request = CertificationRequest.model_validate(vaccination_request_body(name="Bhaya [/] Mitra"))
    issued = services.issuance.certificates.certify([request])
    path = tmp_path / "certificate.json"
    path.write_text(services.issuance.certificates.signed_credential(issued[0].certificate_id))
    result = verify(cli_env, str(path))
    assert result.exit_code == 0, result.output
    assert "Bhaya [/] Mitra" in result.stdout


def test_a_revocation_list_that_cannot_be_fetched_is_exit_1(
    cli_env: dict[str, str], testdata: Path
) -> None:
    examples = testdata / "shc" / "examples"
    issuer = {
        "iss": "https://spec.smarthealth.cards/examples/issuer",
        "jwks_file": str(examples / "issuer" / ".well-known" / "jwks.json"),
        "crl_base_url": "http://127.0.0.1:9/crl",  # the discard port: nothing listens
    }
    configured = {**cli_env, "CERTDIST_VERIFIER__SHC_ISSUERS": json.dumps([issuer])}
    result = verify(configured, str(examples / "example-00-d-jws.txt"))
    assert result.exit_code == 1, result.output
    assert result.stdout.startswith("INVALID: revocation: the issuer's revocation list could not")
    assert "John B. Anyperson" in result.stdout


# --- PDFs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_body", "format_name"),
    [
        (vaccination_request_body("PDF0001"), "pdf"),
        (vaccination_request_body("PDF0001"), "shc-pdf"),
        (vaccination_request_body("PDF0001"), "eu-dcc-pdf"),
        (lab_test_request_body("PDF0001"), "shc-pdf"),
        (lab_test_request_body("PDF0001"), "eu-dcc-pdf"),
    ],
)
def test_our_pdfs_verify(
    cli_env: dict[str, str],
    services: Services,
    tmp_path: Path,
    request_body: dict[str, object],
    format_name: str,
) -> None:
    model = TestCertificationRequest if "testDetails" in request_body else CertificationRequest
    services.issuance.certificates.certify([model.model_validate(request_body)])
    path = tmp_path / "certificate.pdf"
    path.write_bytes(certificate_pdf(services, "PDF0001", format_name))
    result = verify(cli_env, str(path))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("VALID: ")
    assert "Bhaya Mitra" in result.stdout


def test_a_pdf_from_standard_input(cli_env: dict[str, str], services: Services) -> None:
    pdf = pdf_of_pages(page_with(qr_png(encode_payload(issue_signed(services)))))
    result = verify(cli_env, "-", stdin=pdf)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (pdf_of_pages(blank_page()), "error: no QR code found in the PDF"),
        (pdf_of_pages(blank_page())[:300], "error: not a PDF we can read"),
        (b"Dear beneficiary, your certificate is attached.", "error: not a PDF we can read"),
        (qr_png(b"HC1:NOT-A-PDF"), "error: not a PDF we can read"),
    ],
    ids=["no-qr", "truncated", "text-named-pdf", "png-named-pdf"],
)
def test_unreadable_pdfs_are_exit_2(
    cli_env: dict[str, str], tmp_path: Path, content: bytes, message: str
) -> None:
    result = verify_unreadable(cli_env, tmp_path / "certificate.pdf", content)
    assert result.stderr.startswith(message)


def test_a_too_large_pdf_is_exit_2(cli_env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "certificate.pdf"
    path.write_bytes(pdf_of_pages(blank_page()) + b"%" * 5000)
    result = verify({**cli_env, "CERTDIST_VERIFIER__MAX_IMAGE_BYTES": "4096"}, str(path))
    assert result.exit_code == 2
    assert "larger than 4096 bytes" in result.stderr


# --- FHIR bundles ----------------------------------------------------------------------------


def exported_fhir(cli_env: dict[str, str], services: Services, tmp_path: Path) -> Path:
    """``certdist export --format fhir`` of an issued vaccination, as a file."""
    issue_signed(services)
    path = tmp_path / "bundle.fhir.json"
    result = CliRunner().invoke(
        main, ["export", "--format", "fhir", "--out", str(path), "BEN0001"], env=cli_env
    )
    assert result.exit_code == 0, result.output
    return path


def test_an_exported_fhir_bundle_verifies(
    cli_env: dict[str, str], services: Services, tmp_path: Path
) -> None:
    path = exported_fhir(cli_env, services, tmp_path)
    for result in (verify(cli_env, str(path)), verify(cli_env, "-", stdin=path.read_bytes())):
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith("VALID: ")
        assert "fhir" in result.stdout
        assert "Bhaya Mitra" in result.stdout


def test_a_tampered_fhir_bundle_is_exit_1(
    cli_env: dict[str, str], services: Services, tmp_path: Path
) -> None:
    path = exported_fhir(cli_env, services, tmp_path)
    path.write_text(path.read_text(encoding="utf-8").replace("Bhaya", "Bhaja"), encoding="utf-8")
    result = verify(cli_env, str(path))
    assert result.exit_code == 1
    assert result.stdout.startswith("INVALID: the bundle signature does not match its content")
    assert "Bhaja" not in result.stdout


def test_a_revoked_fhir_bundle_is_exit_1(
    cli_env: dict[str, str], services: Services, tmp_path: Path
) -> None:
    path = exported_fhir(cli_env, services, tmp_path)
    services.issuance.certificates.revoke("BEN0001", None, reason="issued in error")
    result = verify(cli_env, str(path))
    assert result.exit_code == 1
    assert result.stdout.startswith("REVOKED: ")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"resourceType": "Bundle", "type": "document"}', "carries no signature"),
        (b'{"resourceType": "Bundle", "signature": {}, "note": "\xff"}', "not valid JSON"),
    ],
)
def test_unreadable_fhir_bundles_are_exit_2(
    cli_env: dict[str, str], tmp_path: Path, content: bytes, message: str
) -> None:
    result = verify_unreadable(cli_env, tmp_path / "bundle.json", content)
    assert message in result.output


def test_a_utf16_fhir_bundle_is_malformed(cli_env: dict[str, str], tmp_path: Path) -> None:
    """UTF-16 JSON parses when detected, so it is recognised as a signed bundle; but a bundle
    is UTF-8 (as export writes it): a malformed certificate, exit 1."""
    path = tmp_path / "bundle.json"
    path.write_bytes('{"resourceType": "Bundle", "signature": {}}'.encode("utf-16-le"))
    result = verify(cli_env, str(path))
    assert result.exit_code == 1, result.output
    assert result.stdout.startswith("INVALID: the FHIR Bundle is not valid JSON")


def test_a_revoked_eu_dcc_and_smart_health_card_are_exit_1(
    cli_env: dict[str, str], services: Services, tmp_path: Path
) -> None:
    """The CLI reads the same revocation lists as the web verifier: our EU DCC batches and
    SMART Health Card CRL."""
    issue_signed(services)
    bundle = services.distribution.certificates.bundle("BEN0001")
    issuers = services.distribution.wallet.issuers
    texts = {"hc1.txt": issuers.dcc.hc1(bundle), "card.txt": issuers.shc.jws(bundle)}
    for name, text in texts.items():
        (tmp_path / name).write_text(text)
        assert verify(cli_env, str(tmp_path / name)).exit_code == 0, name
    services.issuance.certificates.revoke("BEN0001", None, reason="issued in error")
    for name in texts:
        result = verify(cli_env, str(tmp_path / name))
        assert result.exit_code == 1, name
        assert result.stdout.startswith("REVOKED: "), result.stdout


def test_a_credential_with_a_status_list_entry(
    cli_env: dict[str, str], make_services: ServicesFactory, tmp_path: Path
) -> None:
    """With ``status_list`` on, the credential names its list; valid, then revoked."""
    services = make_services(status_list=True)
    env = {**cli_env, "CERTDIST_STATUS_LIST": "true"}
    path = tmp_path / "certificate.json"
    path.write_text(issue_signed(services))
    assert json.loads(path.read_text())["credentialStatus"]["statusPurpose"] == "revocation"
    assert verify(env, str(path)).stdout.startswith("VALID: ")
    services.issuance.certificates.revoke("BEN0001", None, reason="issued in error")
    result = verify(env, str(path))
    assert result.exit_code == 1
    assert result.stdout.startswith("REVOKED: ")


def test_an_sd_jwt_vc_shows_only_what_was_disclosed(
    cli_env: dict[str, str], services: Services
) -> None:
    issue_signed(services)
    sd_jwt = services.distribution.wallet.issuers.sd_jwt_vc.issue(
        services.distribution.certificates.bundle("BEN0001")
    )
    result = verify(cli_env, "-", stdin=present(sd_jwt, named("vaccinations", "vaccine")).encode())
    assert result.exit_code == 0, result.output
    assert "Covishield" in result.stdout
    assert "holder binding  not shown" in result.stdout
    assert "Bhaya Mitra" not in result.stdout
    assert "1994" not in result.stdout
