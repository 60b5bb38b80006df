"""``certdist export``: every format of a beneficiary's latest certificate, to a file or
stdout, audited; EU DCC names from options or derived from the certificate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from certdist.cli import EXPORT_FORMATS, main
from certdist.domain.requests import TestCertificationRequest
from certdist.formats.eu_dcc import verify_hc1
from certdist.formats.fhir import verify_fhir
from certdist.formats.shc import verify_shc
from certdist.signing.jose import public_key_from_jwk
from certdist.wiring import Services
from tests.support.imaging import open_image, scan
from tests.support.issuing import certify
from tests.support.request_bodies import lab_test_request_body, vaccination_request_body

MAGIC = {"application/pdf": b"%PDF-", "image/png": b"\x89PNG"}


@pytest.fixture
def services(services: Services) -> Services:
    """The standard service with two doses of beneficiary X1."""
    certify(services, *(vaccination_request_body("X1", dose=d) for d in (1, 2)))
    return services


def export(cli_env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, ["export", *args], env=cli_env)


@pytest.mark.parametrize("format_name", EXPORT_FORMATS)
def test_every_format_to_a_file(
    cli_env: dict[str, str], services: Services, tmp_path: Path, format_name: str
) -> None:
    out = tmp_path / f"out.{format_name}"
    result = export(cli_env, "--format", format_name, "X1", "--out", str(out))
    assert result.exit_code == 0, result.output
    content = out.read_bytes()
    if format_name.endswith("pdf"):
        assert content.startswith(MAGIC["application/pdf"])
    elif format_name in ("qr", "shc", "eu-dcc"):
        assert content.startswith(MAGIC["image/png"])
    else:
        assert json.loads(content)
    audited = {d.format for d in services.database.audit().for_beneficiary("X1")}
    assert format_name in audited


def test_exports_verify(cli_env: dict[str, str], services: Services) -> None:
    now = services.clock.now()
    shc = export(cli_env, "--format", "shc-file", "X1")
    assert shc.exit_code == 0
    [jws] = json.loads(shc.stdout_bytes)["verifiableCredential"]
    keys = {k["kid"]: public_key_from_jwk(k) for k in services.distribution.wallet.jwks()["keys"]}
    verify_shc(jws, lambda iss, kid: [keys[kid]], now)
    fhir = export(cli_env, "--format", "fhir", "X1")
    verify_fhir(json.loads(fhir.stdout_bytes), lambda kid: [keys[kid]])
    dcc = export(cli_env, "--format", "eu-dcc", "--fnt", "MITRA", "--fn", "Mitra", "X1")
    assert dcc.exit_code == 0, dcc.output
    [text] = scan(open_image(dcc.stdout_bytes))
    signers = services.distribution.wallet.issuers.document_signers
    payload = verify_hc1(text.decode(), signers.keys_for_kid, now).payload
    assert payload["nam"] == {"fn": "Mitra", "fnt": "MITRA"}


def test_errors_exit_non_zero_with_a_reason(cli_env: dict[str, str], services: Services) -> None:
    missing = export(cli_env, "--format", "shc", "NOSUCH")
    assert missing.exit_code == 1
    assert "no certificate" in missing.output
    bad = export(cli_env, "--format", "eu-dcc", "--fnt", "Mitra", "X1")
    assert bad.exit_code == 2
    assert "fnt" in bad.output
    misplaced = export(cli_env, "--format", "pdf", "--fnt", "MITRA", "X1")
    assert misplaced.exit_code == 2
    assert "eu-dcc formats only" in misplaced.output


@pytest.fixture
def lab_only(services: Services) -> Services:
    body = lab_test_request_body("LABX1")
    services.issuance.certificates.certify([TestCertificationRequest.model_validate(body)])
    return services


@pytest.mark.parametrize("format_name", ["eu-dcc", "eu-dcc-pdf", "shc", "shc-pdf", "shc-file"])
def test_wallet_formats_of_a_lab_test_export(
    cli_env: dict[str, str], lab_only: Services, format_name: str
) -> None:
    result = export(cli_env, "--format", format_name, "LABX1")
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes
    audited = {d.format for d in lab_only.database.audit().for_beneficiary("LABX1")}
    assert format_name in audited


def test_exported_lab_test_documents_verify(cli_env: dict[str, str], lab_only: Services) -> None:
    card = export(cli_env, "--format", "shc-file", "LABX1")
    [jws] = json.loads(card.stdout_bytes)["verifiableCredential"]
    assert lab_only.verifier.verify(jws).kind == "test"
    qr = export(cli_env, "--format", "eu-dcc", "LABX1", "--fnt", "MITRA", "--gnt", "BHAYA")
    assert qr.exit_code == 0, qr.output
    [hc1] = scan(open_image(qr.stdout_bytes))
    assert lab_only.verifier.verify(hc1).kind == "test"


def test_a_ddcc_vs_of_a_lab_test_is_refused_with_the_reason(
    cli_env: dict[str, str], lab_only: Services
) -> None:
    result = export(cli_env, "--format", "fhir", "LABX1")
    assert result.exit_code != 0
    assert "vaccination certificates only" in result.output
