import copy
import json
from pathlib import Path
from typing import Any

import pytest

from certdist.domain.requests import CertificationRequest, TestCertificationRequest, parse_batch
from certdist.errors import InvalidInput
from tests.support.request_bodies import lab_test_request_body, vaccination_request_body


@pytest.fixture
def divoc_body(testdata: Path) -> list[dict[str, Any]]:
    body: list[dict[str, Any]] = json.loads((testdata / "divoc/certify-request.json").read_text())
    return body


def test_divoc_certify_request_parses(divoc_body: list[dict[str, Any]]) -> None:
    [request] = parse_batch(CertificationRequest, divoc_body, max_items=10)
    assert request.preEnrollmentCode == "1112"
    assert request.vaccination.dose == 1
    assert request.recipient.address.pincode == "560034"
    assert request.recipient.contact == ["tel:9880414889"]


def _locations(body: Any) -> set[str]:
    with pytest.raises(InvalidInput) as caught:
        parse_batch(CertificationRequest, body, max_items=10)
    return {error.location for error in caught.value.errors}


@pytest.mark.parametrize(
    ("path", "value", "location"),
    [
        (("vaccination", "dose"), 0, "0.vaccination.dose"),
        (("vaccination", "totalDoses"), 0, "0.vaccination.totalDoses"),
        (("vaccination", "date"), "yesterday", "0.vaccination.date"),
        (("recipient", "dob"), "2999-01-01", "0.recipient.dob"),
        (("recipient", "name"), "", "0.recipient.name"),
        (("recipient", "name"), "x" * 201, "0.recipient.name"),
        (("recipient", "identity"), "123456789012", "0.recipient.identity"),
        (("recipient", "contact"), ["9880414889"], "0.recipient.contact"),
        (("recipient", "contact"), ["mailto:not-an-address"], "0.recipient.contact"),
        (("preEnrollmentCode",), "../etc/passwd", "0.preEnrollmentCode"),
        (("preEnrollmentCode",), "", "0.preEnrollmentCode"),
        (("recipient", "age"), "two", "0.recipient.age"),
        # A number is not read as a Unix timestamp: dates are ISO 8601 text.
        (("recipient", "dob"), 0, "0.recipient.dob"),
        (("vaccination", "date"), 1620000000, "0.vaccination.date"),
        (("vaccination", "effectiveStart"), 0, "0.vaccination.effectiveStart"),
    ],
)
def test_each_bad_field_is_named(path: tuple[str, ...], value: Any, location: str) -> None:
    body = vaccination_request_body()
    node = body
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    assert location in _locations([body])


def test_missing_sections_are_named() -> None:
    body = vaccination_request_body()
    del body["vaccination"]
    del body["facility"]
    assert {"0.vaccination", "0.facility"} <= _locations([body])


def test_every_item_is_checked_at_once() -> None:
    good = vaccination_request_body()
    bad = copy.deepcopy(good)
    bad["vaccination"]["dose"] = -1
    assert _locations([good, bad, bad]) == {"1.vaccination.dose", "2.vaccination.dose"}


def test_effective_until_before_start_is_refused() -> None:
    body = vaccination_request_body()
    body["vaccination"]["effectiveStart"] = "2021-05-02"
    body["vaccination"]["effectiveUntil"] = "2021-05-01"
    assert "0.vaccination" in _locations([body])


@pytest.mark.parametrize("body", [{}, [], "text", None, 3])
def test_body_must_be_a_non_empty_array(body: Any) -> None:
    with pytest.raises(InvalidInput):
        parse_batch(CertificationRequest, body, max_items=10)


def test_batch_size_is_limited() -> None:
    with pytest.raises(InvalidInput, match="at most 2"):
        parse_batch(CertificationRequest, [vaccination_request_body()] * 3, max_items=2)


def test_numbers_for_pincode_and_age_are_accepted() -> None:
    body = vaccination_request_body()
    body["recipient"]["address"]["pincode"] = 560034
    body["recipient"]["age"] = 26
    [request] = parse_batch(CertificationRequest, [body], max_items=1)
    assert request.recipient.address.pincode == "560034"
    assert request.recipient.age == "26"


def test_lab_test_result_before_sample_is_refused() -> None:
    body = lab_test_request_body()
    body["testDetails"]["resultTimestamp"] = "2021-01-01T00:00:00Z"
    with pytest.raises(InvalidInput) as caught:
        parse_batch(TestCertificationRequest, [body], max_items=1)
    assert caught.value.errors[0].location == "0.testDetails"


def test_tabs_and_line_breaks_in_text_become_spaces() -> None:
    body = vaccination_request_body(name="Asha\tDevi\r\nK")
    body["facility"]["address"]["addressLine1"] = "12,\tMG Road"
    [request] = parse_batch(CertificationRequest, [body], max_items=1)
    assert request.recipient.name == "Asha Devi K"
    assert request.facility.address.addressLine1 == "12, MG Road"


@pytest.mark.parametrize(
    ("name", "location"),
    [
        ('=HYPERLINK("http://evil.example/","x")', "0.recipient.name"),
        ("+91 Ravi", "0.recipient.name"),
        ("@SUM(A1)", "0.recipient.name"),
        ("Asha\x00Devi", "0.recipient.name"),
        ("Asha\x1bDevi", "0.recipient.name"),
        ("Asha\x85Devi", "0.recipient.name"),
    ],
)
def test_names_that_a_spreadsheet_would_run_or_that_hold_controls_are_refused(
    name: str, location: str
) -> None:
    body = vaccination_request_body(name=name)
    with pytest.raises(InvalidInput) as caught:
        parse_batch(CertificationRequest, [body], max_items=1)
    [error] = caught.value.errors
    assert error.location == location
    assert "formula" in error.message or "control" in error.message


def test_the_facility_and_vaccinator_names_follow_the_same_rule() -> None:
    body = vaccination_request_body()
    body["facility"]["name"] = "=cmd|' /C calc'!A0"
    body["vaccinator"]["name"] = "@evil"
    with pytest.raises(InvalidInput) as caught:
        parse_batch(CertificationRequest, [body], max_items=1)
    assert {e.location for e in caught.value.errors} == {"0.facility.name", "0.vaccinator.name"}


def test_ordinary_names_in_any_script_are_accepted() -> None:
    # Hyphens inside, apostrophes, Devanagari with its joiners (ZWJ/ZWNJ are format
    # characters, not controls) all stay.
    for name in ("Mary-Jane O'Neil", "प्रिया शर्मा", "क्‍ष", "Ravi-Kumar", "D'Souza"):
        [request] = parse_batch(
            CertificationRequest, [vaccination_request_body(name=name)], max_items=1
        )
        assert request.recipient.name == name
