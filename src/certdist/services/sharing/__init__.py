"""Sharing: links a citizen gives to someone else (expiry, passcode, withdrawal, access log)
and certificates or links sent by e-mail."""

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
    "PASSCODE_FAILURE_CAP",
    "PASSCODE_MAX",
    "PASSCODE_MIN",
    "UNLOCK_LIFETIME",
    "CreatedLink",
    "Expiry",
    "LinkOverview",
    "LinkState",
    "ShareMailService",
    "ShareMode",
    "SharedView",
    "Sharing",
    "SharingService",
    "wire",
]
