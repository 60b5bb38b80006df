"""What a citizen logged in with their mobile number sees and downloads.

Every lookup is scoped to the session's number: a certificate registered to another number
is "not found" (404), exactly like one that does not exist, so ids cannot be probed. The
formats offered are the distribution service's registry, so a newly registered format
appears on the page without changes here; each certificate is offered only the formats that
render its kind (``CertificateFormat.entity_types``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from certdist.domain.certificate_view import CertificateView
from certdist.domain.icao import NotTransliterable, transliterate
from certdist.domain.models import CertificateRecord
from certdist.domain.roles import Permission, Principal
from certdist.errors import FieldError, InvalidInput, NotFound
from certdist.formats.eu_dcc import names_from_request
from certdist.formats.registry import CertificateBundle, FormatRegistry, renders
from certdist.formats.wallet_formats import EuDccPdfFormat, EuDccQrFormat
from certdist.services.common import KeyedHasher, RateLimiter
from certdist.services.distribution import Artifact, DistributionService
from certdist.storage.repository import CertificateRepository

#: The issuer recorded in the download audit for portal downloads.
PORTAL_ISSUER = "certdist-portal"
_CERTIFICATE_ID = re.compile(r"[A-Za-z0-9_\-]{1,64}")


@dataclass(frozen=True)
class DownloadFormat:
    name: str
    media_type: str
    extension: str


@dataclass(frozen=True)
class PortalCertificate:
    """The latest certificate of one kind (vaccination, test…) of one beneficiary."""

    certificate_id: str
    pre_enrollment_code: str
    entity_type: str
    view: CertificateView
    needs_birth_year: bool


@dataclass(frozen=True)
class PortalBeneficiary:
    pre_enrollment_code: str
    name: str
    certificates: tuple[PortalCertificate, ...]


class PortalService:
    def __init__(
        self,
        certificates: CertificateRepository,
        distribution: DistributionService,
        formats: FormatRegistry,
        limiter: RateLimiter,
        hasher: KeyedHasher,
        *,
        require_birth_year: bool,
        birth_year_attempts: int,
    ) -> None:
        self._certificates = certificates
        self._distribution = distribution
        self._formats = formats
        self._limiter = limiter
        self._hasher = hasher
        self.require_birth_year = require_birth_year
        self._birth_year_attempts = birth_year_attempts

    def is_registered(self, mobile: str) -> bool:
        return bool(self._certificates.for_mobile(mobile))

    def formats(self, entity_type: str | None = None) -> list[DownloadFormat]:
        """The formats offered for certificates of ``entity_type`` (``None``: every format)."""
        chosen = (
            self._formats.for_kind(entity_type)
            if entity_type is not None
            else [self._formats.get(name) for name in self._formats.names()]
        )
        return [DownloadFormat(fmt.name, fmt.media_type, fmt.extension) for fmt in chosen]

    def beneficiaries(self, mobile: str, confirmed: frozenset[str]) -> list[PortalBeneficiary]:
        """Everyone registered to this number, each with their latest certificate of every
        kind (a vaccination one lists every dose)."""
        codes: dict[str, list[str]] = {}
        for record in self._certificates.for_mobile(mobile):
            kinds = codes.setdefault(record.pre_enrollment_code, [])
            if record.entity_type not in kinds:
                kinds.append(record.entity_type)
        found = []
        for code, kinds in codes.items():
            shown = []
            for kind in kinds:
                try:
                    bundle = self._distribution.bundle(code, kind)
                except NotFound:
                    continue
                if bundle.latest.mobile != mobile:
                    continue  # the latest certificate was re-registered to another number
                shown.append(self._certificate(bundle, confirmed))
            if shown:
                found.append(PortalBeneficiary(code, shown[0].view.beneficiary.name, tuple(shown)))
        return sorted(found, key=lambda b: (b.name, b.pre_enrollment_code))

    def certificate(
        self, mobile: str, certificate_id: str, confirmed: frozenset[str]
    ) -> PortalCertificate:
        return self._certificate(self._bundle(mobile, certificate_id), confirmed)

    def download(
        self, mobile: str, certificate_id: str, format_name: str, confirmed: frozenset[str]
    ) -> Artifact:
        """The document, audited as delivered to this number (its keyed hash, not the
        number). ``NotFound`` for another number's certificate or an unknown format."""
        bundle = self._bundle(mobile, certificate_id)
        if self._needs_birth_year(bundle.latest, confirmed):
            raise NotFound("confirm the year of birth first")
        self._check_renders(format_name, bundle.latest.entity_type)
        return self._distribution.render(
            bundle,
            format_name,
            caller=self.principal(mobile),
            permission=Permission.RECIPIENT,
        )

    def eu_dcc(
        self,
        mobile: str,
        certificate_id: str,
        surname: str,
        given_names: str,
        confirmed: frozenset[str],
        *,
        pdf: bool,
    ) -> Artifact:
        """An EU DCC with the names as the citizen's passport writes them (for names the
        service cannot derive, like one in Devanagari). Their ICAO 9303 forms are derived;
        ``InvalidInput`` names the field that has letters outside the Latin script."""
        bundle = self._bundle(mobile, certificate_id)
        if self._needs_birth_year(bundle.latest, confirmed):
            raise NotFound("confirm the year of birth first")
        fmt = self._formats.get(EuDccPdfFormat.name if pdf else EuDccQrFormat.name)
        if not isinstance(fmt, EuDccQrFormat | EuDccPdfFormat):
            raise NotFound("the EU certificate is not offered")
        self._check_renders(fmt.name, bundle.latest.entity_type)
        errors = []
        standard: dict[str, str] = {}
        for field, value in (("fn", surname), ("gn", given_names)):
            try:
                standard[field] = transliterate(value) if value.strip() else ""
            except NotTransliterable:
                errors.append(FieldError(field, "use the Latin letters of your passport"))
        if errors:
            raise InvalidInput("the names for the EU certificate are invalid", errors)
        names = names_from_request(
            {"fn": surname, "fnt": standard["fn"], "gn": given_names, "gnt": standard["gn"]}
        )
        content = fmt.render_named(bundle, names)
        return self._distribution.deliver(
            bundle, fmt, content, caller=self.principal(mobile), permission=Permission.RECIPIENT
        )

    def confirm_birth_year(
        self, mobile: str, certificate_id: str, year: str, *, session_key: str
    ) -> str:
        """Check the year of birth of the certificate's beneficiary; returns the
        beneficiary's code to remember as confirmed. ``InvalidInput`` when it does not match
        (limited per session), ``RateLimited`` after too many tries."""
        record = self._bundle(mobile, certificate_id).latest
        self._limiter.hit(
            "birth-year",
            self._hasher.digest("session", session_key),
            limit=self._birth_year_attempts,
            window_seconds=3600,
            fail_closed=True,  # a guess at a year of birth is never let through uncounted
        )
        expected = "" if record.dob is None else str(record.dob.year)
        if not expected or year.strip() != expected:
            raise InvalidInput(
                "year of birth does not match",
                [FieldError("year", "the year of birth does not match our records")],
            )
        return record.pre_enrollment_code

    def _bundle(self, mobile: str, certificate_id: str) -> CertificateBundle:
        if not _CERTIFICATE_ID.fullmatch(certificate_id):
            raise NotFound("no such certificate")
        return self._distribution.bundle_for_recipient(certificate_id, mobile)

    def _check_renders(self, format_name: str, entity_type: str) -> None:
        """A link never offered for this kind (typed by hand, or an old page) is refused
        before rendering, the same way as a certificate the format cannot express."""
        if not renders(self._formats.get(format_name), entity_type):
            raise InvalidInput(
                f"the {format_name} format is not issued for this kind of certificate"
            )

    def _needs_birth_year(self, record: CertificateRecord, confirmed: frozenset[str]) -> bool:
        return self.require_birth_year and record.pre_enrollment_code not in confirmed

    def _certificate(
        self, bundle: CertificateBundle, confirmed: frozenset[str]
    ) -> PortalCertificate:
        record = bundle.latest
        view = CertificateView.from_credentials(
            json.loads(record.certificate), bundle.dose_credentials, qr_payload=b""
        )
        return PortalCertificate(
            certificate_id=record.certificate_id,
            pre_enrollment_code=record.pre_enrollment_code,
            entity_type=record.entity_type,
            view=view,
            needs_birth_year=self._needs_birth_year(record, confirmed),
        )

    def principal(self, mobile: str) -> Principal:
        """Who a citizen signed in with this number is, in the download audit."""
        subject = "citizen:" + self._hasher.digest("phone", mobile)[:32]
        return Principal(
            subject=subject,
            username=subject,
            roles=frozenset(),
            mobile=mobile,
            issuer=PORTAL_ISSUER,
        )
