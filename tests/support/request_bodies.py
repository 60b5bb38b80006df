"""Request bodies for tests: valid DIVOC-shaped requests that each test bends as it needs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tests.support.environment import VECTORS


def vaccination_request_body(
    code: str = "BEN0001",
    *,
    dose: int = 1,
    total: int = 2,
    name: str = "Bhaya Mitra",
    mobile: str = "9880414889",
    program: str = "covid-19",
) -> dict[str, Any]:
    return {
        "preEnrollmentCode": code,
        "programId": program,
        "recipient": {
            "name": name,
            "dob": "1994-11-30",
            "gender": "Male",
            "nationality": "Indian",
            "identity": "did:in.gov.uidai.aadhaar:2342343334",
            "contact": [f"tel:{mobile}"],
            "address": {
                "addressLine1": "444, 2nd Street",
                "district": "Bengaluru",
                "state": "Karnataka",
                "pincode": "560034",
            },
        },
        "vaccination": {
            "name": "Covishield",
            "batch": "MB3428BX",
            "manufacturer": "Serum Institute of India",
            "date": "2021-05-02T10:21:18.646Z",
            "effectiveStart": "2021-05-02",
            "effectiveUntil": "2022-05-02",
            "dose": dose,
            "totalDoses": total,
        },
        "vaccinator": {"name": "Sooraj Singh"},
        "facility": {
            "name": "ABC Medical Center",
            "address": {
                "addressLine1": "123, Koramangala",
                "district": "Bengaluru South",
                "state": "Karnataka",
                "pincode": "560034",
            },
        },
    }


def lab_test_request_body(code: str = "LAB0001", *, mobile: str = "9880414889") -> dict[str, Any]:
    body = vaccination_request_body(code, mobile=mobile)
    del body["vaccination"], body["vaccinator"]
    body["testDetails"] = {
        "batch": "T-77",
        "manufacturer": "Mylab",
        "testName": "CoviSelf",
        "testType": "RAT",
        "disease": "COVID-19",
        "sampleOrigin": "Nasopharyngeal",
        "sampleCollectionTimestamp": "2021-06-01T08:00:00Z",
        "resultTimestamp": "2021-06-01T09:30:00Z",
        "result": "Negative",
    }
    body["verifier"] = {"name": "Lab Officer"}
    return body


def bulk_vaccination_csv(codes: Sequence[str]) -> bytes:
    """A bulk upload (DIVOC's vaccination CSV layout): one valid first-dose row per code."""
    header = (VECTORS / "divoc/bulk-certify-header.csv").read_text().strip()
    row = (
        "{code},Asha,9880414889,1990-01-02,,Female,Indian,,L1,,Dist,State,560001,B1,"
        "2021-05-02T10:00:00Z,1,2,2021-05-02,2022-05-02,SII,Covishield,Dr A,PHC,F1,,FD,FS,560002"
    )
    return ("\n".join([header, *(row.format(code=code) for code in codes)]) + "\n").encode()


def bulk_test_csv(codes: Sequence[str]) -> bytes:
    """A bulk lab-test upload (DIVOC's layout): one valid test row per code (a code may
    repeat: a person may have many tests)."""
    header = (VECTORS / "divoc/bulk-test-certify-header.csv").read_text().strip()
    row = (
        "{code},Asha,9880414889,1990-01-02,Female,Indian,,L1,,Dist,State,560001,TB1,COVID-19,"
        "CoviSelf,RAT,Negative,2021-06-01T09:30:00Z,Mylab,2021-06-01T08:00:00Z,Nasal,"
        "Lab Officer,Lab,F1,,FD,FS,560002"
    )
    return ("\n".join([header, *(row.format(code=code) for code in codes)]) + "\n").encode()
