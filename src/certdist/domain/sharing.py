"""Share links: a citizen's certificate opened by someone else, and each use of a link."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class ShareKind(StrEnum):
    FULL = "full"  # details, QR and PDF
    QR_ONLY = "qr-only"
    HEALTH_LINK = "shl"  # a SMART Health Link: encrypted files for a receiving application


@dataclass(frozen=True)
class ShareLink:
    id: str
    token_hash: str
    owner_hash: str
    certificate_id: str
    pre_enrollment_code: str
    kind: ShareKind
    passcode_hash: str | None
    failed_attempts: int
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    #: SMART Health Link flags (``L``, ``P``, ``U``, in alphabetical order) and label; empty
    #: and None for the portal's own links.
    flags: str = ""
    label: str | None = None


@dataclass(frozen=True)
class LinkAccess:
    """One use of a link: ``event`` is what happened (``opened``, ``pdf``, ``qr``,
    ``wrong-passcode``; for a SMART Health Link ``shl-manifest``, ``shl-file``,
    ``shl-direct``), and ``recipient`` who said they were (SMART Health Links only)."""

    id: str
    link_id: str
    at: datetime
    event: str
    recipient: str | None = None
