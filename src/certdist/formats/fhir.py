"""A WHO DDCC:VS FHIR document bundle of a vaccination certificate, signed.

The bundle is a FHIR R4 ``document``: a ``Composition`` (LOINC 82593-5, immunization
summary) first, then the ``Patient`` and one ``Immunization`` per dose (vaccine as ICD-11,
lot, date, dose and series in ``protocolApplied``, country of vaccination in the DDCC
extension). Full URLs are ``urn:uuid:`` UUIDs derived from the certificate ids, so the same
certificates always give the same bundle.

Signature choice: ``Bundle.signature`` holds a *detached* compact JWS (RFC 7515 appendix F,
``header..signature``; ``sigFormat`` ``application/jose``) made with the SMART Health Card
issuer key (ES256, ``kid`` = its RFC 7638 thumbprint, published at
``/.well-known/jwks.json``). The signed content is the bundle without its ``signature``
element, serialised with sorted keys, no whitespace, UTF-8 (the RFC 8785 form for the
strings and integers this bundle holds). The signature travels inside the document, so a
saved file stays verifiable; :func:`verify_fhir` checks it.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric import ec

from certdist.domain import codes
from certdist.domain.models import VACCINATION
from certdist.errors import InvalidInput, MalformedCertificate, UnknownKey, VerificationError
from certdist.formats.registry import CertificateBundle
from certdist.formats.shc import split_name
from certdist.signing.jose import b64url, b64url_decode, es256_sign, es256_verify, thumbprint
from certdist.signing.keys import PublicKey, SigningKey

ICD11: Final = codes.ICD11_MMS
COVID_19_ICD11: Final = codes.COVID_19.icd11
COUNTRY_EXTENSION: Final = (
    "http://worldhealthorganization.github.io/ddcc/StructureDefinition/DDCCCountryOfEventExtension"
)
#: A DDCC:VS is a vaccination-status document by definition: it has no form for a lab test.
ENTITY_TYPES: Final = frozenset({VACCINATION})
SIGNATURE_TYPE: Final = {"system": "urn:iso-astm:E1762-95:2013", "code": "1.2.840.10065.1.12.1.5"}
_NAMESPACE: Final = uuid.UUID("6f1d5c8e-8c1b-5d7e-9a43-0b7d1e2c3f40")


def canonical(bundle: Mapping[str, Any]) -> bytes:
    """The signed form: the bundle without ``signature``, keys sorted, no whitespace."""
    content = {key: value for key, value in bundle.items() if key != "signature"}
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class FhirDocumentIssuer:
    """Builds and signs DDCC:VS bundles."""

    def __init__(
        self,
        *,
        issuer: str,
        country: str,
        icd11_codes: Mapping[str, str],
        key: SigningKey,
    ) -> None:
        if not isinstance(key.private_key, ec.EllipticCurvePrivateKey):
            raise ValueError("the FHIR signing key must be EC P-256")
        self.issuer = issuer.rstrip("/")
        self.country = country
        self._codes = {name.lower(): code for name, code in icd11_codes.items()}
        self._key = key.private_key
        self.kid = thumbprint(key.private_key.public_key())

    @property
    def version(self) -> str:
        return f"fhir-ddcc-1/{self.kid}/{self.country}"

    def document(self, bundle: CertificateBundle) -> dict[str, Any]:
        document = self.unsigned(bundle)
        header = b64url(json.dumps({"alg": "ES256", "kid": self.kid}).encode())
        signing_input = f"{header}.{b64url(canonical(document))}".encode("ascii")
        jws = f"{header}..{b64url(es256_sign(self._key, signing_input))}"
        document["signature"] = {
            "type": [SIGNATURE_TYPE],
            "when": document["timestamp"],
            "who": {"identifier": {"value": self.issuer}},
            "targetFormat": "application/fhir+json",
            "sigFormat": "application/jose",
            "data": base64.b64encode(jws.encode("ascii")).decode("ascii"),
        }
        return document

    def unsigned(self, bundle: CertificateBundle) -> dict[str, Any]:
        record = bundle.latest
        credential = bundle.credential
        subject = credential["credentialSubject"]
        patient_url = _urn(record.pre_enrollment_code, "patient")
        patient: dict[str, Any] = {
            "resourceType": "Patient",
            "identifier": [{"system": f"{self.issuer}/beneficiary", "value": subject["refId"]}],
            "name": [{"text": subject["name"], **split_name(subject["name"])}],
        }
        gender = str(subject.get("gender", "")).lower()
        if gender in ("male", "female", "other"):
            patient["gender"] = gender
        if record.dob is not None:
            patient["birthDate"] = record.dob.isoformat()
        credentials = bundle.dose_credentials or [credential]
        ids = [r.certificate_id for r in bundle.doses] or [record.certificate_id]
        doses = sorted(
            zip(ids, [(c.get("evidence") or [{}])[0] for c in credentials], strict=True),
            key=lambda pair: (pair[1].get("dose") or 0, str(pair[1].get("date", ""))),
        )
        immunizations = [
            (_urn(certificate_id, "immunization"), self._immunization(e, patient_url))
            for certificate_id, e in doses
        ]
        timestamp = record.created_at.isoformat().replace("+00:00", "Z")
        composition = {
            "resourceType": "Composition",
            "status": "final",
            "type": {"coding": [{"system": "http://loinc.org", "code": "82593-5"}]},
            "subject": {"reference": patient_url},
            "date": timestamp,
            "author": [{"display": self.issuer}],
            "title": "International Certificate of Vaccination or Prophylaxis",
            "section": [
                {
                    "code": {"coding": [{"system": "http://loinc.org", "code": "11369-6"}]},
                    "entry": [{"reference": url} for url, _ in immunizations],
                }
            ],
        }
        entries = [
            {"fullUrl": _urn(record.certificate_id, "composition"), "resource": composition},
            {"fullUrl": patient_url, "resource": patient},
            *({"fullUrl": url, "resource": resource} for url, resource in immunizations),
        ]
        return {
            "resourceType": "Bundle",
            "identifier": {"system": f"{self.issuer}/certificate", "value": record.certificate_id},
            "type": "document",
            "timestamp": timestamp,
            "entry": entries,
        }

    def _immunization(self, evidence: Mapping[str, Any], patient_url: str) -> dict[str, Any]:
        if "Vaccination" not in (evidence.get("type") or []):
            raise InvalidInput(
                "a DDCC:VS FHIR document records vaccination status: it is issued for "
                "vaccination certificates only"
            )
        name = str(evidence.get("vaccine", "")).strip()
        code = self._codes.get(name.lower())
        if code is None:
            raise InvalidInput("this vaccine has no ICD-11 code configured (vaccine_codes)")
        applied: dict[str, Any] = {
            "targetDisease": [{"coding": [{"system": ICD11, "code": COVID_19_ICD11}]}],
        }
        if isinstance(evidence.get("dose"), int):
            applied["doseNumberPositiveInt"] = evidence["dose"]
        if isinstance(evidence.get("totalDoses"), int):
            applied["seriesDosesPositiveInt"] = evidence["totalDoses"]
        resource: dict[str, Any] = {
            "resourceType": "Immunization",
            "extension": [{"url": COUNTRY_EXTENSION, "valueCode": self.country}],
            "status": "completed",
            "vaccineCode": {"coding": [{"system": ICD11, "code": code}]},
            "patient": {"reference": patient_url},
            "occurrenceDateTime": str(evidence.get("date", "")),
            "protocolApplied": [applied],
        }
        if evidence.get("batch"):
            resource["lotNumber"] = str(evidence["batch"])
        facility = (evidence.get("facility") or {}).get("name")
        if facility:
            resource["performer"] = [{"actor": {"display": str(facility)}}]
        return resource


def verify_fhir(
    document: Mapping[str, Any], keys_for_kid: Callable[[str], Sequence[PublicKey]]
) -> str:
    """Check a bundle's detached JWS signature; returns the key id that verified it.

    A signature element that is no detached ES256 JWS is a :class:`MalformedCertificate`;
    one that does not match the content a :class:`VerificationError`."""
    signature = document.get("signature")
    if not isinstance(signature, dict) or signature.get("sigFormat") != "application/jose":
        raise MalformedCertificate("the bundle carries no JOSE signature")
    try:
        jws = base64.b64decode(str(signature.get("data", "")), validate=True).decode("ascii")
        header_part, payload_part, signature_part = jws.split(".")
        header = json.loads(b64url_decode(header_part))
        raw_signature = b64url_decode(signature_part)
    except (ValueError, RecursionError):  # RecursionError: a header nested past the limit
        raise MalformedCertificate("the bundle signature is not a compact JWS") from None
    if payload_part or not isinstance(header, dict) or header.get("alg") != "ES256":
        raise MalformedCertificate("the bundle signature must be a detached ES256 JWS")
    kid = header.get("kid")
    if not isinstance(kid, str):
        raise MalformedCertificate("the bundle signature names no key id (kid)")
    keys = list(keys_for_kid(kid))
    if not keys:
        raise UnknownKey(f"no trusted key has the kid {kid}")
    signing_input = f"{header_part}.{b64url(_signed_content(document))}".encode("ascii")
    if not any(es256_verify(key, signing_input, raw_signature) for key in keys):
        raise VerificationError("the bundle signature does not match its content")
    return kid


def _signed_content(document: Mapping[str, Any]) -> bytes:
    """:func:`canonical` of a received bundle, which may hold what no signer produced."""
    try:
        return canonical(document)
    except (UnicodeEncodeError, RecursionError):
        # A lone surrogate (a JSON escape such as \ud800) parses but has no UTF-8 form;
        # nesting that parsed may still be too deep to serialise. Neither was ever signed.
        raise MalformedCertificate("the bundle cannot be put in its signed form") from None


def _urn(value: str, kind: str) -> str:
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{kind}:{value}')}"
