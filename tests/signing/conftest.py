"""Fixtures of the signing tests: keys made once per session, DIVOC-shaped credentials."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from certdist.signing.keys import KeyAlgorithm, KeyUse, SigningKey, default_key_id

from .samples import CREATED, TEST_CERTIFICATE, VACCINATION, CredentialFactory


def _factory(template: dict[str, Any]) -> CredentialFactory:
    def make(*, name: str | None = None, context: str | None = None) -> dict[str, Any]:
        credential = copy.deepcopy(template)
        if name is not None:
            credential["credentialSubject"]["name"] = name
        if context is not None:
            credential["@context"][1] = context
        return credential

    return make


@pytest.fixture
def vaccination_credential() -> CredentialFactory:
    """Factory of unsigned DIVOC-shaped vaccination credentials (fresh copy per call)."""
    return _factory(VACCINATION)


@pytest.fixture
def test_certificate_credential() -> CredentialFactory:
    """Factory of unsigned lab test certificates using our testCertificate context."""
    return _factory(TEST_CERTIFICATE)


def _signing_key(private_key: Any, algorithm: KeyAlgorithm) -> SigningKey:
    return SigningKey(
        id=default_key_id(private_key.public_key()),
        use=KeyUse.CREDENTIAL,
        algorithm=algorithm,
        private_key=private_key,
        active=True,
        created_at=CREATED,
    )


@pytest.fixture(scope="session")
def rsa_key() -> SigningKey:
    return _signing_key(rsa.generate_private_key(65537, 2048), KeyAlgorithm.RSA)


@pytest.fixture(scope="session")
def other_rsa_key() -> SigningKey:
    return _signing_key(rsa.generate_private_key(65537, 2048), KeyAlgorithm.RSA)


@pytest.fixture(scope="session")
def ed25519_key() -> SigningKey:
    return _signing_key(ed25519.Ed25519PrivateKey.generate(), KeyAlgorithm.ED25519)


@pytest.fixture(scope="session")
def other_ed25519_key() -> SigningKey:
    return _signing_key(ed25519.Ed25519PrivateKey.generate(), KeyAlgorithm.ED25519)
