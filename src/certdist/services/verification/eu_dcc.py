"""EU Digital COVID Certificates (``HC1:``): what the EU rules add to the format's checks,
and the verifier's view of a vaccination, test or recovery."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final, Literal

from cryptography import x509

from certdist.domain.codes import DCC_MEDICINAL_PRODUCTS, DCC_VACCINE_TYPES
from certdist.errors import CertificateNotYetValid, MalformedCertificate, VerificationError
from certdist.formats import eu_dcc as dcc_format
from certdist.formats.dcc_revocation import DccHashes
from certdist.services.verification.outcome import Examined, expiry_or
from certdist.services.verification.view import (
    CertificateFormat,
    VerifiedCertificate,
    int_or_none,
    text_or_none,
)
from certdist.signing.trust import TrustStore

_DCC_TEST_RESULTS: Final = {"260415000": "Not detected", "260373001": "Detected"}
# Value set covid-19-lab-test-type: shown when a test entry has no name (rapid tests).
_DCC_TEST_TYPES: Final = {
    "LP6464-4": "Nucleic acid amplification (NAAT, PCR)",
    "LP217198-3": "Rapid antigen test",
}
_DCC_NAME: Final = re.compile(r"[A-Z<]{1,80}")
_EARLIEST_ZONE: Final = timedelta(hours=14)


def check_hc1(text: str, trust: TrustStore, now: datetime) -> Examined:
    """An ``HC1:`` text: :func:`~certdist.formats.eu_dcc.verify_hc1`, then what the EU rules
    add (the payload's structure, the DSC's key usage and validity period, a recovery's
    ``df``). A payload without the schema's parts is malformed."""
    try:
        verified = dcc_format.verify_hc1(text, trust.dcc_keys, now)
    except VerificationError as error:
        raise expiry_or(error) from None
    kind = _dcc_kind(verified.payload)
    signers = trust.document_signers(verified.kid)
    allowed = [s for s in signers if dcc_format.dsc_may_sign(s, verified.payload)]
    if not allowed:
        raise VerificationError(
            "key usage: the Document Signer Certificate may not sign this type of certificate"
        )
    # A DSC vouches only for what it signed while it was valid; a certificate without an
    # issue time is judged at the time of verification.
    signed_at = verified.issued_at or now
    if not any(_valid_at(signer, signed_at) for signer in allowed):
        raise VerificationError(
            "signer validity: the Document Signer Certificate was not valid when this"
            " certificate was signed"
        )
    entry: Mapping[str, Any] = verified.payload[kind][0]
    if kind == "r":
        _check_valid_from(entry, now)
    ours, hashes = None, None
    if trust.is_own_document_signer(verified.kid):
        uci = str(entry.get("ci", ""))
        ours = uci.rsplit(":", 1)[-1] or None
        hashes = DccHashes.of(
            uci=uci, country=verified.issuer, signature=verified.signature, ecdsa=verified.ecdsa
        )
    return Examined(
        dcc_view(verified.payload, kind, verified.issuer),
        our_certificate_id=ours,
        our_dcc_hashes=hashes,
    )


def _check_valid_from(recovery: Mapping[str, Any], now: datetime) -> None:
    """A recovery certificate is valid from its ``df`` date (the schema's "Certificate Valid
    From"). The date has no time zone, so it is taken to start in the earliest one
    (UTC+14): a certificate already valid where it was issued is never refused."""
    try:
        starts = date.fromisoformat(str(recovery.get("df", ""))[:10])
    except ValueError:
        raise MalformedCertificate("schema: r.df is not a date") from None
    valid_from = datetime.combine(starts, time.min, UTC)
    if now + dcc_format.CLOCK_SKEW + _EARLIEST_ZONE < valid_from:
        raise CertificateNotYetValid(
            f"validity: the recovery certificate is valid from {starts.isoformat()}", valid_from
        )


def _valid_at(certificate: x509.Certificate, instant: datetime) -> bool:
    return certificate.not_valid_before_utc <= instant <= certificate.not_valid_after_utc


def _dcc_kind(payload: Mapping[str, Any]) -> Literal["v", "t", "r"]:
    """The one certificate type the payload holds; the schema rules a verifier relies on."""
    names = payload.get("nam")
    if (
        not isinstance(payload.get("ver"), str)
        or not isinstance(payload.get("dob"), str)
        or not isinstance(names, Mapping)
        or not isinstance(names.get("fnt"), str)
        or not _DCC_NAME.fullmatch(names["fnt"])
    ):
        raise MalformedCertificate("schema: ver, dob and nam.fnt (ICAO 9303 form) are required")
    present = [kind for kind in ("v", "t", "r") if kind in payload]
    if len(present) != 1:
        raise MalformedCertificate("schema: a certificate holds exactly one of v, t or r")
    kind: Literal["v", "t", "r"] = present[0]  # type: ignore[assignment]
    entries = payload[kind]
    # Any sequence, not only a list: the payload may come straight from a CBOR decoder that
    # builds tuples (cbor2 6); a string is a sequence too but never an entry list.
    if (
        not isinstance(entries, Sequence)
        or isinstance(entries, str | bytes)
        or len(entries) != 1
        or not isinstance(entries[0], Mapping)
    ):
        raise MalformedCertificate(f"schema: {kind} must hold exactly one entry")
    return kind


def dcc_vaccine(vaccination: Mapping[str, Any]) -> str | None:
    """The product's name (``mp``); for a product we do not name, its code with the vaccine
    type (``vp``) in words when we know that."""
    product = text_or_none(vaccination.get("mp"))
    if product is None:
        return None
    if product in DCC_MEDICINAL_PRODUCTS:
        return DCC_MEDICINAL_PRODUCTS[product]
    kind = DCC_VACCINE_TYPES.get(str(vaccination.get("vp", "")))
    coded = f"EU vaccine-medicinal-product {product}"
    return f"{kind} ({coded})" if kind else coded


def dcc_view(payload: Mapping[str, Any], kind: str, issuer: str | None) -> VerifiedCertificate:
    names: Mapping[str, Any] = payload["nam"]
    given = names.get("gn") or names.get("gnt") or ""
    family = names.get("fn") or str(names["fnt"]).replace("<", " ")
    entry: Mapping[str, Any] = payload[kind][0]
    common: dict[str, Any] = {
        "format": CertificateFormat.EU_DCC,
        "issuer": str(entry.get("is") or issuer or ""),
        "name": " ".join(str(part) for part in (given, family) if part),
        "date_of_birth": str(payload["dob"]) or None,
    }
    if kind == "v":
        return VerifiedCertificate(
            kind="vaccination",
            vaccine=dcc_vaccine(entry),
            dose=int_or_none(entry.get("dn")),
            total_doses=int_or_none(entry.get("sd")),
            date=text_or_none(entry.get("dt")),
            **common,
        )
    if kind == "t":
        result = text_or_none(entry.get("tr"))
        tt = str(entry.get("tt") or "")
        return VerifiedCertificate(
            kind="test",
            test=text_or_none(entry.get("nm") or _DCC_TEST_TYPES.get(tt, tt)),
            result=_DCC_TEST_RESULTS.get(result or "", result),
            date=text_or_none(entry.get("sc")),
            **common,
        )
    return VerifiedCertificate(
        kind="recovery",
        date=text_or_none(entry.get("fr")),
        valid_until=text_or_none(entry.get("du")),
        **common,
    )
