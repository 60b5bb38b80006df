"""DIVOC credentials (W3C VC with a Linked Data proof): the signature, the validity period
and the verifier's view.

A credential is valid from its ``issuanceDate`` (VC 1.1) or ``validFrom`` (VC 2.0); one that
starts more than :data:`CLOCK_SKEW` after the verifier's clock is not valid yet. The skew is
the few minutes RFC 7519 (4.1.5) allows for clocks that differ, the SMART Health Cards' too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from certdist.domain.certificate_view import CertificateView, parse_timestamp
from certdist.errors import (
    CertificateExpired,
    CertificateNotYetValid,
    InvalidInput,
    MalformedCertificate,
    VerificationError,
)
from certdist.formats.divoc_qr import decode_payload
from certdist.formats.status_list import entry_of, issuer_of
from certdist.services.verification.outcome import Examined
from certdist.services.verification.view import (
    CertificateFormat,
    VerifiedCertificate,
    iso_date,
    iso_time,
)
from certdist.signing.contexts import ContextLoader
from certdist.signing.ldproof import verify_credential
from certdist.signing.trust import TrustStore

CLOCK_SKEW: Final = timedelta(minutes=5)


def check_divoc(
    payload: bytes,
    trust: TrustStore,
    loader: ContextLoader,
    now: datetime,
    *,
    effective_until_is_expiry: bool,
) -> Examined:
    """A DIVOC QR payload or credential JSON: the proof against the trust store, then the
    validity period (``effectiveUntil`` too when it is configured to count as expiry)."""
    credential = _credential(payload)
    method = verify_credential(credential, trust.credential_key, loader=loader)
    view = divoc_view(credential, effective_until_is_expiry=effective_until_is_expiry)
    ours = trust.is_own_credential_key(method)
    certificate_id = evidence_of(credential).get("certificateId")
    return Examined(
        view,
        _not_yet_valid(credential, now)
        or _expiry(credential, now, effective_until_is_expiry=effective_until_is_expiry),
        str(certificate_id) if ours and isinstance(certificate_id, str | int) else None,
        status_entry=entry_of(credential),
        status_issuer=issuer_of(credential),
    )


def _credential(payload: bytes) -> Any:
    """The credential of a payload :func:`~.detect.classify` recognised as DIVOC's."""
    try:
        return json.loads(decode_payload(payload))
    except InvalidInput as error:  # a DIVOC archive or JSON that cannot be decoded
        raise MalformedCertificate(error.message) from None


def _not_yet_valid(credential: Mapping[str, Any], now: datetime) -> VerificationError | None:
    for name in ("validFrom", "issuanceDate"):
        starts = parse_timestamp(credential.get(name))
        if starts is not None and now + CLOCK_SKEW < starts:
            return CertificateNotYetValid(
                f"the certificate is valid from {iso_date(starts)} ({name})", starts
            )
    return None


def _expiry(
    credential: Mapping[str, Any], now: datetime, *, effective_until_is_expiry: bool
) -> VerificationError | None:
    expires = parse_timestamp(credential.get("expirationDate"))
    if expires is not None and now >= expires:
        return CertificateExpired(f"the certificate expired on {iso_date(expires)}")
    if effective_until_is_expiry:
        until = parse_timestamp(evidence_of(credential).get("effectiveUntil"))
        # effectiveUntil is a date: the certificate is good through that whole day.
        if until is not None and now.date() > until.date():
            return CertificateExpired(f"the certificate was valid until {iso_date(until)}")
    return None


def divoc_view(
    credential: Mapping[str, Any], *, effective_until_is_expiry: bool = False
) -> VerifiedCertificate:
    """The verifier's view of a DIVOC credential (vaccination or lab test).

    Dates are ISO 8601 (``2021-05-02``), as in the other formats: unambiguous in every
    language. ``valid_until`` is the date the verifier enforces: the W3C ``expirationDate``,
    or the vaccination's ``effectiveUntil`` when that is configured to count as expiry.
    """
    view = CertificateView.from_credentials(credential, qr_payload=b"")  # normalised text
    evidence = evidence_of(credential)
    subject = credential.get("credentialSubject")
    issuer = credential.get("issuer")
    valid_until = iso_date(credential.get("expirationDate"))
    if valid_until is None and effective_until_is_expiry and view.vaccination is not None:
        valid_until = iso_date(evidence.get("effectiveUntil"))
    common: dict[str, Any] = {
        "format": CertificateFormat.DIVOC,
        "issuer": issuer if isinstance(issuer, str) else "",
        "name": view.beneficiary.name,
        "date_of_birth": iso_date(subject.get("dob") if isinstance(subject, Mapping) else None),
        "age": view.beneficiary.age or None,
        "valid_until": valid_until,
    }
    if view.test is not None:
        return VerifiedCertificate(
            kind="test",
            test=view.test.test_name or view.test.test_type or None,
            result=view.test.result or None,
            date=iso_time(evidence.get("sampleCollectionTimestamp")),
            **common,
        )
    vaccination = view.vaccination
    assert vaccination is not None  # from_credentials gives one of the two
    return VerifiedCertificate(
        kind="vaccination",
        vaccine=vaccination.vaccine or None,
        dose=vaccination.dose,
        total_doses=vaccination.total_doses,
        date=iso_date(evidence.get("date")),
        **common,
    )


def evidence_of(credential: Mapping[str, Any]) -> Mapping[str, Any]:
    evidence = credential.get("evidence")
    if isinstance(evidence, list) and evidence and isinstance(evidence[0], Mapping):
        return evidence[0]
    return {}
