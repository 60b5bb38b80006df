"""SMART Health Cards: the format's checks, the issuer's revocation list, and the verifier's
view of the FHIR bundle: immunizations, or a lab result (an ``Observation``).

A foreign issuer's card is checked against its revocation lists: files configured for it,
or the list fetched from the issuer when the key's JWK carries ``crlVersion``. When that
list cannot be fetched or read (and no list held names the card), the card is not called
valid: the answer is ``revocation-unknown``. The SMART spec leaves this to the verifier; a
venue told "valid" would admit a holder whose card may be revoked. A card signed with one
of our own keys carries its ``rid``; the verifier checks that against our own list
(``Examined.our_card_rid``), which is always current.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from certdist.domain.codes import vaccine_name
from certdist.errors import CertificateRevoked, RevocationUnknown, VerificationError
from certdist.formats import shc as shc_format
from certdist.services.verification.outcome import Examined, expiry_or
from certdist.services.verification.view import (
    CertificateFormat,
    VerifiedCertificate,
    first_mapping,
    int_or_none,
    text_or_none,
)
from certdist.signing.trust import TrustStore

_CODE_SYSTEMS: Final = {
    "http://hl7.org/fhir/sid/cvx": "CVX",
    "http://snomed.info/sct": "SNOMED CT",
    "http://id.who.int/icd/release/11/mms": "ICD-11",
    "http://loinc.org": "LOINC",
}
#: SNOMED CT results a lab card carries (SMART Health Cards' covid19 lab result value set).
_RESULTS: Final = {
    "260385009": "Negative",
    "10828004": "Positive",
    "260415000": "Not detected",
    "260373001": "Detected",
    "419984006": "Inconclusive",
}
#: What a verifier shows for the test codes of the SARS-CoV-2 cards we and others issue.
_TESTS: Final = {
    "94500-6": "SARS-CoV-2 RNA (NAAT)",
    "94309-2": "SARS-CoV-2 RNA (NAAT)",
    "94558-4": "SARS-CoV-2 antigen (rapid immunoassay)",
    "97097-0": "SARS-CoV-2 antigen (rapid immunoassay)",
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
    return Examined(view, _revocation_problem(verified, trust))


def _revocation_problem(
    card: shc_format.VerifiedShc, trust: TrustStore
) -> VerificationError | None:
    revocations = trust.shc_revocations(card.issuer, card.kid)
    # A list held names the card: revoked, even when a newer list could not be had.
    if any(shc_format.is_revoked(card, crl) for crl in revocations.lists):
        return CertificateRevoked("the issuer revoked this card")
    if revocations.unknown is not None:
        return RevocationUnknown(
            f"revocation: the issuer's revocation list could not be checked ({revocations.unknown})"
        )
    return None


def shc_view(card: shc_format.VerifiedShc) -> VerifiedCertificate:
    resources = fhir_resources(card.fhir_bundle)
    patient: Mapping[str, Any] = next(
        (r for r in resources if r.get("resourceType") == "Patient"), {}
    )
    doses = sorted(
        (r for r in resources if r.get("resourceType") == "Immunization"),
        key=lambda r: str(r.get("occurrenceDateTime", "")),
    )
    results = sorted(
        (r for r in resources if r.get("resourceType") == "Observation"),
        key=lambda r: str(r.get("effectiveDateTime", "")),
    )
    common: dict[str, Any] = {
        "format": CertificateFormat.SHC,
        "issuer": card.issuer,
        "name": fhir_name(patient.get("name")),
        "date_of_birth": text_or_none(patient.get("birthDate")),
        "valid_until": card.expires_at.date().isoformat() if card.expires_at else None,
    }
    if results and not doses:
        return _lab_view(results[-1], common)
    latest: Mapping[str, Any] = doses[-1] if doses else {}
    applied = first_mapping(latest.get("protocolApplied"))
    return VerifiedCertificate(
        kind="vaccination",
        vaccine=vaccine_text(first_coding(latest.get("vaccineCode"))),
        dose=int_or_none(applied.get("doseNumberPositiveInt")) or (len(doses) or None),
        total_doses=int_or_none(applied.get("seriesDosesPositiveInt")),
        date=text_or_none(latest.get("occurrenceDateTime")),
        **common,
    )


def _lab_view(observation: Mapping[str, Any], common: dict[str, Any]) -> VerifiedCertificate:
    """The latest lab result of a ``#laboratory`` card: test, result and sample time."""
    test = first_coding(observation.get("code"))
    value = first_coding(observation.get("valueCodeableConcept"))
    result_code = text_or_none(value.get("code"))
    return VerifiedCertificate(
        kind="test",
        test=_TESTS.get(str(test.get("code")), None) or coding_text(test),
        result=_RESULTS.get(result_code or "", result_code),
        date=text_or_none(observation.get("effectiveDateTime")),
        **common,
    )


def fhir_resources(bundle: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The resources of a FHIR bundle's entries (shared with the DDCC:VS view, :mod:`.fhir`)."""
    entries = bundle.get("entry")
    return [
        e["resource"]
        for e in (entries if isinstance(entries, list) else [])
        if isinstance(e, Mapping) and isinstance(e.get("resource"), Mapping)
    ]


def first_coding(concept: object) -> Mapping[str, Any]:
    codings = concept.get("coding") if isinstance(concept, Mapping) else None
    first = codings[0] if isinstance(codings, list) and codings else None
    return first if isinstance(first, Mapping) else {}


def fhir_name(names: object) -> str:
    """The first HumanName as given names then family name."""
    if not isinstance(names, list) or not names or not isinstance(names[0], Mapping):
        return ""
    name = names[0]
    given = name.get("given")
    parts = [*(given if isinstance(given, list) else []), name.get("family") or ""]
    return " ".join(str(part) for part in parts if part)


def vaccine_text(coding: Mapping[str, Any]) -> str | None:
    """The vaccine's name when its code is one we know (``domain.codes``), else the code
    with its system's short name: a verifier is never shown a guess."""
    code = text_or_none(coding.get("code"))
    name = vaccine_name(str(coding.get("system", "")), code) if code else None
    return name or coding_text(coding)


def coding_text(coding: Mapping[str, Any]) -> str | None:
    """A code with its system's short name (``CVX 210``, ``LOINC 94500-6``)."""
    code = text_or_none(coding.get("code"))
    if code is None:
        return None
    system = _CODE_SYSTEMS.get(str(coding.get("system", "")))
    return f"{system} {code}" if system else code
