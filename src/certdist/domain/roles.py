"""What a caller may do, and which token roles grant it by default.

DIVOC checked only a bearer token's signature; certdist checks a role for every route.
Deployments rename roles in configuration (``CERTDIST_ROLES__ISSUE='["my-role"]'``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Permission(StrEnum):
    ISSUE = "issue"  # POST certify, bulk uploads
    CORRECT = "correct"  # PUT certificate
    REVOKE = "revoke"  # DELETE certificates
    READ_SIGNED = "read_signed"  # GET a signed credential by certificateId (facility admins)
    DISTRIBUTE = "distribute"  # certificate API clients: PDF / QR by beneficiary id
    PRINT = "print"  # facility print staff
    RECIPIENT = "recipient"  # a citizen's token, scoped to their mobile number
    PARTNER = "partner"  # partner apps
    DIGILOCKER = "digilocker"  # DigiLocker's pull API (HMAC-authenticated; audit label)


DEFAULT_ROLES: dict[Permission, tuple[str, ...]] = {
    Permission.ISSUE: ("certificate-issuer", "facility-staff"),
    Permission.CORRECT: ("certificate-corrector", "facility-admin"),
    Permission.REVOKE: ("certificate-revoker", "admin"),
    Permission.READ_SIGNED: ("facility-admin", "admin"),
    Permission.DISTRIBUTE: ("certificate-api", "api"),
    Permission.PRINT: ("facility-print",),
    Permission.RECIPIENT: ("recipient",),
    Permission.PARTNER: ("partner",),
    Permission.DIGILOCKER: ("digilocker",),
}


@dataclass(frozen=True)
class Principal:
    """Who is calling, as established from a verified token."""

    subject: str
    username: str
    roles: frozenset[str]
    mobile: str | None = None
    issuer: str = ""

    def has_any(self, roles: tuple[str, ...] | list[str]) -> bool:
        return not self.roles.isdisjoint(roles)
