"""WHO DDCC:VS FHIR document bundles (``certdist export --format fhir``): the detached JWS in
``Bundle.signature`` and the verifier's view of the vaccinations.

Keys: a bundle is signed with its issuer's SMART Health Card key (:mod:`certdist.formats.fhir`),
so its key is looked up as a card's is: by ``(issuer, kid)`` among our own SHC keys and the
configured SHC issuers' keys. The issuer is the signature's ``who.identifier.value`` (our
``public_url`` in the bundles we make). That element lies outside the signed content, but it
only chooses which trusted issuer's keys to try: a key found under an issuer signed the
bundle only if the signature holds, and the ``kid`` is the key's thumbprint.

Revocation: a bundle we signed carries the certificate id in ``Bundle.identifier.value``
(inside the signed content): the id of the latest certificate, which the SMART Health Card
``rid`` is derived from too. The verifier checks it against our certificate records, so a
revoked certificate, or one replaced by a correction, gives a revoked bundle. A foreign
issuer's bundle is checked for its signature only: DDCC:VS bundles have no revocation list or
revocation id to look up, and they carry no expiry.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from certdist.errors import MalformedCertificate
from certdist.formats import fhir as fhir_format
from certdist.services.verification.outcome import Examined
from certdist.services.verification.shc import (
    fhir_name,
    fhir_resources,
    vaccine_text,
)
from certdist.services.verification.view import (
    CertificateFormat,
    VerifiedCertificate,
    as_list,
    as_mapping,
    first_mapping,
    int_or_none,
    iso_date,
    text_or_none,
)
from certdist.signing.keys import PublicKey
from certdist.signing.trust import TrustStore


def check_fhir(text: str, trust: TrustStore, now: datetime) -> Examined:
    """A signed FHIR ``Bundle``'s JSON text: :func:`~certdist.formats.fhir.verify_fhir` with
    the signer's SMART Health Card keys, then the view. ``now`` is unused: no expiry."""
    del now
    document = _document(text)
    issuer = _signer(document)
    fhir_format.verify_fhir(document, _keys_of(issuer, trust))
    assert issuer is not None  # _keys_of refuses a bundle that names no signer
    view = fhir_view(document, issuer)
    if trust.is_own_shc_issuer(issuer):
        # verify_fhir found the key among ours only: the bundle and its identifier are ours.
        return Examined(view, our_certificate_id=_certificate_id(document))
    return Examined(view)


def _document(text: str) -> Mapping[str, Any]:
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        raise MalformedCertificate("the FHIR Bundle is not valid JSON") from None
    if not isinstance(document, dict):
        raise MalformedCertificate("a FHIR Bundle is a JSON object")
    return document


def _signer(document: Mapping[str, Any]) -> str | None:
    """The issuer named in ``Bundle.signature.who.identifier.value``, if any."""
    who = as_mapping(as_mapping(document.get("signature")).get("who"))
    value = as_mapping(who.get("identifier")).get("value")
    return value if isinstance(value, str) and value.strip() else None


def _keys_of(issuer: str | None, trust: TrustStore) -> Callable[[str], list[PublicKey]]:
    def keys_for_kid(kid: str) -> list[PublicKey]:
        # Called once the JWS itself is known to be well formed, so a malformed signature
        # is reported as such before a missing signer.
        if issuer is None:
            raise MalformedCertificate(
                "the bundle signature names no signer (signature.who.identifier.value)"
            )
        return trust.shc_keys(issuer, kid)

    return keys_for_kid


def _certificate_id(document: Mapping[str, Any]) -> str | None:
    value = as_mapping(document.get("identifier")).get("value")
    return value if isinstance(value, str) and value else None


def fhir_view(document: Mapping[str, Any], issuer: str) -> VerifiedCertificate:
    """The patient and the latest of the bundle's ``Immunization`` resources (by date, then
    dose number), as the SMART Health Card view shows a card's doses."""
    resources = fhir_resources(document)
    patient = next((r for r in resources if r.get("resourceType") == "Patient"), None)
    doses = sorted(
        (r for r in resources if r.get("resourceType") == "Immunization"),
        key=lambda r: (str(r.get("occurrenceDateTime", "")), _dose_number(r) or 0),
    )
    if patient is None or not doses:
        raise MalformedCertificate("schema: a DDCC:VS bundle holds a Patient and an Immunization")
    latest = doses[-1]
    applied = first_mapping(latest.get("protocolApplied"))
    occurred = latest.get("occurrenceDateTime")
    return VerifiedCertificate(
        format=CertificateFormat.FHIR,
        kind="vaccination",
        issuer=issuer,
        name=fhir_name(patient.get("name")),
        date_of_birth=text_or_none(patient.get("birthDate")),
        vaccine=_vaccine(latest.get("vaccineCode")),
        dose=_dose_number(latest) or len(doses),
        total_doses=int_or_none(applied.get("seriesDosesPositiveInt")),
        date=iso_date(occurred) or text_or_none(occurred),
    )


def _vaccine(concept: object) -> str | None:
    """The vaccine of the ICD-11 code a DDCC:VS requires when there is one, else of the
    first coding."""
    codings = [c for c in as_list(as_mapping(concept).get("coding")) if isinstance(c, Mapping)]
    icd11 = [c for c in codings if c.get("system") == fhir_format.ICD11]
    chosen = (icd11 or codings or [{}])[0]
    return vaccine_text(chosen)


def _dose_number(immunization: Mapping[str, Any]) -> int | None:
    applied = first_mapping(immunization.get("protocolApplied"))
    return int_or_none(applied.get("doseNumberPositiveInt"))
