"""Settings: the deployment's display time zone; tracing."""

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


def test_tracing_is_off_unless_the_environment_turns_it_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().tracing.enabled is False
    monkeypatch.setenv("CERTDIST_TRACING__ENABLED", "true")
    monkeypatch.setenv("CERTDIST_TRACING__EXPORTER", "console")
    monkeypatch.setenv("CERTDIST_TRACING__SAMPLE_RATIO", "0.25")
    tracing = Settings().tracing
    assert (tracing.enabled, tracing.exporter, tracing.sample_ratio) == (True, "console", 0.25)
    assert (tracing.endpoint, tracing.service_name) == (None, "certdist")


@pytest.mark.parametrize(
    ("field", "value"),
    [("exporter", "jaeger"), ("sample_ratio", 1.5), ("endpoint", "collector:4318")],
)
def test_a_wrong_tracing_setting_is_refused_by_name(field: str, value: object) -> None:
    with pytest.raises(ValidationError, match=f"tracing.{field}"):
        Settings(tracing={"enabled": True, field: value})
