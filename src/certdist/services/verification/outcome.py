"""The verifier's answers: a status with a stable reason code, and the intermediate
:class:`Examined` every format's check returns."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal, Self

from certdist.errors import (
    CertificateExpired,
    CertificateNotYetValid,
    CertificateRevoked,
    IssuerKeysUnavailable,
    MalformedCertificate,
    RevocationUnknown,
    UnknownKey,
    UnsupportedFormat,
    VerificationError,
)
from certdist.formats.dcc_revocation import DccHashes
from certdist.services.verification.view import VerifiedCertificate

#: The stable reason codes of an outcome (see :class:`VerificationOutcome`).
OutcomeCode = Literal[
    "valid",
    "signature",
    "unknown-key",
    "keys-unavailable",
    "expired",
    "not-yet-valid",
    "revoked",
    "malformed",
    "unsupported",
    "revocation-unknown",
]


class Status(StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    REVOKED = "revoked"


@dataclass(frozen=True)
class VerificationOutcome:
    """The result shown on the verify page and by ``POST /verify``.

    ``code`` is a stable machine-readable reason: ``valid``, ``signature`` (the signature
    does not match the content or the key), ``unknown-key``, ``keys-unavailable`` (a trusted
    issuer's keys could not be fetched), ``expired``, ``not-yet-valid`` (its validity starts
    later: ``valid_from``, an ISO date, says when, if the certificate names it), ``revoked``,
    ``malformed`` (a known certificate form whose structure cannot be decoded),
    ``unsupported``, ``revocation-unknown`` (the issuer's revocation list could not be
    checked). ``certificate`` is present only when the signature held: always when valid or
    revoked, and when expired or not yet valid if the format's checks read the content
    before the validity period (DIVOC does; HC1 and SMART Health Cards check the period
    first). An invalid signature means nothing in the document can be believed.
    """

    status: Status
    code: OutcomeCode
    reason: str
    certificate: VerifiedCertificate | None = None
    valid_from: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": str(self.status), "code": self.code, "reason": self.reason}
        if self.valid_from is not None:
            out["valid_from"] = self.valid_from
        if self.certificate is not None:
            out["certificate"] = self.certificate.as_json()
        return out

    @classmethod
    def of_error(cls, error: VerificationError) -> Self:
        """The outcome of a certificate that did not get as far as a view."""
        return cls(Status.INVALID, outcome_code(error), str(error), valid_from=valid_from(error))

    @classmethod
    def of(cls, certificate: VerifiedCertificate, problem: VerificationError | None) -> Self:
        """The outcome of a certificate whose signature held."""
        if problem is None:
            return cls(
                Status.VALID, "valid", "signature, expiry and revocation checked", certificate
            )
        status = Status.REVOKED if isinstance(problem, CertificateRevoked) else Status.INVALID
        return cls(status, outcome_code(problem), str(problem), certificate, valid_from(problem))


@dataclass(frozen=True)
class Examined:
    """A certificate whose signature holds, and what keeps it from being valid, if anything.

    When one of this service's own keys signed it, our revocation list is the authority on
    it: ``our_certificate_id`` names the certificate (DIVOC credentials, EU DCCs), or
    ``our_card_rid`` is the SMART Health Card's revocation id (a keyed hash of the id);
    ``our_dcc_hashes`` are an EU DCC's revocation hashes, looked up in our batches.
    ``status_entry`` is where a credential's issuer publishes its revocation bit, and
    ``status_issuer`` that issuer: a list another issuer signed does not count.
    """

    certificate: VerifiedCertificate
    problem: VerificationError | None = None
    our_certificate_id: str | None = None
    our_card_rid: str | None = None
    our_dcc_hashes: DccHashes | None = None
    #: A DIVOC credential's Bitstring Status List entry: (statusListCredential, index).
    status_entry: tuple[str, int] | None = None
    status_issuer: str | None = None
    #: An SD-JWT VC's Token Status List reference: (status_list.uri, status_list.idx).
    token_status: tuple[str, int] | None = None


def withdrawn(*, revoked: bool) -> CertificateRevoked:
    """Why one of our certificates that is no longer live does not verify."""
    if revoked:
        return CertificateRevoked("the issuer revoked this certificate")
    return CertificateRevoked("the issuer replaced this certificate with a corrected one")


def expiry_or(error: VerificationError) -> VerificationError:
    """The format modules name the failed step first; "expiry" is an expired certificate
    (one not valid yet already comes as :class:`CertificateNotYetValid`)."""
    if type(error) is VerificationError and str(error).startswith("expiry:"):
        return CertificateExpired(str(error))
    return error


def outcome_code(error: VerificationError) -> OutcomeCode:
    if isinstance(error, CertificateRevoked):
        return "revoked"
    if isinstance(error, CertificateExpired):
        return "expired"
    if isinstance(error, CertificateNotYetValid):
        return "not-yet-valid"
    if isinstance(error, MalformedCertificate):
        return "malformed"
    if isinstance(error, UnknownKey):
        return "unknown-key"
    if isinstance(error, IssuerKeysUnavailable):
        return "keys-unavailable"
    if isinstance(error, UnsupportedFormat):
        return "unsupported"
    if isinstance(error, RevocationUnknown):
        return "revocation-unknown"
    return "signature"


def valid_from(error: VerificationError | None) -> str | None:
    """The ISO date a certificate not valid yet becomes valid, if it says."""
    if isinstance(error, CertificateNotYetValid) and error.valid_from is not None:
        return error.valid_from.date().isoformat()
    return None
