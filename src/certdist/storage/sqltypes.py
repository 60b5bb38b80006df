"""Column types that behave the same on SQLite and PostgreSQL.

SQLite has no timezone-aware timestamp and no JSON column we want to rely on, so the two
types here hide those differences: callers always hand in and get back aware UTC datetimes
and plain JSON values, whichever database is underneath.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect, Text
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """An instant in time, always returned as an aware UTC ``datetime``.

    PostgreSQL stores ``timestamptz``; SQLite stores the naive UTC wall time as text (its
    fixed-width format sorts correctly). Naive values are refused rather than guessed at,
    because a naive local time silently stored as UTC is a bug no test would notice.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime given; certdist stores only timezone-aware times")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class JSONText(TypeDecorator[Any]):
    """A JSON value kept as plain text.

    Used for small structured side data (contacts, meta, row errors). Text rather than JSON or
    JSONB keeps the column identical on both databases and never reorders what was written.
    """

    impl = Text()
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return json.loads(value)
