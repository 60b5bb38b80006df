"""SMART Health Cards: the format's checks, the issuer's revocation list, and the verifier's
view of the FHIR immunization bundle.

A foreign issuer's card is checked against the revocation lists configured for it. A card
signed with one of our own keys carries its ``rid``; the verifier checks that against our
own list (``Examined.our_card_rid``), which is always current.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from certdist.errors import CertificateRevoked, VerificationError
from certdist.formats import shc as shc_format
from certdist.services.verification.outcome import Examined, expiry_or
from certdist.services.verification.view import (
    CertificateFormat,
    VerifiedCertificate,
    int_or_none,
    text_or_none,
)
from certdist.signing.trust import TrustStore

_CODE_SYSTEMS: Final = {
    "http://hl7.org/fhir/sid/cvx": "CVX",
    "http://snomed.info/sct": "SNOMED CT",
    "http://id.who.int/icd/release/11/mms": "ICD-11",
}


def check_shc(jws: str, trust: TrustStore, now: datetime) -> Examined:
    """A SMART Health Card's JWS: :func:`~certdist.formats.shc.verify_shc` and the view."""
    try:
        verified = shc_format.verify_shc(jws, trust.shc_keys, now)
    except VerificationError as error:
        raise expiry_or(error) from None
    view = shc_view(verified)
    if trust.is_own_shc_issuer(verified.issuer):
        # verify_shc found the key among ours only: the card is ours.
        return Examined(view, our_card_rid=verified.rid)
    problem = None
    if any(shc_format.is_revoked(verified, crl) for crl in trust.shc_revocations(verified.issuer)):
        problem = CertificateRevoked("the issuer revoked this card")
    return Examined(view, problem)


def shc_view(card: shc_format.VerifiedShc) -> VerifiedCertificate:
    entries = card.fhir_bundle.get("entry")
    resources = [
        e["resource"]
        for e in (entries if isinstance(entries, list) else [])
        if isinstance(e, Mapping) and isinstance(e.get("resource"), Mapping)
    ]
    patient: Mapping[str, Any] = next(
        (r for r in resources if r.get("resourceType") == "Patient"), {}
    )
    doses = sorted(
        (r for r in resources if r.get("resourceType") == "Immunization"),
        key=lambda r: str(r.get("occurrenceDateTime", "")),
    )
    latest: Mapping[str, Any] = doses[-1] if doses else {}
    applied = (latest.get("protocolApplied") or [{}])[0]
    codings = (latest.get("vaccineCode") or {}).get("coding") or [{}]
    return VerifiedCertificate(
        format=CertificateFormat.SHC,
        kind="vaccination",
        issuer=card.issuer,
        name=_fhir_name(patient.get("name")),
        date_of_birth=text_or_none(patient.get("birthDate")),
        vaccine=_vaccine_code(codings[0]),
        dose=int_or_none(applied.get("doseNumberPositiveInt")) or (len(doses) or None),
        total_doses=int_or_none(applied.get("seriesDosesPositiveInt")),
        date=text_or_none(latest.get("occurrenceDateTime")),
        valid_until=card.expires_at.date().isoformat() if card.expires_at else None,
    )


def _fhir_name(names: object) -> str:
    if not isinstance(names, list) or not names or not isinstance(names[0], Mapping):
        return ""
    name = names[0]
    given = name.get("given")
    parts = [*(given if isinstance(given, list) else []), name.get("family") or ""]
    return " ".join(str(part) for part in parts if part)


def _vaccine_code(coding: Mapping[str, Any]) -> str | None:
    code = text_or_none(coding.get("code"))
    if code is None:
        return None
    system = _CODE_SYSTEMS.get(str(coding.get("system", "")))
    return f"{system} {code}" if system else code
