"""The facility desk's services: whom a search finds, which kinds it lists, and how a kind
the beneficiary does not hold is told apart from a beneficiary the session did not find."""

from __future__ import annotations

from datetime import date

import pytest

from certdist.domain.models import TEST, VACCINATION
from certdist.domain.requests import CertificationRequest, TestCertificationRequest
from certdist.domain.roles import Principal
from certdist.errors import NotFound
from certdist.services.facility.desk import KindNotHeld
from certdist.wiring import Services
from tests.support.request_bodies import lab_test_request_body, vaccination_request_body

MOBILE = "9880414889"
DOB = date(1994, 11, 30)  # the factories' date of birth
STAFF = Principal("sub-1", "nurse-7", frozenset({"facility-print"}), issuer="https://idp")


def _lab_test(services: Services, code: str, *, dob: str = DOB.isoformat()) -> None:
    body = lab_test_request_body(code, mobile=MOBILE)
    body["recipient"]["dob"] = dob
    services.issuance.certificates.certify([TestCertificationRequest.model_validate(body)])


def _vaccination(services: Services, code: str) -> None:
    body = vaccination_request_body(code, mobile=MOBILE)
    services.issuance.certificates.certify([CertificationRequest.model_validate(body)])


def test_a_lab_test_is_found_by_the_recipients_date_of_birth(services: Services) -> None:
    """The signed lab-test credential carries no date of birth, but its record keeps the one
    the issuing request gave: that is what the search matches."""
    _lab_test(services, "LAB0001")
    _lab_test(services, "LAB0002", dob="1990-01-01")
    record = services.database.certificates().for_beneficiary("LAB0001")[0]
    assert '"dob"' not in record.certificate
    assert record.dob == DOB
    found = services.distribution.certificates.beneficiaries(MOBILE, DOB)
    assert [b.pre_enrollment_code for b in found] == ["LAB0001"]


def test_search_lists_each_kind_a_beneficiary_holds(services: Services) -> None:
    _vaccination(services, "BEN0001")
    _lab_test(services, "BEN0001")
    _lab_test(services, "LAB0001")
    _vaccination(services, "BEN0002")
    found = services.facility.desk.printing.search(STAFF, MOBILE, DOB)
    assert {b.pre_enrollment_code: b.kinds for b in found} == {
        "BEN0001": (VACCINATION, TEST),
        "BEN0002": (VACCINATION,),
        "LAB0001": (TEST,),
    }


def test_a_missing_kind_is_told_apart_only_for_found_beneficiaries(services: Services) -> None:
    _lab_test(services, "LAB0001")
    desk = services.facility.desk
    session = desk.sessions.start(STAFF)
    with pytest.raises(NotFound) as unsearched:
        desk.certificate(session, "LAB0001", TEST)
    assert not isinstance(unsearched.value, KindNotHeld)

    desk.search(session, MOBILE, DOB)
    printed = desk.certificate(session, "LAB0001", TEST)
    assert printed.entity_type == TEST
    assert printed.view.kind == "test"
    with pytest.raises(KindNotHeld) as missing:
        desk.pdf(session, "LAB0001", VACCINATION)
    assert missing.value.entity_type == VACCINATION
