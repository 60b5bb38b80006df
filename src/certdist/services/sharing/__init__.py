"""Sharing: links a citizen gives to someone else (expiry, passcode, withdrawal, access log)
and certificates or links sent by e-mail."""

from certdist.services.sharing.health_links import (
    FHIR_JSON,
    JOSE,
    LABEL_MAX,
    LOCATION_LIFETIME,
    SMART_HEALTH_CARD,
    CreatedHealthLink,
    EncryptedFile,
    HealthLinkOverview,
    HealthLinkService,
)
from certdist.services.sharing.links import (
    PASSCODE_FAILURE_CAP,
    PASSCODE_MAX,
    PASSCODE_MIN,
    UNLOCK_LIFETIME,
    CreatedLink,
    Expiry,
    LinkOverview,
    LinkState,
    SharedView,
    SharingService,
)
from certdist.services.sharing.mail import ShareMailService, ShareMode
from certdist.services.sharing.wiring import Sharing, wire

__all__ = [
    "FHIR_JSON",
    "JOSE",
    "LABEL_MAX",
    "LOCATION_LIFETIME",
    "PASSCODE_FAILURE_CAP",
    "PASSCODE_MAX",
    "PASSCODE_MIN",
    "SMART_HEALTH_CARD",
    "UNLOCK_LIFETIME",
    "CreatedHealthLink",
    "CreatedLink",
    "EncryptedFile",
    "Expiry",
    "HealthLinkOverview",
    "HealthLinkService",
    "LinkOverview",
    "LinkState",
    "ShareMailService",
    "ShareMode",
    "SharedView",
    "Sharing",
    "SharingService",
    "wire",
]
