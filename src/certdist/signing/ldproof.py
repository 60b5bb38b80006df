"""Linked-data proofs as jsonld-signatures v6 makes them (DIVOC's wire format;
docs/architecture.md, “Wire compatibility with DIVOC”).

A proof signs the canonical RDF of the credential, not its JSON text, so the same
credential re-serialised with other key order or whitespace still verifies, while any
change to a value breaks the signature::

    proofOptions = proof - {jws} + {"@context": "https://w3id.org/security/v2"}
    verifyData   = SHA256(URDNA2015(proofOptions)) || SHA256(URDNA2015(credential - proof))
    jws          = b64url(header) + ".." + b64url(sign(b64url(header) + "." + verifyData))

with the detached, unencoded-payload JWS header ``{"alg": ..., "b64": false, "crit":
["b64"]}``: ``PS256`` (RSA-PSS, SHA-256, MGF1-SHA-256, 32-byte salt) for
``RsaSignature2018``, ``EdDSA`` for ``Ed25519Signature2018``.

Values are first checked and copied by :func:`certdist.signing.jsonsafe.plain_json`: where
pyld and DIVOC's JavaScript would canonicalise a value differently, or where a field would
silently fall outside the signature, signing refuses the credential.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from certdist.errors import (
    ConfigurationError,
    InvalidInput,
    MalformedCertificate,
    UnknownKey,
    UnsupportedFormat,
    VerificationError,
)
from certdist.signing.contexts import SECURITY_V2, ContextLoader, default_loader
from certdist.signing.jsonsafe import plain_json
from certdist.signing.keys import KeyAlgorithm, PublicKey, SigningKey

__all__ = [
    "PROOF_PURPOSE",
    "CredentialSigner",
    "KeyResolver",
    "ProofType",
    "sign_credential",
    "verify_credential",
]

#: Looks a verificationMethod up in a trust store; None when the store does not hold it.
KeyResolver = Callable[[str], PublicKey | None]

PROOF_PURPOSE: Final = "assertionMethod"
_BASE64URL: Final = re.compile(r"[A-Za-z0-9_-]*")
_PSS: Final = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)


class ProofType(StrEnum):
    """The proof suites certdist signs and verifies."""

    RSA_SIGNATURE_2018 = "RsaSignature2018"
    ED25519_SIGNATURE_2018 = "Ed25519Signature2018"


@dataclass(frozen=True)
class _Suite:
    proof_type: ProofType
    jws_alg: str
    key_algorithm: KeyAlgorithm

    @property
    def encoded_header(self) -> str:
        header = {"alg": self.jws_alg, "b64": False, "crit": ["b64"]}
        return _b64url(json.dumps(header, separators=(",", ":")).encode("ascii"))


_SUITES: Final[Mapping[str, _Suite]] = {
    suite.proof_type: suite
    for suite in (
        _Suite(ProofType.RSA_SIGNATURE_2018, "PS256", KeyAlgorithm.RSA),
        _Suite(ProofType.ED25519_SIGNATURE_2018, "EdDSA", KeyAlgorithm.ED25519),
    )
}
_SUITE_FOR_KEY: Final = {suite.key_algorithm: suite for suite in _SUITES.values()}


class CredentialSigner:
    """Signs credentials with one key; services receive it by injection.

    The key must be an active RSA or Ed25519 key with its private half: a retired key never
    signs again (it stays in the key store only to verify what it signed).
    """

    def __init__(self, key: SigningKey, loader: ContextLoader) -> None:
        suite = _SUITE_FOR_KEY.get(key.algorithm)
        if suite is None:
            raise ConfigurationError(
                f"key {key.id!r} is {key.algorithm}; linked-data proofs need RSA or Ed25519"
            )
        if not key.active:
            raise ConfigurationError(f"key {key.id!r} is retired and must not sign")
        self._key = key
        self._loader = loader
        self._suite = suite

    @property
    def key_id(self) -> str:
        """The verificationMethod this signer writes into proofs."""
        return self._key.id

    def sign(self, credential: Mapping[str, Any], *, created: datetime) -> dict[str, Any]:
        """Return a new dict: ``credential`` (key order kept) with ``proof`` added last.

        Raises :class:`~certdist.errors.InvalidInput` when the credential already has a
        proof, holds a non-JSON value, or has a property or context URL that the loader's
        contexts do not define (it would otherwise be signed without being covered).
        """
        if "proof" in credential:
            raise InvalidInput("the credential already carries a proof")
        document: dict[str, Any] = plain_json(credential, InvalidInput)
        proof: dict[str, Any] = {
            "type": str(self._suite.proof_type),
            "created": _format_created(created),
            "verificationMethod": self._key.id,
            "proofPurpose": PROOF_PURPOSE,
        }
        try:
            verify_data = _verify_data(self._loader, proof, document)
        except VerificationError as error:
            raise InvalidInput(f"cannot sign the credential: {error}") from None
        header = self._suite.encoded_header
        signature = _sign(self._key, header.encode("ascii") + b"." + verify_data)
        proof["jws"] = header + ".." + _b64url(signature)
        document["proof"] = proof
        return document

    def verify(self, credential: Mapping[str, Any], resolve_key: KeyResolver) -> str:
        """:func:`verify_credential` with this signer's context loader."""
        return verify_credential(credential, resolve_key, loader=self._loader)


def sign_credential(
    credential: Mapping[str, Any],
    key: SigningKey,
    *,
    created: datetime,
    loader: ContextLoader | None = None,
) -> dict[str, Any]:
    """Sign ``credential`` with ``key`` (see :meth:`CredentialSigner.sign`).

    ``created`` is truncated to whole seconds (``YYYY-MM-DDTHH:MM:SSZ``), as jsonld.js does.
    """
    return CredentialSigner(key, loader or default_loader()).sign(credential, created=created)


def verify_credential(
    credential: Mapping[str, Any],
    resolve_key: KeyResolver,
    *,
    loader: ContextLoader | None = None,
) -> str:
    """Check the credential's proof and return its verificationMethod.

    Raises :class:`~certdist.errors.UnknownKey` when ``resolve_key`` does not know the
    verificationMethod, :class:`~certdist.errors.UnsupportedFormat` for a proof type we do
    not implement, :class:`~certdist.errors.MalformedCertificate` for a credential that
    cannot be processed (no or several proofs, a malformed jws or header, content that is
    no plain JSON or that the contexts do not define), and
    :class:`~certdist.errors.VerificationError` with the reason for anything else: a proof
    purpose or key of the wrong kind, or a signature that does not match.
    """
    if not isinstance(credential, Mapping):
        raise MalformedCertificate("a credential must be a JSON object")
    proof = credential.get("proof")
    if proof is None:
        raise MalformedCertificate("the credential has no proof")
    if not isinstance(proof, Mapping):
        raise MalformedCertificate("only a single proof object is supported")
    proof_type = proof.get("type")
    suite = _SUITES.get(proof_type) if isinstance(proof_type, str) else None
    if suite is None:
        # A named suite we do not implement is unsupported; no name at all is malformed.
        problem = UnsupportedFormat if isinstance(proof_type, str) else MalformedCertificate
        raise problem(f"unsupported proof type; expected one of {sorted(_SUITES)}")
    if proof.get("proofPurpose") != PROOF_PURPOSE:
        raise VerificationError(f"the proof's proofPurpose must be {PROOF_PURPOSE!r}")
    method = proof.get("verificationMethod")
    if not isinstance(method, str) or not method:
        raise MalformedCertificate("the proof has no verificationMethod")
    encoded_header, signature = _split_jws(proof.get("jws"), suite)

    public_key = resolve_key(method)
    if public_key is None:
        raise UnknownKey(f"verificationMethod {method!r} is not a trusted key")
    if not isinstance(public_key, _public_key_class(suite)):
        raise VerificationError(
            f"verificationMethod {method!r} is not an {suite.key_algorithm} key, "
            f"which {suite.proof_type} needs"
        )

    options = {key: value for key, value in proof.items() if key != "jws"}
    document = {key: value for key, value in credential.items() if key != "proof"}
    try:
        verify_data = _verify_data(
            loader or default_loader(),
            plain_json(options, MalformedCertificate, "proof"),
            plain_json(document, MalformedCertificate),
        )
    except VerificationError as error:
        # JSON-LD that cannot be canonicalised was never signed as it stands.
        raise MalformedCertificate(str(error)) from None
    data = encoded_header.encode("ascii") + b"." + verify_data
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, data, _PSS, hashes.SHA256())
        elif isinstance(public_key, ed25519.Ed25519PublicKey):
            public_key.verify(signature, data)
    except InvalidSignature:
        raise VerificationError("the signature does not match the credential") from None
    return method


# --- the algorithm ---------------------------------------------------------------------------


def _verify_data(
    loader: ContextLoader, proof_options: Mapping[str, Any], document: Mapping[str, Any]
) -> bytes:
    """SHA-256 of the canonical proof options, then of the canonical document."""
    options = {"@context": SECURITY_V2, **proof_options}  # as jsigs v6: a proof's own wins
    return (
        hashlib.sha256(loader.canonize(options).encode("utf-8")).digest()
        + hashlib.sha256(loader.canonize(document).encode("utf-8")).digest()
    )


def _sign(key: SigningKey, data: bytes) -> bytes:
    private_key = key.private_key
    if isinstance(private_key, rsa.RSAPrivateKey):
        return private_key.sign(data, _PSS, hashes.SHA256())
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        return private_key.sign(data)
    raise ConfigurationError(f"key {key.id!r} cannot make a linked-data proof")


def _public_key_class(suite: _Suite) -> type:
    if suite.key_algorithm is KeyAlgorithm.RSA:
        return rsa.RSAPublicKey
    return ed25519.Ed25519PublicKey


def _split_jws(jws: object, suite: _Suite) -> tuple[str, bytes]:
    """Check a detached unencoded-payload JWS; return its encoded header and signature."""
    if not isinstance(jws, str):
        raise MalformedCertificate("the proof has no jws")
    parts = jws.split(".")
    if len(parts) != 3 or parts[1] != "" or not parts[0] or not parts[2]:
        raise MalformedCertificate("malformed jws: expected a detached JWS 'header..signature'")
    encoded_header, _, encoded_signature = parts
    try:
        header = json.loads(_b64url_decode(encoded_header, "header"))
    except (ValueError, RecursionError):  # RecursionError: a header nested past the limit
        raise MalformedCertificate("malformed jws: the header is not JSON") from None
    if (
        not isinstance(header, dict)
        or set(header) != {"alg", "b64", "crit"}
        or header["alg"] != suite.jws_alg
        or header["b64"] is not False
        or header["crit"] != ["b64"]
    ):
        raise MalformedCertificate(
            f"bad jws header: {suite.proof_type} needs exactly "
            f'{{"alg":"{suite.jws_alg}","b64":false,"crit":["b64"]}}'
        )
    return encoded_header, _b64url_decode(encoded_signature, "signature")


def _format_created(created: datetime) -> str:
    if created.tzinfo is None or created.utcoffset() is None:
        raise ValueError("created must be a timezone-aware datetime")
    return created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str, what: str) -> bytes:
    if not _BASE64URL.fullmatch(text) or len(text) % 4 == 1:
        raise MalformedCertificate(f"malformed jws: the {what} is not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error:  # pragma: no cover - excluded by the pattern above
        raise MalformedCertificate(f"malformed jws: the {what} is not base64url") from None
