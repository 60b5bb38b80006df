"""DIVOC-shaped credentials for the renderer tests (unsigned: renderers never read proofs)."""

from __future__ import annotations

import copy
from typing import Any


def make_credential(
    *,
    dose: object = 1,
    total: object = 2,
    name: str = "Bhaya Mitra",
    issued: str = "2021-05-02T11:00:00.000Z",
    date: str = "2021-05-02T10:00:00.000Z",
    certificate_id: str = "100000001",
    ref_id: str = "BEN0001",
) -> dict[str, Any]:
    """A DIVOC-shaped vaccination credential (unsigned: renderers never look at proofs)."""
    return copy.deepcopy(
        {
            "@context": [
                "https://www.w3.org/2018/credentials/v1",
                "https://cowin.gov.in/credentials/vaccination/v1",
            ],
            "type": ["VerifiableCredential", "ProofOfVaccinationCredential"],
            "credentialSubject": {
                "type": "Person",
                "id": "did:in.gov.uidai.aadhaar:234234233334",
                "refId": ref_id,
                "name": name,
                "gender": "Female",
                "age": "34",
                "nationality": "Indian",
                "address": {
                    "streetAddress": "12, MG Road",
                    "streetAddress2": "",
                    "district": "Bengaluru Urban",
                    "city": "Bengaluru",
                    "addressRegion": "Karnataka",
                    "addressCountry": "IN",
                    "postalCode": "560001",
                },
            },
            "issuer": "https://cowin.gov.in/",
            "issuanceDate": issued,
            "evidence": [
                {
                    "id": f"https://cowin.gov.in/vaccine/{certificate_id}",
                    "feedbackUrl": f"https://cowin.gov.in/?{certificate_id}",
                    "infoUrl": f"https://cowin.gov.in/?{certificate_id}",
                    "certificateId": certificate_id,
                    "type": ["Vaccination"],
                    "batch": "4121Z025",
                    "vaccine": "COVISHIELD",
                    "manufacturer": "Serum Institute of India",
                    "date": date,
                    "effectiveStart": date[:10],
                    "effectiveUntil": "2022-05-02",
                    "dose": dose,
                    "totalDoses": total,
                    "verifier": {"name": "Sooraj Singh"},
                    "facility": {
                        "name": "ABC Medical Center",
                        "address": {
                            "streetAddress": "123, Koramangala",
                            "streetAddress2": "",
                            "district": "Bengaluru South",
                            "city": "Bengaluru",
                            "addressRegion": "Karnataka",
                            "addressCountry": "IN",
                            "postalCode": "560034",
                        },
                    },
                }
            ],
            "nonTransferable": "true",
        }
    )


def make_test_credential(name: str = "Rahul Verma") -> dict[str, Any]:
    """A DIVOC-shaped lab test credential."""
    credential = make_credential(name=name, certificate_id="555000111")
    credential["type"] = ["VerifiableCredential", "ProofOfTestCertificateCredential"]
    credential["evidence"] = [
        {
            "id": "https://cowin.gov.in/test/555000111",
            "certificateId": "555000111",
            "type": ["TestDetails"],
            "batch": "T-88",
            "testName": "Real Time PCR",
            "testType": "RT-PCR",
            "manufacturer": "ICMR",
            "disease": "COVID-19",
            "sampleOrigin": "Nasopharyngeal swab",
            "sampleCollectionTimestamp": "2021-09-01T05:30:00.000Z",
            "resultTimestamp": "2021-09-02T10:15:00.000Z",
            "result": "Negative",
            "verifier": {"name": "Dr. Asha Rao"},
            "facility": {"name": "City Diagnostics Lab", "address": {"city": "Pune"}},
        }
    ]
    return credential
