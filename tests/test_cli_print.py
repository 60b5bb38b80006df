"""``certdist print``: a facility-day or a codes file into one PDF or a ZIP."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from certdist.config import Settings
from certdist.domain.requests import CertificationRequest
from certdist.wiring import build_services
from tests.factories import vaccination_request_body
from tests.formats.imaging import pdf_text
from tests.test_cli import Cli

FACILITY = "ABC Medical Center"  # tests/factories.py
DAY = "2021-05-02"


@pytest.fixture
def run(tmp_path: Path, migrated_database_url: str) -> Cli:
    settings = Settings(data_dir=tmp_path / "data", database_url=migrated_database_url)
    services = build_services(settings)
    bodies = [vaccination_request_body(code) for code in ("BEN-1", "BEN-2", "BEN-3")]
    bodies[2]["facility"]["name"] = "Another Clinic"
    services.issuance.certificates.certify([CertificationRequest.model_validate(b) for b in bodies])
    services.close()
    return Cli(tmp_path / "data", migrated_database_url)


def test_facility_day_to_one_pdf(run: Cli, tmp_path: Path) -> None:
    out = tmp_path / "out" / "batch.pdf"
    result = run("print", "--facility", FACILITY, "--date", DAY, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "2 certificates printed" in result.output
    pages = [page for page in pdf_text(out.read_bytes(), tmp_path).split("\f") if page.strip()]
    assert ["BEN-1" in pages[0], "BEN-2" in pages[1]] == [True, True]
    assert len(pages) == 2


def test_codes_file_to_a_zip_reports_unknown_ids(run: Cli, tmp_path: Path) -> None:
    codes = tmp_path / "codes.txt"
    codes.write_text("BEN-3\nNOBODY\nBEN-1\n", encoding="utf-8")
    out = tmp_path / "batch.zip"
    result = run("print", "--codes", str(codes), "--out", str(out), "--zip")
    assert result.exit_code == 0, result.output
    assert "no live certificate: NOBODY" in result.output
    assert "2 certificates printed" in result.output
    assert len(zipfile.ZipFile(io.BytesIO(out.read_bytes())).namelist()) == 2


def test_nothing_to_print_fails_without_a_file(run: Cli, tmp_path: Path) -> None:
    out = tmp_path / "none.pdf"
    result = run("print", "--facility", "Nowhere", "--date", DAY, "--out", str(out))
    assert result.exit_code == 1
    assert "nothing printed" in result.output
    assert not out.exists()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--facility", FACILITY], "date"),
        (["--facility", FACILITY, "--date", "yesterday"], "date"),
        (["--date", DAY], "facility"),
    ],
)
def test_bad_selection_is_explained(
    run: Cli, tmp_path: Path, arguments: list[str], message: str
) -> None:
    result = run("print", *arguments, "--out", str(tmp_path / "x.pdf"))
    assert result.exit_code == 2
    assert f"  {message}:" in result.output


def test_bad_codes_file_names_the_bad_id(run: Cli, tmp_path: Path) -> None:
    codes = tmp_path / "codes.txt"
    codes.write_text("BEN-1\nnot a code\n", encoding="utf-8")
    result = run("print", "--codes", str(codes), "--out", str(tmp_path / "x.pdf"))
    assert result.exit_code == 2
    assert "codes.1: not a beneficiary id" in result.output
