"""Log set-up: what the service's log keeps and leaves out."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from certdist.observability import configure_logging


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
