"""Sharing: links a citizen gives to someone else (expiry, passcode, withdrawal, access log)
and certificates or links sent by e-mail."""

from certdist.services.sharing.links import (
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
