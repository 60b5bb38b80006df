"""Holder keys: which JWKs are accepted, their canonical public form, and each algorithm
checked only with its own kind of key."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from certdist.signing.holder_keys import holder_key
from certdist.signing.jose import es256_sign
from tests.support.sd_jwt import ed25519_holder_key
from tests.support.sd_jwt import holder_key as p256_holder_key

MESSAGE = b"header.payload"


def test_the_public_members_are_kept_in_their_canonical_form() -> None:
    _, ed_jwk = ed25519_holder_key()
    assert holder_key({**ed_jwk, "kid": "k-1", "use": "sig"}).jwk == ed_jwk
    _, ec_jwk = p256_holder_key()
    assert holder_key({**ec_jwk, "alg": "ES256"}).jwk == ec_jwk


def test_ed25519_verifies_under_both_its_names_and_nothing_else() -> None:
    private, jwk = ed25519_holder_key()
    key = holder_key(jwk)
    signature = private.sign(MESSAGE)
    assert key.verifies("EdDSA", MESSAGE, signature)
    assert key.verifies("Ed25519", MESSAGE, signature)
    assert not key.verifies("ES256", MESSAGE, signature)
    assert not key.verifies("EdDSA", MESSAGE + b"!", signature)


def test_p256_verifies_es256_only() -> None:
    private, jwk = p256_holder_key()
    key = holder_key(jwk)
    signature = es256_sign(private, MESSAGE)
    assert key.verifies("ES256", MESSAGE, signature)
    assert not key.verifies("EdDSA", MESSAGE, signature)
    # A DER signature (not JOSE's raw r || s) is not an ES256 JWS signature.
    assert not key.verifies("ES256", MESSAGE, private.sign(MESSAGE, ec.ECDSA(hashes.SHA256())))


@pytest.mark.parametrize(
    ("jwk", "problem"),
    [
        ({"kty": "OKP", "crv": "Ed25519", "x": "AA"}, "Ed25519 public key"),
        ({"kty": "OKP", "crv": "Ed448", "x": "A" * 76}, "Ed25519 public key"),
        ({"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"}, "P-256"),
        ({"kty": "oct", "k": "AA"}, "P-256"),
        ({"kty": "OKP", "crv": "Ed25519", "x": "A" * 43, "d": "A" * 43}, "public JWK"),
        ("not a key", "public JWK"),
    ],
)
def test_other_keys_are_refused_naming_what_is_accepted(jwk: object, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        holder_key(jwk)
