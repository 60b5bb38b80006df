"""What we issue for health wallets verifies in the independent JavaScript verifiers that
wallet and verifier apps use (DESIGN §7), and tampered copies fail there:

* ``@pathcheck/dcc-sdk`` for EU DCC ``HC1:`` texts (with our DSC certificate);
* ``@pathcheck/shc-sdk`` for SMART Health Cards (fetching ``<iss>/.well-known/jwks.json``
  from what our endpoint serves, through the local fetch stub), with the ``rid`` and
  ``crlVersion`` of our revocation support in place.

``cwt`` (PyPI) checks the same EU DCCs in ``test_eu_dcc.py``.
"""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any

import pytest

from certdist.domain.models import TEST
from certdist.formats.registry import CertificateBundle
from certdist.signing.jose import b64url, b64url_decode
from certdist.wiring import Services
from tests.support.clients import client_for
from tests.support.issuing import certify
from tests.support.node_verifiers import DCC_HARNESS, SHC_HARNESS, NodeVerifiers
from tests.support.request_bodies import lab_test_request_body, vaccination_request_body
from tests.support.services import ServicesFactory
from tests.support.wallet_samples import DCC_NAMES, tampered_result, tampered_variants

pytestmark = pytest.mark.node


@pytest.fixture
def issuing(make_sqlite_services: ServicesFactory) -> Services:
    services = make_sqlite_services()
    certify(services, *(vaccination_request_body("NODE1", dose=d) for d in (1, 2, 3)))
    return services


def latest(services: Services) -> CertificateBundle:
    return services.distribution.certificates.bundle("NODE1")


def trusted_dsc(kid: bytes, der: bytes) -> dict[str, str]:
    """The harness's trust list: a DSC (DER) under a kid, both base64."""
    return {base64.b64encode(kid).decode(): base64.b64encode(der).decode()}


def test_dcc_sdk_verifies_our_hc1(
    node_verifiers: NodeVerifiers, issuing: Services, make_sqlite_services: ServicesFactory
) -> None:
    issuers = issuing.distribution.wallet.issuers
    text = issuers.dcc.hc1(latest(issuing), DCC_NAMES)
    signer = issuers.document_signers.active
    ours = trusted_dsc(signer.kid, signer.der)
    forged = tampered_variants(text)["signature"]
    # A DSC of another deployment presented under our kid: the signature cannot match.
    other = make_sqlite_services(data_dir=issuing.settings.data_dir.parent / "other")
    stranger = other.distribution.wallet.issuers.document_signers.active
    theirs = trusted_dsc(signer.kid, stranger.der)
    cases = [
        {"text": text, "certificates": ours},
        {"text": forged, "certificates": ours},
        {"text": text, "certificates": theirs},
    ]
    results = node_verifiers.run(DCC_HARNESS, cases)
    assert [r["status"] for r in results] == ["verified", "invalid_signature", "invalid_signature"]


def tampered_card(jws: str) -> str:
    header, payload, signature = jws.split(".")
    data = json.loads(zlib.decompress(b64url_decode(payload), -15))
    data["vc"]["credentialSubject"]["fhirBundle"]["entry"][1]["resource"]["lotNumber"] = "FORGED"
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = packer.compress(json.dumps(data, separators=(",", ":")).encode()) + packer.flush()
    return f"{header}.{b64url(body)}.{signature}"


def test_shc_sdk_verifies_our_cards_with_our_jwks(
    node_verifiers: NodeVerifiers, issuing: Services
) -> None:
    with client_for(issuing) as client:
        jwks: dict[str, Any] = client.get("/.well-known/jwks.json").json()
    issuer = issuing.distribution.wallet.issuers.shc
    jws = issuer.jws(latest(issuing))
    # What the SDK gets carries revocation: the card its rid, each key its crlVersion.
    assert json.loads(zlib.decompress(b64url_decode(jws.split(".")[1]), -15))["vc"]["rid"]
    assert all(key["crlVersion"] == 1 for key in jwks["keys"])
    served = {f"{issuer.issuer}/.well-known/jwks.json": jwks}
    header, payload, signature = jws.split(".")
    flipped = ("B" if signature[0] == "A" else "A") + signature[1:]
    cases = [
        {"jws": jws, "fetch": served},
        {"jws": tampered_card(jws), "fetch": served},
        {"jws": f"{header}.{payload}.{flipped}", "fetch": served},
        {"jws": jws, "fetch": {}},  # the issuer's keys cannot be found: not verified
    ]
    results = node_verifiers.run(SHC_HARNESS, cases)
    assert [r["verified"] for r in results] == [True, False, False, False]


@pytest.fixture
def lab_issuing(make_sqlite_services: ServicesFactory) -> Services:
    services = make_sqlite_services()
    certify(services, lab_test_request_body("NODELAB1"))
    return services


def lab_latest(services: Services) -> CertificateBundle:
    return services.distribution.certificates.bundle("NODELAB1", TEST)


def test_dcc_sdk_verifies_our_lab_test_hc1(
    node_verifiers: NodeVerifiers, lab_issuing: Services
) -> None:
    issuers = lab_issuing.distribution.wallet.issuers
    text = issuers.dcc.hc1(lab_latest(lab_issuing), DCC_NAMES)
    signer = issuers.document_signers.active
    ours = trusted_dsc(signer.kid, signer.der)
    cases = [
        {"text": text, "certificates": ours},
        {"text": tampered_result(text), "certificates": ours},
    ]
    results = node_verifiers.run(DCC_HARNESS, cases)
    assert [r["status"] for r in results] == ["verified", "invalid_signature"]


def test_shc_sdk_verifies_our_lab_cards(
    node_verifiers: NodeVerifiers, lab_issuing: Services
) -> None:
    with client_for(lab_issuing) as client:
        jwks: dict[str, Any] = client.get("/.well-known/jwks.json").json()
    issuer = lab_issuing.distribution.wallet.issuers.shc
    jws = issuer.jws(lab_latest(lab_issuing))
    header, payload, signature = jws.split(".")
    data = json.loads(zlib.decompress(b64url_decode(payload), -15))
    assert "https://smarthealth.cards#laboratory" in data["vc"]["type"]
    observation = data["vc"]["credentialSubject"]["fhirBundle"]["entry"][1]["resource"]
    observation["valueCodeableConcept"]["coding"][0]["code"] = "10828004"  # forged: positive
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = packer.compress(json.dumps(data, separators=(",", ":")).encode()) + packer.flush()
    served = {f"{issuer.issuer}/.well-known/jwks.json": jwks}
    cases = [
        {"jws": jws, "fetch": served},
        {"jws": f"{header}.{b64url(body)}.{signature}", "fetch": served},
    ]
    results = node_verifiers.run(SHC_HARNESS, cases)
    assert [r["verified"] for r in results] == [True, False]
