"""The one exception tree of certdist.

Every error a service raises derives from :class:`CertdistError`. The web layer maps each
class to an HTTP status in exactly one table (``certdist.web.errors``); the CLI maps them to
exit codes. Messages never contain personal data: they name fields and ids, not values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


class CertdistError(Exception):
    """Base class of every error certdist raises on purpose."""


# --- client errors -------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldError:
    """One problem with one field of a request.

    ``location`` is a dotted path like ``0.recipient.dob``."""

    location: str
    message: str


class InvalidInput(CertdistError):
    """The request is malformed or fails validation; nothing was written."""

    def __init__(self, message: str, errors: list[FieldError] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors: list[FieldError] = list(errors or [])


class PayloadTooLarge(CertdistError):
    """The request body is larger than the configured limit."""


class NotFound(CertdistError):
    """The object does not exist, or the caller may not know that it exists."""


class NotAcceptable(CertdistError):
    """The client's Accept header allows none of the forms the resource is served in."""


class Conflict(CertdistError):
    """The request conflicts with stored state (say, a duplicate dose)."""


class DuplicateCertificate(Conflict):
    """A live certificate already exists for this preEnrollmentCode, programme and dose."""

    def __init__(self, pre_enrollment_code: str, program_id: str, dose: int | None) -> None:
        super().__init__(
            f"a certificate already exists for this beneficiary, programme {program_id!r} "
            f"and dose {dose}; send a correction (PUT /v1/certificate) instead"
        )
        self.pre_enrollment_code = pre_enrollment_code
        self.program_id = program_id
        self.dose = dose


class RateLimited(CertdistError):
    """Too many attempts from this caller, for this phone or for the service's budget.

    ``retry_after`` is whole seconds until the window that refused the attempt ends."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


# --- authentication and authorisation ------------------------------------------------------


class AuthenticationFailed(CertdistError):
    """No credentials, or ones that do not verify (signature, issuer, audience, expiry)."""


class PasscodeRejected(AuthenticationFailed):
    """A wrong passcode for a SMART Health Link; ``remaining_attempts`` before it dies (the
    specification's 401 body carries it as ``remainingAttempts``)."""

    def __init__(self, remaining_attempts: int) -> None:
        super().__init__("wrong passcode")
        self.remaining_attempts = max(0, remaining_attempts)


class PermissionDenied(CertdistError):
    """The caller is authenticated but lacks the role this action needs."""


class OAuthError(CertdistError):
    """An error of the OAuth 2.0 and OpenID4VCI endpoints (token, credential), answered with
    the body those specifications define, ``{"error": code, "error_description": text}``,
    instead of DIVOC's: ``code`` is the specification's name (``invalid_grant``,
    ``invalid_proof``, ``invalid_nonce``, ...)."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(description)
        self.code = code


class InvalidAccessToken(OAuthError):
    """No bearer token, or one that is unknown or expired (RFC 6750 ``invalid_token``)."""

    def __init__(self, description: str) -> None:
        super().__init__("invalid_token", description)


class InsufficientScope(OAuthError):
    """A valid bearer token that does not grant this request (RFC 6750)."""

    def __init__(self, description: str) -> None:
        super().__init__("insufficient_scope", description)


# --- verification --------------------------------------------------------------------------


class VerificationError(CertdistError):
    """A signature, proof or document did not verify. ``verify()`` functions raise this."""


class UnknownKey(VerificationError):
    """The document names a key that the trust store does not hold."""


class MalformedCertificate(VerificationError):
    """The input is recognisably a certificate of a known kind (``HC1:``, ``shc:/``, a JWS, a
    DIVOC credential, a FHIR bundle) but its structure cannot be decoded: bad Base45, zlib,
    CBOR or COSE, JWS segments that are no base64url JSON, JSON-LD that cannot be processed,
    a payload without the parts its format requires. Nothing was signed that could be
    checked, so this is not "the signature does not match"."""


class CertificateExpired(VerificationError):
    """The signature holds, but the certificate is past its expiry."""


class CertificateNotYetValid(VerificationError):
    """The signature holds, but the certificate's validity starts later than now plus the
    allowed clock skew. ``valid_from`` is that start (UTC), when the format names one."""

    def __init__(self, message: str, valid_from: datetime | None = None) -> None:
        super().__init__(message)
        self.valid_from = valid_from


class CertificateRevoked(VerificationError):
    """The signature holds, but the issuer revoked the certificate or replaced it with a
    correction."""


class IssuerKeysUnavailable(VerificationError):
    """A trusted issuer's keys could not be fetched: nothing can be said of the signature
    yet (not "tampered", not "untrusted"); asking again later may succeed."""


class RevocationUnknown(VerificationError):
    """The issuer publishes a revocation list for the certificate's key and it could not be
    had: the signature holds, but a certificate that may be revoked is never called valid."""


class UnsupportedFormat(VerificationError):
    """A recognised certificate format that this service cannot verify."""


# --- configuration and operations ----------------------------------------------------------


class ConfigurationError(CertdistError):
    """The settings are inconsistent or unsafe (for example a dev-only backend in production)."""


class SignerExpired(ConfigurationError):
    """A signing certificate of this deployment (an EU DCC Document Signer) is outside its
    validity period: what it signed now would fail verification everywhere. Renew it."""


class StorageUnavailable(CertdistError):
    """The database could not be reached within its deadline."""


class DeliveryFailed(CertdistError):
    """An SMS gateway or mail server did not take a message; sending again may succeed."""


class DeliveryRejected(DeliveryFailed):
    """The server refused this message for good (an SMTP 5xx reply to its recipient or its
    content, such as "mailbox does not exist"): sending it again cannot succeed."""


@dataclass
class RowFailure:
    """One failed row of a bulk upload (row numbers count the header as row 1)."""

    row: int
    errors: list[FieldError] = field(default_factory=list)
