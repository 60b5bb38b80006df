"""The DDCC:VS FHIR document bundle and its detached JWS signature."""

from __future__ import annotations

import copy
import json

import pytest

from certdist.errors import InvalidInput, UnknownKey, VerificationError
from certdist.formats.fhir import ICD11, FhirDocumentIssuer, canonical, verify_fhir
from certdist.signing.keys import KeyUse
from tests.support.wallet_samples import bundle, key_store


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> FhirDocumentIssuer:
    key = key_store(tmp_path_factory.mktemp("keys")).active(KeyUse.SHC)
    return FhirDocumentIssuer(
        issuer="https://certdist.test", country="IN", icd11_codes={"Covishield": "XM9QW8"}, key=key
    )


def test_document_bundle_shape(issuer: FhirDocumentIssuer) -> None:
    document = issuer.document(bundle(2))
    assert document["resourceType"] == "Bundle"
    assert document["type"] == "document"
    kinds = [e["resource"]["resourceType"] for e in document["entry"]]
    assert kinds == ["Composition", "Patient", "Immunization", "Immunization"]
    composition, patient, first, second = (e["resource"] for e in document["entry"])
    urls = [e["fullUrl"] for e in document["entry"]]
    assert all(url.startswith("urn:uuid:") for url in urls)
    assert composition["subject"] == {"reference": urls[1]}
    assert composition["section"][0]["entry"] == [{"reference": u} for u in urls[2:]]
    assert patient["birthDate"] == "1994-11-30"
    assert patient["name"][0]["family"] == "Mitra"
    assert first["vaccineCode"] == {"coding": [{"system": ICD11, "code": "XM9QW8"}]}
    assert first["lotNumber"] == "4121Z025"
    assert first["occurrenceDateTime"] == "2021-05-02T10:00:00.000Z"
    assert first["patient"] == {"reference": urls[1]}
    assert first["protocolApplied"][0]["doseNumberPositiveInt"] == 1
    assert second["protocolApplied"][0]["doseNumberPositiveInt"] == 2
    assert second["protocolApplied"][0]["seriesDosesPositiveInt"] == 2
    assert first["extension"][0]["valueCode"] == "IN"
    assert document == issuer.document(bundle(2))  # deterministic (cacheable, ETag)


def test_signature_verifies_and_detects_changes(issuer: FhirDocumentIssuer) -> None:
    document = issuer.document(bundle(2))
    signature = document["signature"]
    assert signature["sigFormat"] == "application/jose"
    keys = lambda kid: [issuer._key.public_key()] if kid == issuer.kid else []  # noqa: E731
    assert verify_fhir(document, keys) == issuer.kid
    # The JSON text round trip keeps it valid (the signature covers content, not layout).
    assert verify_fhir(json.loads(json.dumps(document, indent=2)), keys) == issuer.kid
    forged = copy.deepcopy(document)
    forged["entry"][2]["resource"]["lotNumber"] = "OTHER"
    with pytest.raises(VerificationError, match="does not match"):
        verify_fhir(forged, keys)
    with pytest.raises(UnknownKey):
        verify_fhir(document, lambda kid: [])
    unsigned = {k: v for k, v in document.items() if k != "signature"}
    with pytest.raises(VerificationError, match="no JOSE signature"):
        verify_fhir(unsigned, keys)
    assert canonical(document) == canonical(unsigned)


def test_unmapped_vaccines_are_refused(issuer: FhirDocumentIssuer) -> None:
    with pytest.raises(InvalidInput, match="no ICD-11 code"):
        issuer.document(bundle(1, vaccine="CoVax"))
