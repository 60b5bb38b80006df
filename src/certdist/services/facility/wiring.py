"""Building the facility desk: staff sign-in (OpenID Connect or the development password),
staff sessions, printing one certificate, and batch print jobs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from certdist.config import DocumentSection, PrintSettings
from certdist.domain.latest import LatestRule
from certdist.domain.models import VACCINATION
from certdist.domain.roles import Permission
from certdist.errors import ConfigurationError
from certdist.services.access import Access
from certdist.services.common import Infrastructure
from certdist.services.distribution import Distribution
from certdist.services.facility.desk import FacilityDesk, FacilityPrinting
from certdist.services.facility.printing import PrintJobRunner, PrintOptions, PrintService
from certdist.services.facility.staff_auth import LocalStaffSignIn, OidcClient, OidcStaffSignIn
from certdist.services.facility.staff_sessions import StaffSessions


@dataclass(frozen=True)
class Facility:
    desk: FacilityDesk  # staff sign-in and printing one certificate at the desk
    printing: PrintService  # batch printing: a facility-day or a list, as jobs
    settings: PrintSettings

    def start_print_jobs(self) -> PrintJobRunner | None:
        """The background thread that runs print jobs in a server process, if configured."""
        if not self.settings.batch_run_in_server:
            return None
        runner = PrintJobRunner(self.printing, poll_seconds=self.settings.batch_poll_seconds)
        runner.start()
        return runner


def wire(
    section: PrintSettings,
    documents: DocumentSection,
    infrastructure: Infrastructure,
    *,
    access: Access,
    distribution: Distribution,
) -> Facility:
    return Facility(
        desk=_desk(section, documents, infrastructure, access, distribution),
        printing=_printing(section, documents, infrastructure, distribution),
        settings=section,
    )


def _desk(
    section: PrintSettings,
    documents: DocumentSection,
    infrastructure: Infrastructure,
    access: Access,
    distribution: Distribution,
) -> FacilityDesk:
    site, state, clock = infrastructure.site, infrastructure.state, infrastructure.clock
    oidc = None
    if section.oidc_issuer and section.oidc_client_id:
        trust = next((t for t in access.trusted if t.issuer == section.oidc_issuer), None)
        if trust is None:
            raise ConfigurationError("printing.oidc_issuer must also be listed in trusted_issuers")
        base = section.oidc_issuer.rstrip("/")
        # Keycloak's endpoint paths when none are configured (DIVOC ran Keycloak).
        oidc = OidcStaffSignIn(
            OidcClient(
                issuer=section.oidc_issuer,
                client_id=section.oidc_client_id,
                client_secret=section.oidc_client_secret,
                authorization_endpoint=section.oidc_authorization_endpoint
                or f"{base}/protocol/openid-connect/auth",
                token_endpoint=section.oidc_token_endpoint
                or f"{base}/protocol/openid-connect/token",
                redirect_uri=site.host + "/facility/oidc/callback",
                scopes=tuple(section.oidc_scopes),
            ),
            trust,
            access.tokens,
            access.authorizer,
            state,
            clock,
        )
    local = None
    if section.local_staff_sign_in and not site.production:
        role = access.roles_for(Permission.PRINT)[0]
        local = LocalStaffSignIn(section.local_staff_password, role)
    return FacilityDesk(
        printing=FacilityPrinting(
            distribution.certificates,
            infrastructure.rate_limiter,
            infrastructure.hasher,
            qr_payload_form=documents.qr_payload_form,
        ),
        sessions=StaffSessions(
            state,
            infrastructure.hasher,
            clock,
            absolute_seconds=section.staff_session_minutes * 60,
        ),
        oidc=oidc,
        local=local,
    )


def _printing(
    section: PrintSettings,
    documents: DocumentSection,
    infrastructure: Infrastructure,
    distribution: Distribution,
) -> PrintService:
    database = infrastructure.database
    options = PrintOptions(
        output_dir=section.batch_dir or infrastructure.site.data_dir / "prints",
        chunk_size=section.batch_chunk_size,
        max_codes=section.batch_max_codes,
        stale_after=timedelta(seconds=section.batch_stale_after_seconds),
        max_attempts=section.batch_max_attempts,
        keep_for=timedelta(hours=section.batch_keep_hours),
        form=documents.qr_payload_form,
        rule=documents.entity_types.get(VACCINATION, LatestRule.BY_DOSE),
        qr_processes=section.batch_qr_processes,
    )
    return PrintService(
        database.print_selection(),
        database.print_jobs(),
        distribution.renderer,
        database.audit(),
        infrastructure.clock,
        options,
    )
