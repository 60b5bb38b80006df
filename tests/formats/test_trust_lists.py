"""Trust list shapes: the did:web of a deployment, and what a GDHCN DID document may hold
(references and signing authorities are skipped; a key that is not its certificate's is
refused)."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from certdist.errors import InvalidInput
from certdist.formats.trust_lists import did_web, parse_gdhcn_did
from tests.support.foreign_issuer import foreign_issuer
from tests.support.wallet_samples import NOW


@pytest.mark.parametrize(
    ("url", "path", "did"),
    [
        ("https://certs.example.org", (), "did:web:certs.example.org"),
        ("https://certs.example.org/", (), "did:web:certs.example.org"),
        ("http://127.0.0.1:8000", (), "did:web:127.0.0.1%3A8000"),
        ("https://x.example", ("trust", "eu-dcc"), "did:web:x.example:trust:eu-dcc"),
    ],
)
def test_did_web_follows_the_public_urls_host(url: str, path: tuple[str, ...], did: str) -> None:
    assert did_web(url, *path) == did


def test_a_url_without_a_host_has_no_did() -> None:
    with pytest.raises(ValueError, match="no host"):
        did_web("file:///tmp")


def signing_authority() -> str:
    """A CA certificate (base64 DER), as GDHCN lists put beside the DSCs (usage SCA)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "XA")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW)
        .not_valid_after(NOW + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    return base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()


def test_gdhcn_skips_references_and_signing_authorities() -> None:
    foreign = foreign_issuer(NOW)
    document = foreign.gdhcn_did()
    document["verificationMethod"].append(
        {"id": "did:web:x#sca", "publicKeyJwk": {"kty": "EC", "x5c": [signing_authority()]}}
    )
    (signer,) = parse_gdhcn_did(document)
    assert signer.certificate == foreign.signer.certificate
    assert signer.country == "SE"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"x": "AAAA"}, "publicKeyJwk is not"),
        ({"kid": "AAAAAAAAAAA="}, "publicKeyJwk.kid is not the certificate's kid"),
        ({"x5c": []}, "has no publicKeyJwk with an x5c certificate"),
        ({"x5c": ["bm90IGEgY2VydA=="]}, r"x5c\[0\] is not a base64 DER"),
    ],
)
def test_gdhcn_refuses_a_method_that_does_not_hold_together(
    change: dict[str, Any], named: str
) -> None:
    document = foreign_issuer(NOW).gdhcn_did()
    document["verificationMethod"][1]["publicKeyJwk"].update(change)
    with pytest.raises(InvalidInput, match=named):
        parse_gdhcn_did(document)


@pytest.mark.parametrize("document", [[], {"id": "did:web:x"}, {"verificationMethod": {}}])
def test_gdhcn_needs_a_did_document(document: Any) -> None:
    with pytest.raises(InvalidInput, match="verificationMethod"):
        parse_gdhcn_did(document)
