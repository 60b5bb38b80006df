"""Dates and moments as a person reads them: in their language (Babel's CLDR data, so Hindi
gets Hindi month names) and, for moments, in the deployment's time zone with its name shown.

Pages show a moment this way first; ``static/local-time.js`` then rewrites it in the
browser's own time zone. E-mails and pages without JavaScript keep the deployment's.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from functools import cache

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time


@cache
def _locale(code: str) -> Locale:
    try:
        return Locale.parse(code, sep="-")
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en")


def format_moment(moment: datetime, language: str, zone: tzinfo) -> str:
    """``6 Dec 2026, 3:35 pm IST`` (in ``language``) for an aware ``moment``; a naive one is
    taken as UTC, which is how the database hands them back."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(zone)
    locale = _locale(language)
    day = format_date(local, "medium", locale=locale)
    clock = format_time(local, "short", locale=locale)
    zone_name = format_time(local, "z", locale=locale)
    joined: str = locale.datetime_formats["medium"].format(clock, day)
    return f"{joined} {zone_name}"


def format_day(day: date | str | None, language: str) -> str:
    """A calendar date (``4 Mar 1968``) in ``language``. ISO text (``1968-03-04``, or a
    moment, whose date part is meant) is parsed; anything else is shown as it is, since a
    certificate may carry a partial date (``1968``) that must not be invented into a day."""
    if day is None:
        return ""
    if isinstance(day, str):
        parsed = _iso_day(day)
        if parsed is None:
            return day
        day = parsed
    return format_date(day, "medium", locale=_locale(language))


def _iso_day(text: str) -> date | None:
    try:
        return date.fromisoformat(text[:10]) if len(text) >= 10 else None
    except ValueError:
        return None
