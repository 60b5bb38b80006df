"""The citizen portal: login with a mobile number and a one-time code, sessions, and what a
logged-in citizen sees and downloads."""

from certdist.services.portal.otp import OtpService
from certdist.services.portal.service import (
    PORTAL_ISSUER,
    DownloadFormat,
    PortalCertificate,
    PortalService,
)
from certdist.services.portal.sessions import PortalSession, SessionService
from certdist.services.portal.wiring import CitizenPortal, wire

__all__ = [
    "PORTAL_ISSUER",
    "CitizenPortal",
    "DownloadFormat",
    "OtpService",
    "PortalCertificate",
    "PortalService",
    "PortalSession",
    "SessionService",
    "wire",
]
