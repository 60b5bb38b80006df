"""Log set-up: what the service's log keeps and leaves out."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator

import pytest

from certdist.observability import (
    JsonFormatter,
    RequestIdFilter,
    TextFormatter,
    configure_logging,
    current_request_id,
)
from tests.support.log_hygiene import LogHygiene


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    plugins = logging.getLogger("alembic.runtime.plugins")
    plugins_level = plugins.level
    yield
    root.handlers[:], root.level = handlers, level
    plugins.setLevel(plugins_level)


@pytest.mark.usefixtures("restore_logging")
def test_alembic_plugin_announcements_stay_out_of_an_info_log() -> None:
    configure_logging("INFO")
    assert not logging.getLogger("alembic.runtime.plugins").isEnabledFor(logging.INFO)
    assert logging.getLogger("alembic.runtime.migration").isEnabledFor(logging.INFO)


@pytest.mark.usefixtures("restore_logging")
def test_a_debug_log_keeps_everything() -> None:
    configure_logging("DEBUG")
    assert logging.getLogger("alembic.runtime.plugins").isEnabledFor(logging.DEBUG)


def test_the_log_hygiene_check_finds_a_value_in_any_log_line(log_hygiene: LogHygiene) -> None:
    sentinel = f"Sentinel Person {uuid.uuid4().hex}"
    log_hygiene.watch(sentinel, "name")
    try:
        _probe().info("hello", extra={"who": sentinel})
        assert log_hygiene.leaks() == ["a name in 1 line(s) of certdist.somewhere"]
    finally:
        log_hygiene.forget(sentinel)  # the run itself must not fail for it
    assert log_hygiene.leaks() == []


def test_the_log_hygiene_check_matches_whole_values_only(log_hygiene: LogHygiene) -> None:
    code = "987123"
    log_hygiene.watch(code, "one-time code")
    try:
        _probe().info("id a987123f, 19871234, x")
        assert log_hygiene.leaks() == []
        _probe().warning("code %s", code)
        assert log_hygiene.leaks() == ["a one-time code in 1 line(s) of certdist.somewhere"]
    finally:
        log_hygiene.forget(code)


def test_a_plain_line_names_the_request_only_during_one() -> None:
    record = logging.LogRecord("certdist.x", logging.INFO, __file__, 1, "hello", (), None)
    RequestIdFilter().filter(record)
    assert TextFormatter().format(record).endswith(" INFO certdist.x: hello")
    bound = current_request_id.set("trace-7")
    try:
        during = logging.LogRecord("certdist.x", logging.INFO, __file__, 1, "hello", (), None)
        RequestIdFilter().filter(during)
    finally:
        current_request_id.reset(bound)
    assert TextFormatter().format(during).endswith(" INFO certdist.x: hello (request trace-7)")
    assert json.loads(JsonFormatter().format(during))["request_id"] == "trace-7"


def _probe() -> logging.Logger:
    # Its own level: whatever level an earlier test left on the root logger.
    logger = logging.getLogger("certdist.somewhere")
    logger.setLevel(logging.INFO)
    return logger
