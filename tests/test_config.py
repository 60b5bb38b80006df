"""Settings: the deployment's display time zone."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from certdist.config import Settings


def test_moments_are_shown_in_india_unless_configured() -> None:
    assert Settings().site.time_zone == ZoneInfo("Asia/Kolkata")
    assert Settings(display_time_zone="Europe/Berlin").site.time_zone == ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize("zone", ["Mars/Olympus", "IST", "../etc/passwd", ""])
def test_an_unknown_time_zone_is_refused_by_name(zone: str) -> None:
    with pytest.raises(ValidationError, match="display_time_zone") as refused:
        Settings(display_time_zone=zone)
    assert "IANA time zone" in str(refused.value)
