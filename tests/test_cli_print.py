"""``certdist print``: a facility-day or a codes file into one PDF or a ZIP."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from tests.support.cli import Cli
from tests.support.imaging import pdf_text
from tests.support.issuing import certify
from tests.support.request_bodies import vaccination_request_body
from tests.support.services import ServicesFactory

FACILITY = "ABC Medical Center"  # tests/support/request_bodies.py
DAY = "2021-05-02"


@pytest.fixture
def run(make_services: ServicesFactory) -> Cli:
    bodies = [vaccination_request_body(code) for code in ("BEN-1", "BEN-2", "BEN-3")]
    bodies[2]["facility"]["name"] = "Another Clinic"
    certify(make_services(), *bodies)
    return Cli(make_services.data_dir, make_services.database_url)


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
