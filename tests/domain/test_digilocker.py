"""DigiLocker request rules: lenient name matching, dates of birth, timestamps."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from certdist.domain.digilocker import (
    document_uri,
    format_dob,
    names_match,
    parse_dob,
    parse_timestamp,
    within_skew,
)


@pytest.mark.parametrize(
    "presented",
    [
        "Asha Devi",
        "asha devi",
        "  ASHA   DEVI ",
        "Devi, Asha",
        "devi asha",
        "A. Devi",
        "A Devi",
        "Asha D.",
        "Asha-Devi",
    ],
)
def test_names_match_leniently(presented: str) -> None:
    assert names_match("Asha Devi", presented)


@pytest.mark.parametrize(
    "presented", ["Asha", "Asha Devi Rao", "Usha Devi", "B. Devi", "", "Ash Devi", "..."]
)
def test_names_that_differ_do_not_match(presented: str) -> None:
    assert not names_match("Asha Devi", presented)


def test_accents_on_latin_letters_are_ignored_but_indic_vowel_signs_count() -> None:
    assert names_match("José Álvarez", "jose alvarez")
    assert names_match("प्रिया शर्मा", "शर्मा प्रिया")
    assert not names_match("प्रिया शर्मा", "प्रय शर्मा")


def test_initials_written_together_pair_with_words() -> None:
    assert names_match("Anil Kumar Sharma", "A.K. Sharma")
    assert not names_match("Anil Kumar Sharma", "A.B. Sharma")


@pytest.mark.parametrize("text", ["14-03-1968", "1968-03-14", "14/03/1968", " 14-03-1968 "])
def test_dates_of_birth_in_digilocker_and_iso_forms(text: str) -> None:
    assert parse_dob(text) == date(1968, 3, 14)


@pytest.mark.parametrize("text", ["", "31-02-1990", "1968", "03-14-1968x"])
def test_unreadable_dates_of_birth(text: str) -> None:
    assert parse_dob(text) is None


def test_dob_is_written_as_digilocker_writes_it() -> None:
    assert format_dob(date(1990, 12, 31)) == "31-12-1990"


def test_timestamps_with_and_without_an_offset() -> None:
    assert parse_timestamp("2016-01-11T14:44:48+05:30", 0) == datetime(
        2016, 1, 11, 9, 14, 48, tzinfo=UTC
    )
    assert parse_timestamp("2016-01-11T14:44:48", 330) == datetime(
        2016, 1, 11, 9, 14, 48, tzinfo=UTC
    )
    assert parse_timestamp("yesterday", 0) is None


def test_skew_window_is_symmetric() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert within_skew(now - timedelta(minutes=15), now, 900)
    assert within_skew(now + timedelta(minutes=15), now, 900)
    assert not within_skew(now - timedelta(minutes=15, seconds=1), now, 900)
    assert not within_skew(now + timedelta(minutes=16), now, 900)


def test_document_uri_layout() -> None:
    assert document_uri("in.gov.covin", "VACER", "123456") == "in.gov.covin-VACER-123456"
