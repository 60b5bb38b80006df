"""Trust material in the shapes other verifiers read, and reading theirs.

Published:

* :func:`credential_did_document` — a W3C DID document (``did:web``) for the DIVOC credential
  keys, active and retired. A credential's ``proof.verificationMethod`` is the key id of
  :class:`~certdist.signing.keys.KeyStore` (``did:certdist:…``, or a configured
  ``did:india``-style id); the document names that key ``<did>#<key id>``, so a verifier
  maps a proof to its method by prefixing ``<did>#``. Credentials are unchanged.
* :func:`dcc_trust_list` — the EU DCC Gateway's trust list entries (``kid``, ``timestamp``,
  ``country``, ``certificateType`` ``DSC``, ``thumbprint``, ``rawData``). The gateway adds a
  ``signature`` made with its trust anchor; a single deployment has none, so it is absent.
* :func:`gdhcn_did_document` — the Document Signer Certificates as a DID document in the
  shape of WHO's GDHCN trust lists: ``JsonWebKey2020`` methods whose ``publicKeyJwk`` carries
  the base64 ``kid`` and the certificate in ``x5c``; the method's fragment is the ``kid``.

Read (:func:`parse_eu_trust_list`, :func:`parse_gdhcn_did`, :func:`parse_vci_directory`):
every entry is checked (its certificate decodes, its ``thumbprint`` and ``kid`` match it) and
anything malformed raises :class:`~certdist.errors.InvalidInput` naming the entry.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any, Final
from urllib.parse import quote, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from jwcrypto import jwk
from jwcrypto.common import JWException

from certdist.errors import FieldError, InvalidInput
from certdist.signing.cose import certificate_kid
from certdist.signing.keys import PublicKeyInfo

__all__ = [
    "DID_CONTEXT",
    "JWS_2020_CONTEXT",
    "ForeignIssuer",
    "ForeignSigner",
    "credential_did_document",
    "dcc_trust_list",
    "did_web",
    "gdhcn_did_document",
    "parse_eu_trust_list",
    "parse_gdhcn_did",
    "parse_vci_directory",
]

DID_CONTEXT: Final = "https://www.w3.org/ns/did/v1"
JWS_2020_CONTEXT: Final = "https://w3id.org/security/suites/jws-2020/v1"
_COUNTRY: Final = re.compile(r"[A-Z]{2}")
# A key id goes into a DID URL fragment: characters RFC 3986 allows there stay readable.
_FRAGMENT_SAFE: Final = "!$&'()*+,;=:@/?-._~"


@dataclass(frozen=True)
class ForeignSigner:
    """A Document Signer Certificate read from a trust list, with its country."""

    certificate: x509.Certificate
    country: str | None

    @property
    def der(self) -> bytes:
        return _der(self.certificate)


@dataclass(frozen=True)
class ForeignIssuer:
    """A SMART Health Card issuer read from a directory; ``jwks`` None: fetched from its iss."""

    iss: str
    jwks: Mapping[str, Any] | None


# --- publishing ------------------------------------------------------------------------------


def did_web(public_url: str, *path: str) -> str:
    """The ``did:web`` of a deployment (its public URL's host and port), plus path segments:
    ``did:web:example.org:trust:eu-dcc`` resolves to ``/trust/eu-dcc/did.json``."""
    parts = urlsplit(public_url)
    if not parts.hostname:
        raise ValueError(f"the public URL {public_url!r} has no host")
    host = parts.hostname + (f"%3A{parts.port}" if parts.port else "")
    return ":".join(["did:web", host, *path])


def credential_did_document(did: str, keys: Sequence[PublicKeyInfo]) -> dict[str, Any]:
    """The DID document of the credential keys (see the module docstring for the ids)."""
    methods = [
        {
            "id": f"{did}#{quote(key.id, safe=_FRAGMENT_SAFE)}",
            "type": "JsonWebKey2020",
            "controller": did,
            "publicKeyJwk": _public_members(jwk.JWK.from_pem(key.pem.encode())),
        }
        for key in keys
    ]
    ids = [method["id"] for method in methods]
    return {
        "@context": [DID_CONTEXT, JWS_2020_CONTEXT],
        "id": did,
        "verificationMethod": methods,
        # Retired keys stay: the credentials they signed still verify.
        "assertionMethod": ids,
    }


def dcc_trust_list(
    certificates: Sequence[x509.Certificate],
    country: str,
    *,
    uploads: Sequence[x509.Certificate] = (),
) -> list[dict[str, Any]]:
    """DCC Gateway trust list entries for our DSCs and, as type ``UPLOAD``, the certificates
    that sign what we hand to the gateway; ``timestamp`` is when each became valid."""
    typed = [("DSC", c) for c in certificates] + [("UPLOAD", c) for c in uploads]
    return [
        {
            "kid": _kid(certificate),
            "timestamp": certificate.not_valid_before_utc.astimezone(UTC).isoformat(),
            "country": country,
            "certificateType": certificate_type,
            "thumbprint": hashlib.sha256(_der(certificate)).hexdigest(),
            "rawData": base64.b64encode(_der(certificate)).decode("ascii"),
        }
        for certificate_type, certificate in typed
    ]


def gdhcn_did_document(
    did: str, controller: str, certificates: Sequence[x509.Certificate]
) -> dict[str, Any]:
    """Our DSCs as a GDHCN-style DID trust list (see the module docstring)."""
    methods = []
    for certificate in certificates:
        kid = _kid(certificate)
        key = _public_members(_certificate_jwk(certificate))
        key.update(kid=kid, x5c=[base64.b64encode(_der(certificate)).decode("ascii")])
        methods.append(
            {
                "id": f"{did}#{kid}",
                "type": "JsonWebKey2020",
                "controller": controller,
                "publicKeyJwk": key,
            }
        )
    return {
        "@context": [DID_CONTEXT, JWS_2020_CONTEXT],
        "id": did,
        "controller": controller,
        "verificationMethod": methods,
    }


# --- reading ---------------------------------------------------------------------------------


def parse_eu_trust_list(document: Any) -> list[ForeignSigner]:
    """The DSCs of a DCC Gateway trust list: the gateway's array of entries, or an object
    with ``certificates`` (the DSC trust list format). Entries of other types (CSCA,
    UPLOAD, AUTHENTICATION) are skipped."""
    entries = document.get("certificates") if isinstance(document, dict) else document
    if not isinstance(entries, list):
        raise InvalidInput("an EU trust list is a JSON array of entries (or has certificates)")
    signers = []
    for index, entry in enumerate(entries):
        where = f"entry {index}"
        if not isinstance(entry, dict):
            raise _invalid(where, "is not a JSON object")
        if str(entry.get("certificateType", "DSC")).upper() != "DSC":
            continue
        certificate = _certificate(entry.get("rawData"), f"{where}.rawData")
        thumbprint = entry.get("thumbprint")
        if thumbprint is not None and str(thumbprint).lower() != _thumbprint(certificate):
            raise _invalid(f"{where}.thumbprint", "is not the SHA-256 of rawData")
        _check_kid(entry.get("kid"), certificate, f"{where}.kid")
        country = entry.get("country")
        if country is not None and not (isinstance(country, str) and _COUNTRY.fullmatch(country)):
            raise _invalid(f"{where}.country", "is not a two-letter country code")
        signers.append(ForeignSigner(_signer_only(certificate, where), country))
    return signers


def parse_gdhcn_did(document: Any) -> list[ForeignSigner]:
    """The Document Signer Certificates of a GDHCN DID trust list (the embedded kind).

    Methods that are references to other DID documents, or whose certificate is a CA (the
    signing authorities listed beside the DSCs), are skipped.
    """
    if not isinstance(document, dict) or not isinstance(document.get("verificationMethod"), list):
        raise InvalidInput("a GDHCN DID document is a JSON object with verificationMethod")
    signers = []
    for index, method in enumerate(document["verificationMethod"]):
        where = f"verificationMethod {index}"
        if isinstance(method, str):
            continue  # a reference-type list names other documents; import those instead
        key = method.get("publicKeyJwk") if isinstance(method, dict) else None
        chain = key.get("x5c") if isinstance(key, dict) else None
        if not isinstance(chain, list) or not chain:
            raise _invalid(where, "has no publicKeyJwk with an x5c certificate")
        certificate = _certificate(chain[0], f"{where}.publicKeyJwk.x5c[0]")
        if _is_ca(certificate):
            continue
        assert isinstance(key, dict)
        _check_kid(key.get("kid"), certificate, f"{where}.publicKeyJwk.kid")
        _check_jwk_matches(key, certificate, f"{where}.publicKeyJwk")
        signers.append(ForeignSigner(certificate, _subject_country(certificate)))
    return signers


def parse_vci_directory(document: Any) -> list[ForeignIssuer]:
    """SMART Health Card issuers of a VCI directory: ``participating_issuers`` (keys fetched
    from each ``iss``) or a snapshot's ``issuer_info`` (keys included)."""
    if isinstance(document, dict) and isinstance(document.get("participating_issuers"), list):
        return [
            ForeignIssuer(_iss(item, f"participating_issuers {i}"), None)
            for i, item in enumerate(document["participating_issuers"])
        ]
    if isinstance(document, dict) and isinstance(document.get("issuer_info"), list):
        issuers = []
        for index, info in enumerate(document["issuer_info"]):
            where = f"issuer_info {index}"
            issuer = info.get("issuer") if isinstance(info, dict) else None
            keys = info.get("keys") if isinstance(info, dict) else None
            if not isinstance(keys, list):
                raise _invalid(where, "has no keys list")
            jwks = {"keys": keys}
            try:
                jwk.JWKSet.from_json(json.dumps(jwks))
            except (JWException, ValueError, TypeError):
                raise _invalid(f"{where}.keys", "is not a JWK set") from None
            issuers.append(ForeignIssuer(_iss(issuer, where), jwks))
        return issuers
    raise InvalidInput("a VCI directory has participating_issuers or issuer_info")


# --- internals -------------------------------------------------------------------------------


def _invalid(where: str, problem: str) -> InvalidInput:
    return InvalidInput(f"{where} {problem}", [FieldError(where, problem)])


def _der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


def _kid(certificate: x509.Certificate) -> str:
    return base64.b64encode(certificate_kid(_der(certificate))).decode("ascii")


def _certificate_jwk(certificate: x509.Certificate) -> jwk.JWK:
    public = certificate.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return jwk.JWK.from_pem(public)


def _public_members(key: jwk.JWK) -> dict[str, Any]:
    # jwcrypto names a key read from PEM by its thumbprint: a second id beside the method's
    # would only confuse, so the JWK carries the key alone.
    members = key.export_public(as_dict=True)
    members.pop("kid", None)
    return members


def _thumbprint(certificate: x509.Certificate) -> str:
    return hashlib.sha256(_der(certificate)).hexdigest()


def _certificate(value: Any, where: str) -> x509.Certificate:
    if not isinstance(value, str) or not value.strip():
        raise _invalid(where, "is missing")
    try:
        if "-----BEGIN CERTIFICATE-----" in value:  # the gateway's own examples use PEM
            return x509.load_pem_x509_certificate(value.encode("ascii"))
        return x509.load_der_x509_certificate(base64.b64decode(value, validate=True))
    except (ValueError, binascii.Error, UnicodeEncodeError):
        raise _invalid(where, "is not a base64 DER (or PEM) X.509 certificate") from None


def _signer_only(certificate: x509.Certificate, where: str) -> x509.Certificate:
    key = certificate.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise _invalid(where, "certifies a key that cannot sign an EU DCC (EC or RSA only)")
    return certificate


def _check_kid(kid: Any, certificate: x509.Certificate, where: str) -> None:
    if kid is not None and kid != _kid(certificate):
        raise _invalid(where, "is not the certificate's kid (first 8 bytes of its SHA-256)")


def _check_jwk_matches(key: Mapping[str, Any], certificate: x509.Certificate, where: str) -> None:
    own = {k: v for k, v in key.items() if k in ("kty", "crv", "x", "y", "n", "e")}
    try:
        stated = jwk.JWK(**own).thumbprint() if "kty" in own else None
    except (JWException, ValueError, TypeError):
        raise _invalid(where, "is not a valid public JWK") from None
    signer = _signer_only(certificate, where)
    if stated is not None and stated != _certificate_jwk(signer).thumbprint():
        raise _invalid(where, "is not the key of its x5c certificate")


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        return bool(certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _subject_country(certificate: x509.Certificate) -> str | None:
    found = certificate.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)
    value = found[0].value if found else None
    return value if isinstance(value, str) and _COUNTRY.fullmatch(value) else None


def _iss(item: Any, where: str) -> str:
    iss = item.get("iss") if isinstance(item, dict) else None
    if not isinstance(iss, str) or not iss.startswith("https://"):
        raise _invalid(f"{where}.iss", "is not an https URL")
    return iss.rstrip("/")
