"""bench/load_certificates.py on a small count: what it COPYs is served and verifies.

The loader is a benchmarking tool (issue #16, docs/fleet.md), but a row it writes wrong
would make every figure measured on it meaningless, so it runs here against a database of
the test PostgreSQL server: 200 certificates, 20 of them issued for real.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from certdist.config import Settings
from certdist.domain.roles import Permission, Principal
from certdist.wiring import build_services

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.postgres

OPERATOR = Principal(subject="ops", username="ops", roles=frozenset(), issuer="test")


def _module(name: str) -> ModuleType:
    sys.path.insert(0, str(ROOT / "bench"))
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def loader() -> ModuleType:
    return _module("load_certificates")


def test_loaded_certificates_download_as_pdfs_that_verify(
    loader: ModuleType, tmp_path: Path, postgresql_database_url: str
) -> None:
    settings = Settings(database_url=postgresql_database_url, data_dir=tmp_path / "data")
    timings = loader.load(
        settings, 200, distinct=20, batch=70, processes=1, prefix="LDTEST", progress=False
    )
    assert timings["rows_in_table"] == 200
    services = build_services(settings, migrate=False)
    try:
        with services.database.engine.connect() as connection:
            from sqlalchemy import text

            ids = connection.execute(text("SELECT count(*) FROM certificate_ids")).scalar_one()
        assert ids == 200
        # A synthetic row (150: template 10) and an issued one (7): each served, each verifies.
        for index in (150, 7, 199):
            code = f"LDTEST{index:07d}"
            certificates = services.distribution.certificates
            bundle = certificates.bundle(code)
            record = bundle.latest
            assert record.pre_enrollment_code == code
            if index >= 20:
                assert record.name == f"Load Person {index:07d}"
            pdf = certificates.render(
                bundle, "pdf", caller=OPERATOR, permission=Permission.DISTRIBUTE
            ).content
            assert pdf.startswith(b"%PDF-")
            verified = services.verifier.verify(pdf, expect_pdf=True)
            assert verified is not None
    finally:
        services.close()


def test_copy_text_escapes_what_copy_reads_as_special(loader: ModuleType) -> None:
    assert loader.copy_text("a\\b\tc\nd\re") == "a\\\\b\\tc\\nd\\re"


def test_the_fleet_benchmark_parses_its_arguments() -> None:
    bench = _module("bench_fleet")
    args = bench.parse_args(["--apps", "1,2", "--duration", "3", "--repeat", "1"])
    assert args.apps == [1, 2]
    soak = bench.parse_args(["--soak", "60", "--rate", "50"])
    assert (soak.soak, soak.rate) == (60.0, 50.0)
    with pytest.raises(SystemExit):
        bench.parse_args(["--soak", "60"])  # a soak needs its fixed rate
