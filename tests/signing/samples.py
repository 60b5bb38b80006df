"""Sample data shared by the signing tests: DIVOC-shaped credentials and hard names."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

#: Names that break naive escaping: quotes, backslashes, Devanagari, Arabic, CJK, emoji.
HARD_NAMES = [
    'Zoë "Ziggy" O\'Brien',
    "back\\slash \\\\ and \\u0041 \\n literal",
    "राम कुमार शर्मा",
    "محمد عبد الله",
    "李小龙 · 山田太郎 · 김민수",
    "👩🏽‍⚕️ Dr. Emoji 🎉💉",
    "line\nbreak\rreturn \x00\x08\x0b\x0c\x1b\x7f\u2028 controls",
]

CREATED = datetime(2021, 8, 28, 11, 35, 43, 776000, tzinfo=UTC)

CredentialFactory = Callable[..., dict[str, Any]]

VACCINATION: dict[str, Any] = {
    "@context": [
        "https://www.w3.org/2018/credentials/v1",
        "https://cowin.gov.in/credentials/vaccination/v1",
    ],
    "type": ["VerifiableCredential", "ProofOfVaccinationCredential"],
    "credentialSubject": {
        "type": "Person",
        "id": "did:in.gov.uidai.aadhaar:2342343334",
        "refId": "12346",
        "name": "Bhaya Mitra",
        "gender": "Male",
        "age": "26",
        "nationality": "Indian",
        "address": {
            "streetAddress": "444, 2nd Street",
            "streetAddress2": "",
            "district": "Bengaluru",
            "city": "Bengaluru",
            "addressRegion": "Karnataka",
            "addressCountry": "IN",
            "postalCode": "560034",
        },
    },
    "issuer": "https://cowin.gov.in/",
    "issuanceDate": "2021-08-28T11:35:43.776Z",
    "evidence": [
        {
            "id": "https://cowin.gov.in/vaccine/244768056",
            "feedbackUrl": "https://cowin.gov.in/?244768056",
            "infoUrl": "https://cowin.gov.in/?244768056",
            "certificateId": "244768056",
            "type": ["Vaccination"],
            "batch": "MB3428BX",
            "vaccine": "COVISHIELD",
            "manufacturer": "Serum Institute of India",
            "date": "2021-07-12T19:21:19.646Z",
            "effectiveStart": "2021-07-12",
            "effectiveUntil": "2022-07-12",
            "dose": 1,
            "totalDoses": 2,
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

TEST_CERTIFICATE: dict[str, Any] = {
    "@context": [
        "https://www.w3.org/2018/credentials/v1",
        "https://cowin.gov.in/credentials/testCertificate/v1",
    ],
    "type": ["VerifiableCredential", "ProofOfTestCertificateCredential"],
    "credentialSubject": {
        "type": "Person",
        "id": "did:in.gov.uidai.aadhaar:2342343334",
        "refId": "12346",
        "name": "Bhaya Mitra",
        "dob": "1994-11-30",
        "gender": "Male",
        "nationality": "Indian",
        "address": {
            "streetAddress": "444, 2nd Street",
            "streetAddress2": "",
            "district": "Bengaluru",
            "city": "Bengaluru",
            "addressRegion": "Karnataka",
            "addressCountry": "IN",
            "postalCode": "560034",
        },
    },
    "issuer": "https://cowin.gov.in/",
    "issuanceDate": "2021-08-28T11:35:43.776Z",
    "evidence": [
        {
            "id": "https://cowin.gov.in/test/9876543",
            "feedbackUrl": "https://cowin.gov.in/feedback/9876543",
            "infoUrl": "https://cowin.gov.in/info/9876543",
            "certificateId": "9876543",
            "type": ["TestDetails"],
            "batch": "TB-77",
            "testName": "SARS-CoV-2 RT-PCR",
            "testType": "RT-PCR",
            "manufacturer": "ICMR",
            "disease": "COVID-19",
            "sampleOrigin": "Nasopharyngeal",
            "sampleCollectionTimestamp": "2021-08-27T09:00:00.000Z",
            "resultTimestamp": "2021-08-28T10:00:00.000Z",
            "result": "Negative",
            "verifier": {"name": "Lab Officer"},
            "facility": {
                "name": "City Lab",
                "address": {
                    "streetAddress": "1 Lab Road",
                    "streetAddress2": "",
                    "district": "Pune",
                    "city": "Pune",
                    "addressRegion": "Maharashtra",
                    "addressCountry": "IN",
                    "postalCode": "411001",
                },
            },
        }
    ],
    "nonTransferable": "true",
}
