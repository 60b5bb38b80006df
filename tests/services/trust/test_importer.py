"""Importing foreign trust lists: a foreign EU DCC reads unknown-key until its issuer's list
is imported, and verifies after; malformed lists are refused and store nothing."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from certdist.errors import InvalidInput
from certdist.services.common.clock import FixedClock
from certdist.services.trust import TrustImporter, TrustListFormat
from certdist.storage.trust_imports import TrustImports
from certdist.wiring import Services
from tests.support.foreign_issuer import ForeignIssuer, foreign_issuer
from tests.support.services import ServicesFactory
from tests.support.verifier_samples import SHC_ISSUER
from tests.support.wallet_samples import NOW


@pytest.fixture
def foreign(services: Services) -> ForeignIssuer:
    return foreign_issuer(services.clock.now())


def write(path: Path, document: Any) -> str:
    path.write_text(json.dumps(document), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    ("list_format", "document"),
    [
        (TrustListFormat.EU_DCC, ForeignIssuer.eu_trust_list),
        (TrustListFormat.GDHCN_DID, ForeignIssuer.gdhcn_did),
    ],
)
def test_an_imported_list_makes_its_certificates_verify(
    make_services: ServicesFactory,
    services: Services,
    foreign: ForeignIssuer,
    tmp_path: Path,
    list_format: TrustListFormat,
    document: Any,
) -> None:
    before = services.verifier.check(foreign.hc1)
    assert (before.status, before.code) == ("invalid", "unknown-key")

    summary = services.trust.importer.import_list(
        write(tmp_path / "list.json", document(foreign)), list_format
    )
    assert (summary.document_signers, summary.shc_issuers) == (1, 0)

    after = make_services().verifier.check(foreign.hc1)  # a restarted server reads imports
    assert (after.status, after.code) == ("valid", "valid"), after.reason
    assert after.certificate is not None
    assert after.certificate.name == "Bhaya Mitra"


def test_a_new_import_by_the_same_name_replaces_the_old_list(
    make_services: ServicesFactory, services: Services, foreign: ForeignIssuer, tmp_path: Path
) -> None:
    importer = services.trust.importer
    importer.import_list(write(tmp_path / "a.json", foreign.eu_trust_list()), "eu-dcc", name="se")
    other = foreign_issuer(services.clock.now())
    importer.import_list(write(tmp_path / "b.json", other.eu_trust_list()), "eu-dcc", name="se")
    verifier = make_services().verifier
    assert verifier.check(foreign.hc1).code == "unknown-key"  # withdrawn with the old list
    assert verifier.check(other.hc1).code == "valid"


@pytest.mark.parametrize(
    ("document", "named"),
    [
        ({"not": "a list"}, "JSON array"),
        ([42], "entry 0 is not a JSON object"),
        ([{"certificateType": "DSC"}], "entry 0.rawData is missing"),
        ([{"certificateType": "DSC", "rawData": "@@@"}], "entry 0.rawData is not a base64 DER"),
        ("thumbprint", "entry 1.thumbprint is not the SHA-256 of rawData"),
        ("kid", "entry 1.kid is not the certificate's kid"),
        ("country", "entry 1.country is not a two-letter country code"),
        ([], "holds no key"),
    ],
)
def test_a_malformed_eu_list_is_refused_naming_the_problem(
    services: Services, foreign: ForeignIssuer, tmp_path: Path, document: Any, named: str
) -> None:
    if isinstance(document, str):  # a field of the otherwise good entry spoiled
        document = foreign.eu_trust_list(**{document: "XYZ"})
    with pytest.raises(InvalidInput, match=named):
        services.trust.importer.import_list(write(tmp_path / "bad.json", document), "eu-dcc")
    assert TrustImports.in_data_dir(services.settings.data_dir).all() == []


def test_unreadable_sources_are_refused(services: Services, tmp_path: Path) -> None:
    importer = services.trust.importer
    with pytest.raises(InvalidInput, match="cannot read"):
        importer.import_list(str(tmp_path / "missing.json"), "eu-dcc")
    (tmp_path / "x.json").write_text("{nope")
    with pytest.raises(InvalidInput, match="is not JSON"):
        importer.import_list(str(tmp_path / "x.json"), "eu-dcc")
    with pytest.raises(InvalidInput, match="https only"):
        importer.import_list("http://trust.example/list.json", "eu-dcc")
    with pytest.raises(InvalidInput, match="unknown trust list format"):
        importer.import_list(str(tmp_path / "x.json"), "x509")
    with pytest.raises(InvalidInput, match="import name"):
        importer.import_list("https://trust.example/list.json", "eu-dcc", name="../etc")


@pytest.mark.parametrize("shape", ["snapshot", "participating"])
def test_an_imported_vci_directory_makes_its_issuers_cards_verify(
    make_services: ServicesFactory, services: Services, testdata: Path, tmp_path: Path, shape: str
) -> None:
    card = (testdata / "shc" / "examples" / "example-00-d-jws.txt").read_bytes()
    assert services.verifier.check(card).code == "unknown-key"
    jwks = json.loads((testdata / "shc" / "examples" / "issuer/.well-known/jwks.json").read_text())
    issuer = {"iss": SHC_ISSUER, "name": "SMART Health Cards examples"}
    directory = (
        {"time": "2026-01-01T00:00:00Z", "issuer_info": [{"issuer": issuer, "keys": jwks["keys"]}]}
        if shape == "snapshot"
        else {"participating_issuers": [issuer]}
    )
    summary = services.trust.importer.import_list(
        write(tmp_path / "vci.json", directory), "vci-directory"
    )
    assert (summary.document_signers, summary.shc_issuers) == (0, 1)
    stored = TrustImports.in_data_dir(services.settings.data_dir).all()
    # A snapshot brings the keys; the directory proper names issuers whose keys are fetched.
    assert stored[0].shc_issuers == {SHC_ISSUER: jwks if shape == "snapshot" else None}
    if shape == "snapshot":
        assert make_services().verifier.check(card).code == "valid"


@pytest.mark.parametrize(
    ("directory", "named"),
    [
        ({"participating_issuers": [{"iss": "http://plain.example"}]}, "is not an https URL"),
        ({"issuer_info": [{"issuer": {"iss": "https://a.example"}}]}, "has no keys list"),
        ({"issuer_info": [{"issuer": {"iss": "https://a.example"}, "keys": [1]}]}, "JWK set"),
        ({"issuers": []}, "participating_issuers or issuer_info"),
    ],
)
def test_a_malformed_vci_directory_is_refused(
    services: Services, tmp_path: Path, directory: Any, named: str
) -> None:
    with pytest.raises(InvalidInput, match=named):
        services.trust.importer.import_list(write(tmp_path / "d.json", directory), "vci-directory")


def test_a_list_is_fetched_from_an_https_url(tmp_path: Path) -> None:
    foreign = foreign_issuer(NOW)
    asked: list[str] = []

    def fetch(url: str) -> bytes:
        asked.append(url)
        if url.endswith("/down"):
            raise TimeoutError("the response took too long")
        return json.dumps(foreign.gdhcn_did()).encode()

    importer = TrustImporter(TrustImports(tmp_path), fetch, FixedClock(NOW))
    summary = importer.import_list("https://tng.example/DSC/did.json", "gdhcn-did", name="who")
    assert (summary.name, summary.document_signers) == ("who", 1)
    (stored,) = TrustImports(tmp_path).all()
    assert (stored.source, stored.imported_at) == ("https://tng.example/DSC/did.json", NOW)
    with pytest.raises(
        InvalidInput, match=re.escape("cannot read https://tng.example/down: the response")
    ):
        importer.import_list("https://tng.example/down", "gdhcn-did")
    assert asked == ["https://tng.example/DSC/did.json", "https://tng.example/down"]
