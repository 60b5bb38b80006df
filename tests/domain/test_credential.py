from datetime import UTC, datetime

from certdist.domain.credential import (
    CredentialProfile,
    age_in_years,
    js_iso,
    lab_test_credential,
    vaccination_credential,
)
from certdist.domain.requests import CertificationRequest, TestCertificationRequest
from tests.support.request_bodies import lab_test_request_body, vaccination_request_body

PROFILE = CredentialProfile(
    issuer="https://divoc.dev/",
    base_url="https://divoc.dev/",
    vaccination_context="https://cowin.gov.in/credentials/vaccination/v1",
    test_context="https://cowin.gov.in/credentials/testCertificate/v1",
    vaccine_codes={"covishield": {"icd11Code": "XM9QW8", "prophylaxis": "viral vector"}},
)
ISSUED = datetime(2021, 8, 28, 11, 35, 43, 776000, tzinfo=UTC)


def _vaccination(profile: CredentialProfile = PROFILE, **changes: object) -> dict[str, object]:
    body = vaccination_request_body()
    body["recipient"].update(changes)
    request = CertificationRequest.model_validate(body)
    return vaccination_credential(
        request, certificate_id="244768056", issued_at=ISSUED, profile=profile
    )


def test_js_iso_matches_javascript_to_iso_string() -> None:
    assert js_iso(ISSUED) == "2021-08-28T11:35:43.776Z"
    assert js_iso(datetime(2021, 1, 2, 3, 4, 5)) == "2021-01-02T03:04:05.000Z"


def test_vaccination_credential_has_divoc_shape_and_order() -> None:
    credential = _vaccination()
    assert list(credential) == [
        "@context",
        "type",
        "credentialSubject",
        "issuer",
        "issuanceDate",
        "evidence",
        "nonTransferable",
    ]
    subject = credential["credentialSubject"]
    assert isinstance(subject, dict)
    assert list(subject) == [
        "type",
        "id",
        "refId",
        "name",
        "gender",
        "age",
        "nationality",
        "address",
    ]
    assert subject["age"] == "26"  # a string, computed at the vaccination date
    assert subject["refId"] == "BEN0001"
    assert subject["address"]["addressRegion"] == "Karnataka"
    assert subject["address"]["addressCountry"] == "IN"
    [evidence] = credential["evidence"]  # type: ignore[misc]
    assert evidence["certificateId"] == "244768056"
    assert evidence["id"] == "https://divoc.dev/vaccine/244768056"
    assert evidence["infoUrl"] == evidence["feedbackUrl"] == "https://divoc.dev/?244768056"
    assert evidence["dose"] == 1  # numbers, not strings
    assert evidence["totalDoses"] == 2
    assert evidence["date"] == "2021-05-02T10:21:18.646Z"
    assert credential["nonTransferable"] == "true"
    assert credential["issuanceDate"] == "2021-08-28T11:35:43.776Z"


def test_empty_or_na_identity_becomes_a_did_of_the_beneficiary() -> None:
    for identity in ("", "NA"):
        subject = _vaccination(identity=identity)["credentialSubject"]
        assert subject["id"] == "did:divoc:BEN0001"  # type: ignore[index]


def test_given_age_wins_over_dob() -> None:
    assert _vaccination(age="40")["credentialSubject"]["age"] == "40"  # type: ignore[index]


def test_v2_context_adds_dob_icd11_and_prophylaxis() -> None:
    profile = CredentialProfile(
        issuer=PROFILE.issuer,
        base_url=PROFILE.base_url,
        vaccination_context="https://cowin.gov.in/credentials/vaccination/v2",
        test_context=PROFILE.test_context,
        vaccine_codes=PROFILE.vaccine_codes,
    )
    credential = _vaccination(profile)
    assert credential["credentialSubject"]["dob"] == "1994-11-30"  # type: ignore[index]
    [evidence] = credential["evidence"]  # type: ignore[misc]
    assert evidence["icd11Code"] == "XM9QW8"
    assert evidence["prophylaxis"] == "viral vector"


def test_lab_test_credential() -> None:
    request = TestCertificationRequest.model_validate(lab_test_request_body())
    credential = lab_test_credential(request, certificate_id="1", issued_at=ISSUED, profile=PROFILE)
    assert credential["type"] == ["VerifiableCredential", "ProofOfTestCertificateCredential"]
    assert credential["@context"][1] == PROFILE.test_context  # type: ignore[index]
    [evidence] = credential["evidence"]  # type: ignore[misc]
    assert evidence["type"] == ["TestDetails"]
    assert evidence["result"] == "Negative"
    assert evidence["sampleCollectionTimestamp"] == "2021-06-01T08:00:00.000Z"


def test_age_in_years_counts_birthdays() -> None:
    from datetime import date

    assert age_in_years(date(2000, 5, 2), date(2021, 5, 1)) == 20
    assert age_in_years(date(2000, 5, 2), date(2021, 5, 2)) == 21
