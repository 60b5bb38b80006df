"""What a printed certificate shows, derived from DIVOC credentials (DESIGN §2)."""

from __future__ import annotations

import ast
import json
import sys
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

import certdist.domain.certificate_view as certificate_view
from certdist.domain.certificate_view import (
    CertificateView,
    dose_rows,
    format_address,
    format_date,
    format_timestamp,
    mask_identity,
    parse_int,
    parse_printed_day,
    title_kind,
)
from tests.support.credentials import make_credential, make_test_credential

IST = timezone(timedelta(hours=5, minutes=30), "IST")


def test_view_of_divocs_signed_test_certificate(testdata: Path) -> None:
    credential = json.loads((testdata / "divoc" / "rsa2018-signed.json").read_text())
    view = CertificateView.from_credentials(credential, [], qr_payload=b"qr")
    fields = view.fields()
    assert view.kind == "vaccination"
    assert fields["name"] == "Bhaya Mitra"
    assert fields["age"] == "26"
    assert fields["gender"] == "Male"
    assert fields["identity"] == "Aadhaar XXXXXX3334"  # 10 digits in this vector
    assert fields["ref_id"] == "12346"
    assert fields["address"] == "IN"
    assert fields["vaccine"] == "CoVax"
    assert fields["manufacturer"] == "COVPharma"
    assert fields["batch"] == "MB3428BX"
    assert fields["vaccination_date"] == "02 Dec 2020"
    assert fields["vaccinator"] == "Sooraj Singh"
    assert fields["facility"] == "ABC Medical Center"
    assert (
        fields["facility_address"] == "123, Koramangala, Bengaluru, Bengaluru South, Karnataka, IN"
    )
    assert fields["issue_date"] == "28 Aug 2021"
    # This vector has empty dose numbers: no provisional/final claim can be made.
    assert view.title_kind is None
    assert fields["dose_status"] == ""
    assert view.qr_payload == b"qr"


def test_full_view_of_a_vaccination() -> None:
    latest = make_credential(dose=2, total=2, certificate_id="100000002")
    view = CertificateView.from_credentials(latest, [], qr_payload=b"")
    fields = view.fields()
    assert fields["identity"] == "Aadhaar XXXXXXXX3334"
    assert fields["address"] == "12, MG Road, Bengaluru, Bengaluru Urban, Karnataka, 560001, IN"
    assert fields["certificate_id"] == "100000002"
    assert fields["dose_status"] == "2 / 2"
    assert fields["valid_until"] == "02 May 2022"


@pytest.mark.parametrize(
    ("dose", "total", "kind"),
    [
        (1, 2, "provisional"),
        (2, 2, "final"),
        (1, 1, "final"),
        (3, 2, "booster"),
        ("1", "2", "provisional"),  # numbers as strings, seen in the wild
        ("", "", None),
        (None, 2, None),
        (0, 2, None),
    ],
)
def test_title_kind_by_dose(dose: object, total: object, kind: str | None) -> None:
    credential = make_credential(dose=dose, total=total)
    assert CertificateView.from_credentials(credential, [], qr_payload=b"").title_kind == kind


def test_booster_dose_status_shows_only_its_number() -> None:
    view = CertificateView.from_credentials(make_credential(dose=3, total=2), [], qr_payload=b"")
    assert view.fields()["dose_status"] == "3"
    assert title_kind(3, 2) == "booster"


def test_doses_table_one_row_per_dose_latest_first_highest_first() -> None:
    first = make_credential(dose=1, issued="2021-05-02T11:00:00.000Z", certificate_id="1")
    first_corrected = make_credential(
        dose=1,
        issued="2021-06-01T09:00:00.000Z",
        date="2021-05-03T10:00:00.000Z",
        certificate_id="1b",
    )
    second = make_credential(
        dose=2,
        issued="2021-08-28T11:00:00.000Z",
        date="2021-08-20T10:00:00.000Z",
        certificate_id="2",
    )
    booster = make_credential(
        dose=3,
        issued="2022-02-01T11:00:00.000Z",
        date="2022-01-20T10:00:00.000Z",
        certificate_id="3",
    )
    view = CertificateView.from_credentials(
        booster, [first_corrected, second, first], qr_payload=b""
    )  # the latest itself need not be listed
    assert [row.dose for row in view.doses] == [3, 2, 1]
    assert [row.certificate_id for row in view.doses] == ["3", "2", "1b"]
    assert [row.date for row in view.doses] == ["20 Jan 2022", "20 Aug 2021", "03 May 2021"]
    assert view.doses[0].fields() == {
        "dose": "3",
        "date": "20 Jan 2022",
        "vaccine": "COVISHIELD",
        "manufacturer": "Serum Institute of India",
        "batch": "4121Z025",
        "facility": "ABC Medical Center",
        "certificate_id": "3",
    }


def test_doses_table_ignores_test_certificates_and_keeps_unnumbered_doses_last() -> None:
    rows = dose_rows([make_test_credential(), make_credential(dose=""), make_credential(dose=1)])
    assert [row.dose for row in rows] == [1, None]


def test_lab_test_view() -> None:
    view = CertificateView.from_credentials(
        make_test_credential(), [make_credential()], qr_payload=b""
    )
    fields = view.fields()
    assert view.kind == "test"
    assert view.title_kind is None
    assert view.doses == ()
    assert view.vaccination is None
    assert fields["test_name"] == "Real Time PCR"
    assert fields["test_type"] == "RT-PCR"
    assert fields["disease"] == "COVID-19"
    assert fields["result"] == "Negative"
    assert fields["sample_collected"] == "01 Sep 2021, 05:30 UTC"
    assert fields["result_time"] == "02 Sep 2021, 10:15 UTC"
    assert fields["tester"] == "Dr. Asha Rao"
    assert fields["facility"] == "City Diagnostics Lab"
    assert fields["facility_address"] == "Pune"
    assert view.test is not None
    assert view.test.collected_at == datetime(2021, 9, 1, 5, 30, tzinfo=UTC)


def test_times_are_shown_in_the_requested_zone() -> None:
    view = CertificateView.from_credentials(make_test_credential(), [], qr_payload=b"", tz=IST)
    assert view.fields()["sample_collected"] == "01 Sep 2021, 11:00 IST"
    late = make_credential(date="2021-05-02T20:00:00.000Z")
    assert (
        CertificateView.from_credentials(late, [], qr_payload=b"", tz=IST).fields()[
            "vaccination_date"
        ]
        == "03 May 2021"
    )


@pytest.mark.parametrize(
    ("identity", "ref_id", "shown"),
    [
        ("did:in.gov.uidai.aadhaar:234234233334", "BEN1", "Aadhaar XXXXXXXX3334"),
        ("did:Passport:K1234567", "BEN1", "Passport XXXX4567"),
        ("did:in.gov.driverlicense:KA0120110012345", "BEN1", "Driving Licence XXXXXXXXXXX2345"),
        ("did:voterid:ABC1234567", "BEN1", "Voter ID XXXXXX4567"),
        ("did:divoc:BEN1", "BEN1", ""),  # DIVOC's fallback when no identity was given
        ("", "BEN1", ""),
        ("did:aadhaar:NA", "BEN1", ""),
        ("did:aadhaar:123", "BEN1", "Aadhaar XXX"),  # too short to show any digit
        ("234234233334", "BEN1", "XXXXXXXX3334"),
    ],
)
def test_identity_is_masked_to_its_last_four_characters(
    identity: str, ref_id: str, shown: str
) -> None:
    assert mask_identity(identity, ref_id) == shown


def test_dates_and_text_that_is_not_a_date() -> None:
    assert format_date("2021-08-28T11:35:43.776Z") == "28 Aug 2021"
    assert format_date("2021-08-28") == "28 Aug 2021"
    assert format_date("sometime") == "sometime"
    assert format_date(None) == ""
    assert format_timestamp("2021-08-28") == "28 Aug 2021"
    assert format_timestamp("2021-08-28T11:35:00+05:30", IST) == "28 Aug 2021, 11:35 IST"


def test_printed_dates_read_back_as_dates() -> None:
    # Pages show a view's dates in their reader's language: they read the printed date back.
    for text in ("2021-08-28T11:35:43.776Z", "2021-02-01", "2020-12-02T00:00:00Z"):
        printed = format_date(text)
        assert parse_printed_day(printed) == date.fromisoformat(text[:10])
    for text in ("sometime", "1968", "", "31 Feb 2021", "1 Dec 20", "02 Dez 2020"):
        assert parse_printed_day(text) is None


def test_addresses_skip_empty_and_repeated_parts() -> None:
    assert format_address(
        {"city": "Pune", "district": "Pune", "addressRegion": "", "postalCode": "411001"}
    ) == ("Pune, 411001")
    assert format_address("  as text ") == "as text"
    assert format_address(None) == ""


def test_numbers_from_credentials() -> None:
    assert parse_int(2) == 2
    assert parse_int(" 3 ") == 3
    assert parse_int(2.0) == 2
    assert parse_int("") is None
    assert parse_int(True) is None
    assert parse_int("two") is None


def test_malformed_credentials_give_empty_fields_not_errors() -> None:
    view = CertificateView.from_credentials({"evidence": "nonsense"}, [{}], qr_payload=b"")
    assert view.kind == "vaccination"
    assert view.fields()["name"] == ""
    assert view.title_kind is None


def test_module_imports_only_the_standard_library() -> None:
    tree = ast.parse(Path(certificate_view.__file__).read_text())
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}
