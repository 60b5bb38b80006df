"""The one table from the exception tree to HTTP statuses."""

from __future__ import annotations

import pytest

from certdist.errors import (
    CertdistError,
    CertificateRevoked,
    ConfigurationError,
    Conflict,
    InvalidInput,
    NotFound,
    RateLimited,
    SignerExpired,
    StorageUnavailable,
)
from certdist.web.errors import status_for


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (InvalidInput("bad"), 400),
        (CertificateRevoked("revoked"), 400),  # a verification answer, found by its base class
        (NotFound("none"), 404),
        (Conflict("twice"), 409),
        (RateLimited("slow down", retry_after=5), 429),
        (StorageUnavailable("down"), 503),
        # An expired signing certificate is the deployment's to renew: unavailable, not a bug.
        (SignerExpired("renew"), 503),
        (ConfigurationError("wrong"), 500),
        (CertdistError("unknown"), 500),
    ],
)
def test_each_error_has_its_status(error: CertdistError, status: int) -> None:
    assert status_for(error) == status
