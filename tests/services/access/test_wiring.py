"""Trusted token issuers from settings: each needs a key source, and a key file that cannot
be used stops the start with a message naming it (it used to drop the issuer silently)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic import ValidationError

from certdist.config import TrustedIssuer
from certdist.errors import ConfigurationError
from certdist.services.access.wiring import issuer_trust

ISSUER = "https://keycloak.example/realms/divoc"


@pytest.mark.parametrize(
    "sources",
    [{}, {"jwks_url": f"{ISSUER}/certs", "public_key_file": Path("key.pem")}],
    ids=["none", "both"],
)
def test_a_trusted_issuer_needs_exactly_one_key_source(sources: dict[str, object]) -> None:
    with pytest.raises(ValidationError, match="needs exactly one of jwks_url and public_key_file"):
        TrustedIssuer(issuer=ISSUER, audience="certdist", **sources)


def test_a_missing_key_file_names_the_issuer(tmp_path: Path) -> None:
    entry = TrustedIssuer(issuer=ISSUER, audience="certdist", public_key_file=tmp_path / "no.pem")
    with pytest.raises(ConfigurationError, match=f"trusted issuer '{ISSUER}'"):
        issuer_trust(entry)


def test_a_key_file_without_a_key_is_refused(tmp_path: Path) -> None:
    pem = tmp_path / "key.pem"
    pem.write_text("not a key\n")
    entry = TrustedIssuer(issuer=ISSUER, audience="certdist", public_key_file=pem)
    with pytest.raises(ConfigurationError, match="is not a PEM public key"):
        issuer_trust(entry)


def test_a_pem_key_file_is_trusted(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    pem = tmp_path / "key.pem"
    pem.write_bytes(key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    trust = issuer_trust(TrustedIssuer(issuer=ISSUER, audience="certdist", public_key_file=pem))
    assert (trust.issuer, trust.audience, trust.client_id) == (ISSUER, "certdist", None)
