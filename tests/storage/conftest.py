"""Fixtures for the storage tests.

The database fixtures (``database``, ``database_url``, …) live in
``tests/support/databases.py``, registered for the whole suite in ``tests/conftest.py``,
because service and API tests need them too.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from certdist.domain.models import VACCINATION, CertificateRecord

T0 = datetime(2021, 7, 1, 9, 30, 0, 123456, tzinfo=UTC)

MakeCertificate = Callable[..., CertificateRecord]


@pytest.fixture
def make_certificate() -> MakeCertificate:
    """Builds valid certificate records; keyword arguments override any field.

    Each call gets a new record id, certificate id and a creation time one second later than
    the previous call, so "oldest first" orders are predictable.
    """
    counter = itertools.count(1)

    def make(**overrides: Any) -> CertificateRecord:
        n = next(counter)
        certificate_id = overrides.get("certificate_id", str(100_000_000_000 + n))
        created = T0 + timedelta(seconds=n)
        fields: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "certificate_id": certificate_id,
            "pre_enrollment_code": "BEN-0001",
            "entity_type": VACCINATION,
            "program_id": "C19",
            "dose": 1,
            "total_doses": 2,
            "name": "Asha Rao",
            "dob": date(1984, 2, 29),
            "gender": "Female",
            "mobile": "+919876543210",
            "contacts": ("tel:+919876543210", "mailto:asha@example.org"),
            "certificate": '{"credentialSubject":{"name":"Asha Rao"},"evidence":[{"certificateId":"'
            + certificate_id
            + '"}]}',
            "key_id": "did:india#key-1",
            "created_at": created,
            "updated_at": created,
            "meta": {"batch": "B-1", "vaccinator": {"name": "Dr Sen"}},
        }
        fields.update(overrides)
        return CertificateRecord(**fields)

    return make
