"""The holder's key proofs of a Credential Request (OpenID4VCI 1.0, section 8.2.1.1, the
``jwt`` proof type), checked as its "Verifying Proof" section lists.

A proof is a compact JWS whose header has ``typ: openid4vci-proof+jwt``, an asymmetric
``alg`` we accept (ES256 with a P-256 key, EdDSA or Ed25519 with an Ed25519 key:
``signing/holder_keys.py``; the SD-JWT VC binds that key as ``cnf`` and the Key Binding JWT
is signed with it) and
exactly one key parameter, which must be ``jwk`` (a public key: a ``d`` member is refused):
``kid`` names a DID key and ``x5c`` a certificate chain, neither of which this issuer
resolves. Its claims must hold ``aud`` = our Credential Issuer Identifier, ``iat`` within
:data:`CLOCK_SKEW` of now and not older than the nonce's life, and ``nonce``: a ``c_nonce``
from our Nonce Endpoint. Whether that nonce is still unused is the caller's check
(:mod:`.credentials`): it needs the shared state.

Every failure is an :class:`OAuthError` named ``invalid_proof`` whose description says what
is wrong with which proof (by its position in the request).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from certdist.errors import OAuthError
from certdist.signing.holder_keys import HOLDER_ALGORITHMS, holder_key
from certdist.signing.jose import split_compact_jws

PROOF_TYP: Final = "openid4vci-proof+jwt"
PROOF_ALGORITHMS: Final = HOLDER_ALGORITHMS
CLOCK_SKEW: Final = timedelta(seconds=60)
_KEY_PARAMETERS: Final = ("jwk", "kid", "x5c")


@dataclass(frozen=True)
class KeyProof:
    """A proof that holds: the public key to bind (a P-256 or Ed25519 JWK, public members
    only) and the ``c_nonce`` it carries."""

    jwk: dict[str, str]
    nonce: str


def check_proof(
    proof: object, *, audience: str, now: datetime, max_age: timedelta, position: int = 0
) -> KeyProof:
    """The key and nonce of one ``jwt`` proof, or ``invalid_proof`` naming the problem."""

    def refuse(problem: str) -> OAuthError:
        return OAuthError("invalid_proof", f"proofs.jwt[{position}]: {problem}")

    if not isinstance(proof, str):
        raise refuse("a proof must be a compact JWT (a string)")
    try:
        header, claims, signing_input, signature = split_compact_jws(proof)
    except ValueError as error:
        raise refuse(str(error)) from None
    if header.get("typ") != PROOF_TYP:
        raise refuse(f'the header typ must be "{PROOF_TYP}"')
    if header.get("alg") not in PROOF_ALGORITHMS:
        raise refuse(f"the header alg must be one of {', '.join(PROOF_ALGORITHMS)}")
    present = [name for name in _KEY_PARAMETERS if name in header]
    if present != ["jwk"]:
        raise refuse("the header must name the key by exactly one parameter, jwk")
    try:
        key = holder_key(header["jwk"])
    except ValueError as error:
        raise refuse(f"jwk: {error}") from None
    if not key.verifies(header["alg"], signing_input, signature):
        raise refuse(f"the signature does not verify as {header['alg']} with the header's jwk")
    if claims.get("aud") != audience:
        raise refuse("aud must be this Credential Issuer's identifier")
    _check_issued_at(claims.get("iat"), now, max_age, refuse)
    nonce = claims.get("nonce")
    if not isinstance(nonce, str) or not nonce:
        raise refuse("no nonce: get a c_nonce from the nonce endpoint")
    return KeyProof(jwk=key.jwk, nonce=nonce)


def _check_issued_at(iat: Any, now: datetime, max_age: timedelta, refuse: Any) -> None:
    if isinstance(iat, bool) or not isinstance(iat, int | float):
        raise refuse("iat must be a number (seconds since the epoch)")
    try:
        issued = datetime.fromtimestamp(iat, tz=now.tzinfo)
    except (OverflowError, OSError, ValueError):
        raise refuse("iat is out of range") from None
    if issued > now + CLOCK_SKEW:
        raise refuse("iat is in the future")
    if issued < now - max_age - CLOCK_SKEW:
        raise refuse("the proof is too old (iat)")
