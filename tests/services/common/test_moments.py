"""Dates and moments in the reader's language and the deployment's time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from certdist.services.common import format_day, format_moment

KOLKATA = ZoneInfo("Asia/Kolkata")
MOMENT = datetime(2026, 12, 6, 20, 5, tzinfo=UTC)  # 01:35 on 7 December in India


def spaced(text: str) -> str:
    """CLDR puts narrow no-break spaces before "PM" (since version 42): any space will do."""
    return " ".join(text.replace("\u202f", " ").replace("\xa0", " ").split())


def test_a_moment_is_told_in_the_zone_and_names_it() -> None:
    assert spaced(format_moment(MOMENT, "hi", KOLKATA)) == "7 दिस॰ 2026, 1:35 am IST"
    assert spaced(format_moment(MOMENT, "en", UTC)) == "Dec 6, 2026, 8:05 PM UTC"


def test_a_naive_moment_is_utc_as_the_database_hands_it_back() -> None:
    naive = MOMENT.replace(tzinfo=None)
    assert format_moment(naive, "en", KOLKATA) == format_moment(MOMENT, "en", KOLKATA)


def test_an_unknown_language_falls_back_to_english() -> None:
    assert format_moment(MOMENT, "xx-unknown", UTC) == format_moment(MOMENT, "en", UTC)


@pytest.mark.parametrize(
    ("value", "language", "shown"),
    [
        (date(1968, 3, 4), "hi", "4 मार्च 1968"),
        ("1968-03-04", "en", "Mar 4, 1968"),
        ("2021-05-01T10:00:00.000Z", "en", "May 1, 2021"),  # a moment: its date is meant
        ("1968", "hi", "1968"),  # partial dates are never completed into a day
        ("not a date", "en", "not a date"),
        (None, "en", ""),
    ],
)
def test_days(value: date | str | None, language: str, shown: str) -> None:
    assert format_day(value, language) == shown
