"""SMART Health Cards: a FHIR R4 immunization or lab-result bundle in a compact ES256 JWS.

Issuing: the bundle (``Patient`` and one ``Immunization`` per dose, or for a lab test one
``Observation`` with the result; ``resource:N`` references, no ids, narrative or coding
``display``) goes into ``vc.credentialSubject``; the
payload is minified and raw-DEFLATEd; the JWS header is ``{"zip":"DEF","alg":"ES256",
"kid":<RFC 7638 thumbprint>}``. The QR holds a byte segment ``shc:/`` and a numeric segment
(two digits per JWS character, ``ord(c) - 45``) at error correction L, version 22 at most.

``nbf`` is the certificate's issuance time and ECDSA nonces are deterministic, so a card is
a pure function of the certificate, the key and the rid secret: it is cached and served with an
ETag (the secret stands in the version through a rid of a fixed value).

Revocation: every card carries ``vc.rid``, the base64url of the first 64 bits of a keyed
hash (HMAC-SHA-256 with the issuer's secret) of the certificate id, so a revocation list
``<iss>/.well-known/crl/<kid>.json`` can name withdrawn cards without naming certificates.
The issuer passes the keyed hash in (:func:`revocation_id`); this module holds no secret.

Verification (:func:`verify_shc`) checks the JWS form and header, inflates the payload,
finds the keys trusted for ``(iss, kid)``, checks the signature, then ``nbf`` and ``exp``.
Revocation lists (``rid``) are the verifier's to consult: :func:`is_revoked`.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric import ec

from certdist.domain import codes
from certdist.domain.models import TEST, VACCINATION
from certdist.errors import (
    CertificateNotYetValid,
    InvalidInput,
    MalformedCertificate,
    UnknownKey,
    VerificationError,
)
from certdist.formats.lab_test import LabTestCodes, is_lab_test, lab_test_of, utc_text
from certdist.formats.qr_image import QrMatrix
from certdist.formats.registry import CertificateBundle
from certdist.formats.wallet_qr import segmented_matrix
from certdist.signing.jose import (
    b64url,
    b64url_decode,
    compact_json,
    es256_sign,
    es256_verify,
    thumbprint,
)
from certdist.signing.keys import PublicKey, SigningKey

QR_PREFIX: Final = "shc:/"
MAX_QR_VERSION: Final = 22
MEDIA_TYPE: Final = "application/smart-health-card"
CARD_TYPES: Final = (
    "https://smarthealth.cards#health-card",
    "https://smarthealth.cards#immunization",
    "https://smarthealth.cards#covid19",
)
LAB_CARD_TYPES: Final = (
    "https://smarthealth.cards#health-card",
    "https://smarthealth.cards#covid19",
    "https://smarthealth.cards#laboratory",
)
#: The certificate kinds a card renders.
ENTITY_TYPES: Final = frozenset({VACCINATION, TEST})
FHIR_VERSION: Final = "4.0.1"
LOINC: Final = codes.LOINC
SNOMED: Final = codes.SNOMED_CT
#: A ``rid`` is this many leading bytes of the keyed hash (64 bits: 11 base64url characters).
RID_BYTES: Final = 8
_MAX_PAYLOAD_BYTES: Final = 256 * 1024  # an inflated card is a few KB; refuse DEFLATE bombs
_CLOCK_SKEW: Final = timedelta(minutes=5)


@dataclass(frozen=True)
class Coding:
    system: str
    code: str

    def as_fhir(self) -> dict[str, str]:
        return {"system": self.system, "code": self.code}


@dataclass(frozen=True)
class VerifiedShc:
    payload: dict[str, Any]
    issuer: str
    kid: str
    issued_at: datetime | None
    expires_at: datetime | None
    rid: str | None

    @property
    def fhir_bundle(self) -> dict[str, Any]:
        bundle: dict[str, Any] = self.payload["vc"]["credentialSubject"]["fhirBundle"]
        return bundle


# --- the FHIR bundle ---------------------------------------------------------------------------


def split_name(name: str) -> dict[str, Any]:
    """A FHIR HumanName from a full name: the last word as family name (see eu_dcc)."""
    words = name.split()
    if len(words) < 2:
        return {"family": name.strip()}
    return {"family": words[-1], "given": words[:-1]}


def immunization_bundle(
    bundle: CertificateBundle, vaccine_codes: Mapping[str, Sequence[Coding]]
) -> dict[str, Any]:
    """The SMART Health Card FHIR bundle: the patient and every dose, lowest first."""
    entries = [{"fullUrl": "resource:0", "resource": _patient(bundle)}]
    for index, evidence in enumerate(_doses(bundle), start=1):
        entries.append(
            {"fullUrl": f"resource:{index}", "resource": _immunization(evidence, vaccine_codes)}
        )
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def lab_result_bundle(bundle: CertificateBundle, codes: LabTestCodes) -> dict[str, Any]:
    """The SMART Health Card FHIR bundle of a lab test: the patient and the result."""
    test = lab_test_of(bundle.credential)
    codes.disease(test)  # the LOINC codes are SARS-CoV-2 tests: refuse another disease
    observation: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": codes.test_type(test).loinc}]},
        "subject": {"reference": "resource:0"},
        "effectiveDateTime": utc_text(test.sample_collected),
    }
    if test.facility:
        observation["performer"] = [{"display": test.facility}]
    observation["valueCodeableConcept"] = {
        "coding": [{"system": SNOMED, "code": codes.result(test).snomed}]
    }
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": "resource:0", "resource": _patient(bundle)},
            {"fullUrl": "resource:1", "resource": observation},
        ],
    }


def _patient(bundle: CertificateBundle) -> dict[str, Any]:
    # The beneficiary's registered date of birth (a lab-test credential carries none).
    subject = bundle.credential["credentialSubject"]
    patient: dict[str, Any] = {"resourceType": "Patient", "name": [split_name(subject["name"])]}
    if bundle.latest.dob is not None:
        patient["birthDate"] = bundle.latest.dob.isoformat()
    return patient


def _doses(bundle: CertificateBundle) -> list[dict[str, Any]]:
    credentials = bundle.dose_credentials or [bundle.credential]
    doses = [(c.get("evidence") or [{}])[0] for c in credentials]
    if not all("Vaccination" in (e.get("type") or []) for e in doses):
        raise InvalidInput(
            "a SMART Health Card is issued for vaccination and lab-test certificates only"
        )
    return sorted(doses, key=lambda e: (positive_int(e.get("dose")) or 0, str(e.get("date", ""))))


def _immunization(
    evidence: Mapping[str, Any], vaccine_codes: Mapping[str, Sequence[Coding]]
) -> dict[str, Any]:
    name = str(evidence.get("vaccine", "")).strip()
    codings = vaccine_codes.get(name.lower())
    if not codings:
        raise InvalidInput(
            "this vaccine has no SMART Health Card codes configured (wallet.shc_vaccine_codes)"
        )
    resource: dict[str, Any] = {
        "resourceType": "Immunization",
        "status": "completed",
        "vaccineCode": {"coding": [c.as_fhir() for c in codings]},
        "patient": {"reference": "resource:0"},
        "occurrenceDateTime": str(evidence.get("date", ""))[:10],
    }
    facility = (evidence.get("facility") or {}).get("name")
    if facility:
        resource["performer"] = [{"actor": {"display": str(facility)}}]
    if evidence.get("batch"):
        resource["lotNumber"] = str(evidence["batch"])
    dose, total = positive_int(evidence.get("dose")), positive_int(evidence.get("totalDoses"))
    if dose:
        applied: dict[str, int] = {"doseNumberPositiveInt": dose}
        if total:
            applied["seriesDosesPositiveInt"] = total
        resource["protocolApplied"] = [applied]
    return resource


def positive_int(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
        return None
    return int(value) if value >= 1 else None


# --- signing -----------------------------------------------------------------------------------


def sign_card(payload: Mapping[str, Any], key: SigningKey) -> str:
    """The compact JWS of a card payload (minified, raw DEFLATE, ES256)."""
    private = key.private_key
    if not isinstance(private, ec.EllipticCurvePrivateKey):
        raise ValueError("a SMART Health Card key must be EC P-256")
    header = {"zip": "DEF", "alg": "ES256", "kid": thumbprint(private.public_key())}
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = packer.compress(compact_json(dict(payload))) + packer.flush()
    signing_input = f"{b64url(compact_json(header))}.{b64url(body)}"
    return f"{signing_input}.{b64url(es256_sign(private, signing_input.encode('ascii')))}"


def qr_text(jws: str) -> str:
    """``shc:/`` followed by two digits per JWS character."""
    return QR_PREFIX + "".join(f"{ord(c) - 45:02d}" for c in jws)


def qr_matrix_of(jws: str) -> QrMatrix:
    digits = qr_text(jws)[len(QR_PREFIX) :]
    return segmented_matrix(
        [(QR_PREFIX, "byte"), (digits, "numeric")], ec="L", max_version=MAX_QR_VERSION
    )


def revocation_id(keyed_digest: bytes) -> str:
    """A card's ``rid`` from the keyed hash of its certificate id: the first 64 bits,
    base64url (11 characters, within the 24 the specification allows)."""
    if len(keyed_digest) < RID_BYTES:
        raise ValueError(f"a revocation id needs a keyed hash of at least {RID_BYTES} bytes")
    return b64url(keyed_digest[:RID_BYTES])


def card_file(jws_list: Sequence[str]) -> bytes:
    """A ``.smart-health-card`` file."""
    return json.dumps({"verifiableCredential": list(jws_list)}).encode("utf-8")


class ShcIssuer:
    """Issues cards as ``iss`` (the service's public URL) with the active SHC key.

    ``revocation_id`` turns a certificate id into the card's ``rid`` (the issuer's keyed hash
    through :func:`revocation_id`); the same function builds the revocation list.
    """

    def __init__(
        self,
        issuer: str,
        key: SigningKey,
        vaccine_codes: Mapping[str, Sequence[Coding]],
        *,
        revocation_id: Callable[[str], str],
        lab_tests: LabTestCodes | None = None,
    ) -> None:
        if not isinstance(key.private_key, ec.EllipticCurvePrivateKey):
            raise ValueError("a SMART Health Card key must be EC P-256")
        self.issuer = issuer.rstrip("/")
        self.key = key
        self.kid = thumbprint(key.private_key.public_key())
        self._codes = {name.lower(): tuple(codes) for name, codes in vaccine_codes.items()}
        self.revocation_id = revocation_id
        self._lab_tests = lab_tests or LabTestCodes()
        # The rids depend on the issuer's secret: a rid of a fixed value stands for it, so a
        # new secret changes the version, and no cached card keeps an old rid. New lab-test
        # codes render other cards, so their fingerprint is part of it too.
        self._version = (
            f"shc-2/{self.kid}/{self.issuer}/{revocation_id('version')}"
            f"/{self._lab_tests.fingerprint()}"
        )

    @property
    def version(self) -> str:
        return self._version

    def payload(self, bundle: CertificateBundle) -> dict[str, Any]:
        if is_lab_test(bundle.credential):
            types, fhir = LAB_CARD_TYPES, lab_result_bundle(bundle, self._lab_tests)
        else:
            types, fhir = CARD_TYPES, immunization_bundle(bundle, self._codes)
        return {
            "iss": self.issuer,
            "nbf": int(bundle.latest.created_at.timestamp()),
            "vc": {
                "type": list(types),
                "rid": self.revocation_id(bundle.latest.certificate_id),
                "credentialSubject": {"fhirVersion": FHIR_VERSION, "fhirBundle": fhir},
            },
        }

    def jws(self, bundle: CertificateBundle) -> str:
        return sign_card(self.payload(bundle), self.key)


# --- verifying ---------------------------------------------------------------------------------


def verify_shc(
    jws: str, keys_for: Callable[[str, str], Sequence[PublicKey]], now: datetime
) -> VerifiedShc:
    """Verify a card's compact JWS at ``now``; ``keys_for(iss, kid)`` gives trusted keys.

    A JWS, header or payload that cannot be decoded is a :class:`MalformedCertificate`; a
    card whose ``nbf`` is more than the clock skew ahead is :class:`CertificateNotYetValid`
    (the SMART spec makes ``nbf`` the issue time; verifiers' clocks may lag a little)."""
    parts = jws.strip().split(".")
    if len(parts) != 3 or not all(parts):
        raise MalformedCertificate("jws: a SMART Health Card is a compact JWS of three parts")
    try:
        header = json.loads(b64url_decode(parts[0]))
        compressed = b64url_decode(parts[1])
        signature = b64url_decode(parts[2])
    except (ValueError, RecursionError):  # RecursionError: a header nested past the limit
        raise MalformedCertificate("jws: a part is not base64url-encoded JSON") from None
    if not isinstance(header, dict) or header.get("alg") != "ES256":
        raise MalformedCertificate("header: the algorithm must be ES256")
    if header.get("zip") != "DEF":
        raise MalformedCertificate('header: the payload must be compressed ("zip": "DEF")')
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise MalformedCertificate("header: no key id (kid)")
    payload = _inflate_json(compressed)
    issuer = payload.get("iss")
    if not isinstance(issuer, str) or not issuer:
        raise MalformedCertificate("payload: no issuer (iss)")
    signing_input = f"{parts[0]}.{parts[1]}".encode("ascii")
    check_es256(keys_for(issuer, kid), issuer, kid, signing_input, signature)
    vc = payload.get("vc")
    types = vc.get("type") if isinstance(vc, dict) else None
    if not isinstance(vc, dict) or not isinstance(types, list) or CARD_TYPES[0] not in types:
        raise MalformedCertificate("payload: not a health card (vc.type)")
    issued_at, expires_at = (
        numeric_date(payload.get("nbf"), "nbf"),
        numeric_date(payload.get("exp"), "exp"),
    )
    if issued_at is not None and now + _CLOCK_SKEW < issued_at:
        raise CertificateNotYetValid(
            "expiry: the card is not valid yet (nbf in the future)", issued_at
        )
    if expires_at is not None and now > expires_at:
        raise VerificationError("expiry: the card has expired")
    rid = vc.get("rid")
    return VerifiedShc(
        payload=payload,
        issuer=issuer,
        kid=kid,
        issued_at=issued_at,
        expires_at=expires_at,
        rid=rid if isinstance(rid, str) else None,
    )


def check_es256(
    candidates: Sequence[PublicKey], issuer: str, kid: str, signing_input: bytes, signature: bytes
) -> None:
    """The ES256 signature holds with one of the keys trusted for ``(issuer, kid)``."""
    if not candidates:
        raise UnknownKey(f"signature: no trusted key for issuer {issuer} and kid {kid}")
    if not any(es256_verify(key, signing_input, signature) for key in candidates):
        raise VerificationError("signature: the signature does not match the issuer's key")


#: A ``rids`` entry: a rid (the base64url alphabet, at most 24 characters), optionally ``.``
#: and a time in seconds since 1970 (the entry then revokes cards issued before it only).
#: Entries of any other form name no card.
RID_ENTRY: Final = re.compile(r"(?P<rid>[A-Za-z0-9_-]{1,24})(?:\.(?P<before>[0-9]{1,12}))?")


def is_revoked(card: VerifiedShc, crl: Mapping[str, Any]) -> bool:
    """Whether the issuer's revocation list (``/.well-known/crl/<kid>.json``) lists the card.

    An entry ``rid.<time>`` revokes only cards issued (``nbf``) before that time.
    """
    if card.rid is None or crl.get("kid") != card.kid:
        return False
    for entry in crl.get("rids") or []:
        parsed = RID_ENTRY.fullmatch(str(entry))
        if parsed is None or parsed["rid"] != card.rid:
            continue
        before = parsed["before"]
        if before is None:
            return True
        # A card without nbf cannot show it was issued after the time: it is revoked.
        issued = card.issued_at.timestamp() if card.issued_at else 0.0
        if issued < int(before):
            return True
    return False


def _inflate_json(compressed: bytes) -> dict[str, Any]:
    inflater = zlib.decompressobj(-15)
    try:
        data = inflater.decompress(compressed, _MAX_PAYLOAD_BYTES)
    except zlib.error:
        raise MalformedCertificate("payload: not raw DEFLATE data") from None
    if inflater.unconsumed_tail:
        raise MalformedCertificate("payload: larger than a health card can be")
    try:
        payload = json.loads(data)
    except (ValueError, RecursionError):
        raise MalformedCertificate("payload: not JSON") from None
    if not isinstance(payload, dict):
        raise MalformedCertificate("payload: not a JSON object")
    return payload


def numeric_date(value: object, name: str) -> datetime | None:
    """A JWT NumericDate (seconds since 1970) as a UTC time; ``None`` when absent."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MalformedCertificate(f"payload: {name} is not a number")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):  # NaN, or beyond the years a datetime holds
        raise MalformedCertificate(f"payload: {name} is out of range") from None
