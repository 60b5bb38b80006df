"""The :class:`Verifier`: recognise the input, run the format's checks, then consult our
own revocation list for what we issued."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol

from certdist.errors import UnsupportedFormat, VerificationError
from certdist.formats.dcc_revocation import DccHashes
from certdist.services.common import Clock
from certdist.services.verification.detect import (
    ImageLimits,
    InputKind,
    ascii_text,
    classify,
    first_certificate_in,
    scan_image,
    shc_numeric_to_jws,
    single_card,
    utf8_text,
)
from certdist.services.verification.divoc import check_divoc
from certdist.services.verification.outcome import (
    Examined,
    VerificationOutcome,
    withdrawn,
)
from certdist.services.verification.pdf import PdfLimits, looks_like_pdf, not_a_pdf, scan_pdf
from certdist.services.verification.status_list import StatusListChecker
from certdist.services.verification.view import VerifiedCertificate
from certdist.signing.contexts import ContextLoader
from certdist.signing.trust import TrustStore
from certdist.storage.repository import CertificateRepository, WithdrawnCertificate

log = logging.getLogger(__name__)

#: Verifies one text form (``HC1:…``, a compact JWS, a FHIR bundle's JSON) at ``now`` against
#: the trust store.
FormatChecker = Callable[[str, TrustStore, datetime], Examined]


@dataclass(frozen=True)
class FormatCheckers:
    """How HC1 texts, SMART Health Card JWSs, signed FHIR bundles and SD-JWT VCs are checked
    (:func:`check_hc1`, :func:`check_shc`, :func:`check_fhir`, :class:`SdJwtVcChecker`); a
    verifier without one
    answers "unsupported" for that format."""

    hc1: FormatChecker | None = None
    shc: FormatChecker | None = None
    fhir: FormatChecker | None = None
    sd_jwt_vc: FormatChecker | None = None


class OwnCardRevocations(Protocol):
    """Our SMART Health Card revocation list (``services.wallet.ShcRevocationList``)."""

    def withdrawn(self, rid: str) -> WithdrawnCertificate | None:
        """The certificate no longer live whose card carries ``rid``, if any."""


class OwnDccRevocations(Protocol):
    """Our EU DCC revocation batches (``services.distribution.DccRevocationBatches``)."""

    def withdrawn(self, hashes: DccHashes) -> WithdrawnCertificate | None:
        """The certificate no longer live that our batches list for these hashes, if any."""


@dataclass
class Verifier:
    """Recognises, verifies and explains certificates (see the package docstring).

    ``own_cards`` is our SMART Health Card revocation list; without it our own cards are
    checked for signature and expiry only. ``own_dccs`` is our EU DCC revocation batches,
    read before the certificate records (which still answer for what the batches do not hold).
    ``status_lists`` reads the Bitstring Status List a DIVOC credential names, and the Token
    Status List an SD-JWT VC names, ours or not.
    """

    trust: TrustStore
    certificates: CertificateRepository
    clock: Clock
    loader: ContextLoader
    checkers: FormatCheckers = field(default_factory=FormatCheckers)
    enforce_effective_until: bool = False
    image_limits: ImageLimits = field(default_factory=ImageLimits)
    pdf_limits: PdfLimits = field(default_factory=PdfLimits)
    own_cards: OwnCardRevocations | None = None
    own_dccs: OwnDccRevocations | None = None
    status_lists: StatusListChecker | None = None

    def verify(self, data: bytes | str, *, expect_pdf: bool = False) -> VerifiedCertificate:
        """The verified view of ``data``; raises as the package docstring says.

        ``expect_pdf``: the input was named or sent as a PDF, so anything else is refused as
        "not a PDF" rather than read as whatever it turns out to be.
        """
        examined = self._examine(data, expect_pdf=expect_pdf)
        if examined.problem is not None:
            raise examined.problem
        return examined.certificate

    def check(self, data: bytes | str, *, expect_pdf: bool = False) -> VerificationOutcome:
        """Like :meth:`verify`, but every verification result is an outcome, not an error."""
        try:
            examined = self._examine(data, expect_pdf=expect_pdf)
        except VerificationError as error:
            return VerificationOutcome.of_error(error)
        return VerificationOutcome.of(examined.certificate, examined.problem)

    def _examine(self, data: bytes | str, *, expect_pdf: bool) -> Examined:
        raw = data.encode("utf-8") if isinstance(data, str) else data
        if expect_pdf and not looks_like_pdf(raw):
            raise not_a_pdf()
        kind, payload = classify(data)
        if kind is InputKind.IMAGE:
            kind, payload = first_certificate_in(scan_image(payload, self.image_limits))
        elif kind is InputKind.PDF:
            pages = scan_pdf(payload, self.pdf_limits)
            kind, payload = first_certificate_in(pages, where="the PDF")
        log.info("verifying", extra={"input_kind": str(kind)})
        examined = self._examine_kind(kind, payload, self.clock.now())
        if examined.problem is not None:
            return examined
        problem = None
        if examined.our_dcc_hashes is not None and self.own_dccs is not None:
            problem = _listed(self.own_dccs.withdrawn(examined.our_dcc_hashes))
        if problem is None and examined.our_certificate_id:
            problem = self._our_revocation(examined.our_certificate_id)
        elif examined.our_card_rid and self.own_cards is not None:
            problem = _listed(self.own_cards.withdrawn(examined.our_card_rid))
        if problem is None and examined.status_entry and self.status_lists is not None:
            url, index = examined.status_entry
            problem = self.status_lists.problem(
                url, index, examined.status_issuer, trust=self.trust, loader=self.loader
            )
        if problem is None and examined.token_status and self.status_lists is not None:
            uri, idx = examined.token_status
            problem = self.status_lists.token_problem(
                uri, idx, examined.status_issuer or "", trust=self.trust, now=self.clock.now()
            )
        if problem is None:
            return examined
        return replace(examined, problem=problem)

    def _examine_kind(self, kind: InputKind, payload: bytes, now: datetime) -> Examined:
        if kind in (InputKind.DIVOC_ZIP, InputKind.DIVOC_JSON):
            return check_divoc(
                payload,
                self.trust,
                self.loader,
                now,
                effective_until_is_expiry=self.enforce_effective_until,
            )
        if kind is InputKind.HC1:
            return _run(self.checkers.hc1, "EU DCC (HC1)", ascii_text(payload), self.trust, now)
        if kind is InputKind.FHIR_BUNDLE:
            text = utf8_text(payload)
            return _run(self.checkers.fhir, "FHIR bundle (DDCC:VS)", text, self.trust, now)
        if kind is InputKind.SD_JWT_VC:
            text = ascii_text(payload)
            return _run(self.checkers.sd_jwt_vc, "SD-JWT VC", text, self.trust, now)
        if kind is InputKind.SHC_NUMERIC:
            text = shc_numeric_to_jws(ascii_text(payload))
        elif kind is InputKind.SHC_FILE:
            text = single_card(payload)
        else:
            text = ascii_text(payload)
        return _run(self.checkers.shc, "SMART Health Card", text, self.trust, now)

    def _our_revocation(self, certificate_id: str) -> VerificationError | None:
        record = self.certificates.get(certificate_id)
        if record is None or record.is_live:
            # Signed with our key but not in this database: nothing says it was revoked.
            return None
        return withdrawn(revoked=record.revoked_at is not None)


def _listed(entry: WithdrawnCertificate | None) -> VerificationError | None:
    return None if entry is None else withdrawn(revoked=entry.revoked)


def _run(
    checker: FormatChecker | None, name: str, text: str, trust: TrustStore, now: datetime
) -> Examined:
    if checker is None:
        raise UnsupportedFormat(f"{name} verification is not supported by this service yet")
    return checker(text, trust, now)
