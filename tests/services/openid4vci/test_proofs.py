"""Key proofs (OpenID4VCI 1.0, the ``jwt`` proof type): each check of "Verifying Proof"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from certdist.errors import OAuthError
from certdist.services.openid4vci.proofs import check_proof
from certdist.signing.jose import b64url
from tests.support.openid4vci import key_proof
from tests.support.sd_jwt import ed25519_holder_key, holder_key

AUD = "https://certdist.example"
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
IAT = int(NOW.timestamp())
MAX_AGE = timedelta(minutes=5)


def check(proof: object) -> None:
    check_proof(proof, audience=AUD, now=NOW, max_age=MAX_AGE, position=3)


def test_a_good_proof_gives_its_public_key_and_nonce() -> None:
    key, jwk = holder_key()
    checked = check_proof(
        key_proof(key, jwk, aud=AUD, nonce="n1", iat=IAT), audience=AUD, now=NOW, max_age=MAX_AGE
    )
    assert checked.jwk == jwk
    assert checked.nonce == "n1"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"header": {"typ": "JWT"}}, "typ"),
        ({"header": {"alg": "ES384"}}, "alg"),
        ({"header": {"x5c": ["MIIB"]}}, "exactly one parameter"),
        ({"header": {"jwk": None, "kid": "did:example:1#k"}}, "exactly one parameter"),
        ({"header": {"jwk": {"kty": "OKP", "crv": "Ed25519", "x": "AA"}}}, "Ed25519 public key"),
        ({"header": {"jwk": {"kty": "OKP", "crv": "X25519", "x": "A" * 43}}}, "Ed25519 public"),
        ({"header": {"jwk": {"kty": "RSA", "n": "AQAB", "e": "AQAB"}}}, "P-256"),
        ({"aud": "https://other.example"}, "aud"),
        ({"iat": IAT + 3600}, "future"),
        ({"iat": IAT - 3600}, "too old"),
        ({"nonce": None}, "nonce"),
    ],
)
def test_a_proof_that_fails_a_check_says_which(change: dict[str, object], problem: str) -> None:
    key, jwk = holder_key()
    options: dict[str, object] = {"aud": AUD, "nonce": "n1", "iat": IAT} | change
    with pytest.raises(OAuthError, match=problem) as refused:
        check(key_proof(key, jwk, **options))  # type: ignore[arg-type]
    assert refused.value.code == "invalid_proof"
    assert "proofs.jwt[3]" in str(refused.value)


@pytest.mark.parametrize("alg", ["EdDSA", "Ed25519"])
def test_an_ed25519_key_proves_with_either_name_of_its_algorithm(alg: str) -> None:
    key, jwk = ed25519_holder_key()
    proof = key_proof(key, jwk, aud=AUD, nonce="n1", iat=IAT, header={"alg": alg})
    checked = check_proof(proof, audience=AUD, now=NOW, max_age=MAX_AGE)
    assert checked.jwk == jwk
    assert checked.nonce == "n1"


def test_an_algorithm_goes_only_with_its_own_kind_of_key() -> None:
    """A header cannot choose how a signature is checked: EdDSA over a P-256 key, ES256
    over an Ed25519 key, and a private key in the header are all refused."""
    p256, p256_jwk = holder_key()
    ed, ed_jwk = ed25519_holder_key()
    for proof in (
        key_proof(p256, p256_jwk, aud=AUD, nonce="n1", iat=IAT, header={"alg": "EdDSA"}),
        key_proof(ed, ed_jwk, aud=AUD, nonce="n1", iat=IAT, header={"alg": "ES256"}),
    ):
        with pytest.raises(OAuthError, match="signature does not verify"):
            check(proof)
    with_private = ed_jwk | {"d": b64url(b"\x01" * 32)}
    with pytest.raises(OAuthError, match="public JWK"):
        check(key_proof(ed, with_private, aud=AUD, nonce="n1", iat=IAT))


def test_a_proof_signed_by_another_key_or_mangled_is_refused() -> None:
    key, _ = holder_key()
    _, other_jwk = holder_key()
    with pytest.raises(OAuthError, match="signature"):
        check(key_proof(key, other_jwk, aud=AUD, nonce="n1", iat=IAT))
    ed, _ = ed25519_holder_key()
    with pytest.raises(OAuthError, match="signature"):
        check(key_proof(ed, ed25519_holder_key()[1], aud=AUD, nonce="n1", iat=IAT))
    good = key_proof(key, holder_key()[1], aud=AUD, nonce="n1", iat=IAT)
    for mangled in (42, "", "a.b", good + ".x", f"{b64url(b'[1]')}.{good.split('.')[1]}.AA"):
        with pytest.raises(OAuthError) as refused:
            check(mangled)
        assert refused.value.code == "invalid_proof"


def test_iat_must_be_a_number() -> None:
    key, jwk = holder_key()
    for iat in ("2026-12-06", True, 10**20):
        with pytest.raises(OAuthError, match="iat"):
            check(key_proof(key, jwk, aud=AUD, nonce="n1", iat=iat))  # type: ignore[arg-type]
