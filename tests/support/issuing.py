"""Issuing certificates in tests straight through the service (no HTTP), from the request
bodies of ``tests/support/request_bodies.py``."""

from __future__ import annotations

from typing import Any

from certdist.domain.requests import CertificationRequest, TestCertificationRequest
from certdist.services.issuance.service import AnyRequest, Issued
from certdist.wiring import Services
from tests.support.request_bodies import vaccination_request_body


def request_of(body: dict[str, Any]) -> AnyRequest:
    """The request a body makes: a lab test when it has ``testDetails``, else a vaccination."""
    model = TestCertificationRequest if "testDetails" in body else CertificationRequest
    return model.model_validate(body)


def certify(services: Services, *bodies: dict[str, Any]) -> list[Issued]:
    """Issues a certificate for each body, in one call (all or none)."""
    return services.issuance.certificates.certify([request_of(body) for body in bodies])


def issue_signed(services: Services, code: str = "BEN0001", **options: Any) -> str:
    """Issues a vaccination certificate to beneficiary ``code`` (``options`` go to
    :func:`vaccination_request_body`); returns its signed credential (JSON text)."""
    [issued] = certify(services, vaccination_request_body(code, **options))
    return services.issuance.certificates.signed_credential(issued.certificate_id)
