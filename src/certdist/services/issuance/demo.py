"""Demo certificates for the embedded default, so a newcomer has something to download."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from certdist.domain.requests import CertificationRequest
from certdist.errors import DuplicateCertificate
from certdist.services.issuance.service import IssuanceService

DEMO_MOBILE = "+919000000001"

_FAMILY = (
    # (code, name, dob, gender, doses given)
    ("DEMO0001", "Asha Devi", date(1968, 3, 14), "Female", 3),
    ("DEMO0002", "Ravi Kumar", date(1965, 8, 2), "Male", 2),
    ("DEMO0003", "प्रिया शर्मा", date(1996, 1, 25), "Female", 1),
)


def demo_requests() -> list[CertificationRequest]:
    first = datetime(2021, 5, 3, 10, 30)
    requests = []
    for code, name, dob, gender, doses in _FAMILY:
        for dose in range(1, doses + 1):
            given = first + timedelta(days=84 * (dose - 1))
            body: dict[str, Any] = {
                "preEnrollmentCode": code,
                "programId": "covid-19",
                "recipient": {
                    "name": name,
                    "dob": dob.isoformat(),
                    "gender": gender,
                    "nationality": "Indian",
                    "identity": f"did:in.gov.uidai.aadhaar:{code[-4:]}12345678",
                    "contact": [f"tel:{DEMO_MOBILE}"],
                    "address": {
                        "addressLine1": "12, MG Road",
                        "district": "Bengaluru Urban",
                        "state": "Karnataka",
                        "pincode": "560001",
                    },
                },
                "vaccination": {
                    "name": "Covishield",
                    "batch": f"4121Z{dose:03d}",
                    "manufacturer": "Serum Institute of India",
                    "date": given.isoformat() + "Z",
                    "effectiveStart": given.date().isoformat(),
                    "effectiveUntil": (given.date() + timedelta(days=365)).isoformat(),
                    "dose": dose,
                    "totalDoses": 2,
                },
                "vaccinator": {"name": "Dr. Meera Nair"},
                "facility": {
                    "name": "Primary Health Centre, Indiranagar",
                    "address": {
                        "addressLine1": "100 Feet Road",
                        "district": "Bengaluru Urban",
                        "state": "Karnataka",
                        "pincode": "560038",
                    },
                },
            }
            requests.append(CertificationRequest.model_validate(body))
    return requests


def seed_demo(issuance: IssuanceService) -> int:
    """Issue the demo certificates that are missing; returns how many were issued."""
    issued = 0
    for request in demo_requests():
        try:
            issuance.certify([request])
            issued += 1
        except DuplicateCertificate:
            continue
    return issued
