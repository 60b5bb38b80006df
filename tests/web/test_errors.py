"""The one table from the exception tree to HTTP statuses."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

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


def test_405_allows_every_method_of_the_path(client: TestClient) -> None:
    # DELETE .../{preEnrollmentCode} and GET .../{certificateId} share one path template.
    response = client.options("/divoc/api/v1/certificates/906357492030")
    assert response.status_code == 405
    assert response.headers["Allow"] == "DELETE, GET"
    assert response.json()["type"] == "invalid-input"


def test_the_document_promises_400_with_divoc_error_body_never_422(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    certify = document["paths"]["/divoc/api/v1/certify"]["post"]["responses"]
    assert "422" not in certify
    error = {"$ref": "#/components/schemas/ErrorBody"}
    assert certify["400"]["content"]["application/json"]["schema"] == error
    assert {"400", "401", "403", "409", "413"} <= certify.keys()
    assert set(document["components"]["schemas"]["ErrorBody"]["required"]) == {
        "date",
        "source",
        "type",
        "extra",
    }
    assert "HTTPValidationError" not in document["components"]["schemas"]
    head = document["paths"]["/certificate/api/certificatePDF/{preEnrollmentCode}"]["head"]
    assert all("content" not in answer for answer in head["responses"].values())


def test_a_malformed_multipart_body_is_a_400(client: TestClient) -> None:
    boundary = "a222103b9b30b1f9e8be6882ecedb1d2"
    response = client.post(
        "/verify",
        content=f"--{boundary}\r\n[]--{boundary}--\r\n".encode(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 400
    assert response.json()["type"] == "invalid-input"
