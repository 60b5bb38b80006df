"""The facility print desk: staff sign in, find a beneficiary by phone and date of birth,
and print one of their certificates (the latest vaccination or lab-test one) from the browser.

Everything a staff member sees goes through :class:`DistributionService` with the print
permission, so each printed certificate is in the download audit under the staff member's
name. Searches are rate-limited per staff member: the desk must not become a way to walk
through the register.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date

from certdist.domain.certificate_view import CertificateView
from certdist.domain.models import TEST, VACCINATION
from certdist.domain.requests import PRE_ENROLLMENT_CODE_PATTERN
from certdist.domain.roles import Permission, Principal
from certdist.errors import NotFound
from certdist.formats.divoc_qr import PayloadForm, encode_payload
from certdist.formats.qr_image import qr_svg
from certdist.formats.registry import CertificateBundle
from certdist.services.common import KeyedHasher, RateLimiter
from certdist.services.distribution import Artifact, BeneficiarySummary, DistributionService
from certdist.services.facility.staff_auth import LocalStaffSignIn, OidcStaffSignIn
from certdist.services.facility.staff_sessions import StaffSession, StaffSessions

SEARCHES_PER_HOUR = 300
#: The kinds of certificate the desk prints, in the order the search results list them
#: (the print sheet draws only these two kinds).
PRINTABLE_KINDS = (VACCINATION, TEST)
_CODE = re.compile(PRE_ENROLLMENT_CODE_PATTERN)


class KindNotHeld(NotFound):
    """A beneficiary this session found has no live certificate of the kind asked for.

    Only raised after the session's own search found the beneficiary, so saying so reveals
    nothing the search results did not already show (unknown ids get a plain ``NotFound``).
    """

    def __init__(self, entity_type: str) -> None:
        super().__init__(f"the beneficiary has no live certificate of type {entity_type}")
        self.entity_type = entity_type


@dataclass(frozen=True)
class FacilityBeneficiary:
    """One search result: a beneficiary and the kinds of certificate the desk can print."""

    pre_enrollment_code: str
    name: str
    kinds: tuple[str, ...]


@dataclass(frozen=True)
class PrintableCertificate:
    pre_enrollment_code: str
    certificate_id: str
    entity_type: str
    view: CertificateView
    qr_svg: str  # vector: crisp at any print resolution


class FacilityPrinting:
    def __init__(
        self,
        distribution: DistributionService,
        limiter: RateLimiter,
        hasher: KeyedHasher,
        *,
        qr_payload_form: PayloadForm,
    ) -> None:
        self._distribution = distribution
        self._limiter = limiter
        self._hasher = hasher
        self._form = qr_payload_form

    def search(self, staff: Principal, phone: str, dob: date) -> list[FacilityBeneficiary]:
        self._limiter.hit(
            "facility-search",
            self._hasher.digest("staff", staff.subject),
            limit=SEARCHES_PER_HOUR,
            window_seconds=3600,
        )
        return [self._with_kinds(b) for b in self._distribution.beneficiaries(phone, dob)]

    def _with_kinds(self, found: BeneficiarySummary) -> FacilityBeneficiary:
        # Every kind the beneficiary holds, whichever number it was registered with: the
        # phone and date of birth identify the person, and the desk prints for the person.
        kinds = tuple(
            kind
            for kind in PRINTABLE_KINDS
            if self._distribution.exists(found.pre_enrollment_code, kind)
        )
        return FacilityBeneficiary(found.pre_enrollment_code, found.name, kinds)

    def certificate(
        self, staff: Principal, pre_enrollment_code: str, kind: str = VACCINATION
    ) -> PrintableCertificate:
        """The print view of a beneficiary's latest certificate of that kind, audited as
        shown to staff."""
        bundle = self._bundle(pre_enrollment_code, kind)
        self._distribution.record_view(
            bundle, "print-view", caller=staff, permission=Permission.PRINT
        )
        record = bundle.latest
        payload = encode_payload(record.certificate, form=self._form)
        view = CertificateView.from_credentials(
            json.loads(record.certificate), bundle.dose_credentials, qr_payload=payload
        )
        return PrintableCertificate(
            pre_enrollment_code=record.pre_enrollment_code,
            certificate_id=record.certificate_id,
            entity_type=record.entity_type,
            view=view,
            qr_svg=qr_svg(payload, module_px=3),
        )

    def pdf(self, staff: Principal, pre_enrollment_code: str, kind: str = VACCINATION) -> Artifact:
        bundle = self._bundle(pre_enrollment_code, kind)
        return self._distribution.render(bundle, "pdf", caller=staff, permission=Permission.PRINT)

    def _bundle(self, pre_enrollment_code: str, kind: str) -> CertificateBundle:
        if kind not in PRINTABLE_KINDS:
            raise NotFound(f"the desk does not print certificates of type {kind}")
        return self._distribution.bundle(_checked(pre_enrollment_code), kind)


def _checked(pre_enrollment_code: str) -> str:
    # Only ids that could have been issued reach the database (PostgreSQL refuses a NUL
    # byte in a query with an error, not an empty answer).
    if not _CODE.fullmatch(pre_enrollment_code):
        raise NotFound("no such beneficiary")
    return pre_enrollment_code


@dataclass
class FacilityDesk:
    """The print desk's services, built together (``Services.facility``)."""

    printing: FacilityPrinting
    sessions: StaffSessions
    oidc: OidcStaffSignIn | None
    local: LocalStaffSignIn | None

    def search(self, session: StaffSession, phone: str, dob: date) -> list[FacilityBeneficiary]:
        """Beneficiaries with this phone and date of birth; the session may print them."""
        found = self.printing.search(session.principal, phone, dob)
        self.sessions.remember_found(session, (b.pre_enrollment_code for b in found))
        return found

    def certificate(
        self, session: StaffSession, pre_enrollment_code: str, kind: str = VACCINATION
    ) -> PrintableCertificate:
        """``NotFound`` for a beneficiary the session did not find; ``KindNotHeld`` for one
        it found who has no certificate of that kind."""
        code = self._found(session, pre_enrollment_code)
        try:
            return self.printing.certificate(session.principal, code, kind)
        except NotFound as exc:
            raise KindNotHeld(kind) from exc

    def pdf(
        self, session: StaffSession, pre_enrollment_code: str, kind: str = VACCINATION
    ) -> Artifact:
        code = self._found(session, pre_enrollment_code)
        try:
            return self.printing.pdf(session.principal, code, kind)
        except NotFound as exc:
            raise KindNotHeld(kind) from exc

    def _found(self, session: StaffSession, pre_enrollment_code: str) -> str:
        # The same answer as an unknown id: the desk does not confirm that an id exists.
        if not self.sessions.was_found(session, pre_enrollment_code):
            raise NotFound("no such beneficiary among this session's searches")
        return pre_enrollment_code
