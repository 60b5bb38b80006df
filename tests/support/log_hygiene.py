"""Log hygiene over the whole run: no log line may hold a name, a mobile number, a one-time
code or a token (docs/architecture.md, "Security rules").

A pytest plugin (``tests/conftest.py``). Every log record any logger writes during the run
is formatted as the service formats it (``JsonFormatter``) and kept; the personal values are
gathered where they enter the service during the tests: the name and mobile number of every
certificate issued, every one-time code put into an SMS, every token the local issuer mints.
At the end each process (each xdist worker on its own records) looks for them, and the run
fails naming the values' kind and the loggers; the values themselves are not printed.

The root logger is set to INFO, as the service runs, so that the lines checked are the
lines production writes. The ``log_hygiene`` fixture is the run's :class:`LogHygiene`.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from typing import Any

import pytest

from certdist.observability import JsonFormatter
from certdist.services.access import LocalTokenIssuer
from certdist.services.issuance import IssuanceService
from certdist.services.messaging import OtpTexts

# The test's own HTTP client logs the raw URLs it requests; the service never sees them.
_CLIENT_LOGGERS = ("httpx", "httpcore")
# Shorter values (a fuzzer's one-letter names) would be found in any text.
_SHORTEST = 6
_OUTPUT_KEY = "certdist_log_leaks"


class LogHygiene:
    """The records written during the run and the values none of them may contain."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lines: list[tuple[str, str]] = []  # (logger, formatted record)
        self._values: dict[str, str] = {}  # value -> its kind
        self._formatter = JsonFormatter()

    def watch(self, value: str | None, kind: str) -> None:
        if value and len(value.strip()) >= _SHORTEST:
            with self._lock:
                self._values[value.strip()] = kind

    def forget(self, value: str) -> None:
        with self._lock:
            self._values.pop(value, None)

    def record(self, record: logging.LogRecord) -> None:
        if record.name.startswith(_CLIENT_LOGGERS):
            return
        try:
            line = self._formatter.format(record)
        except Exception as exc:  # a record that cannot be formatted is a finding too
            line = f"unformattable record {record.msg!r}: {exc}"
        with self._lock:
            self._lines.append((record.name, line))

    def leaks(self) -> list[str]:
        """One entry per value found: its kind, the loggers that wrote it, how often."""
        with self._lock:
            values, lines = dict(self._values), list(self._lines)
        found = []
        for value, kind in values.items():
            # Whole values only: a code's digits inside a longer number are not the code.
            pattern = re.compile(rf"(?<![0-9A-Za-z]){re.escape(value)}(?![0-9A-Za-z])")
            loggers = sorted({name for name, line in lines if pattern.search(line)})
            if loggers:
                hits = sum(1 for _, line in lines if pattern.search(line))
                found.append(f"a {kind} in {hits} line(s) of {', '.join(loggers)}")
        return found


_HYGIENE = LogHygiene()


@pytest.fixture(scope="session")
def log_hygiene() -> LogHygiene:
    return _HYGIENE


def _after(cls: type, name: str, collect: Callable[[Any, tuple[Any, ...], Any], None]) -> None:
    """Wrap ``cls.name`` so that ``collect(self, args, result)`` sees each call."""
    original = getattr(cls, name)

    def wrapped(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        collect(self, args, result)
        return result

    setattr(cls, name, wrapped)


def _watch_certificate(_: Any, __: tuple[Any, ...], record: Any) -> None:
    _HYGIENE.watch(record.name, "name")
    if record.mobile:
        _HYGIENE.watch(record.mobile, "mobile number")
        _HYGIENE.watch(record.mobile[-10:], "mobile number")  # as typed, without +91


def pytest_configure(config: pytest.Config) -> None:
    original = logging.Logger.callHandlers

    def call_handlers(self: logging.Logger, record: logging.LogRecord) -> None:
        _HYGIENE.record(record)
        original(self, record)

    logging.Logger.callHandlers = call_handlers  # type: ignore[method-assign]
    _at_info()
    _after(IssuanceService, "_record", _watch_certificate)
    _after(OtpTexts, "render", lambda _, args, __: _HYGIENE.watch(args[0], "one-time code"))
    _after(LocalTokenIssuer, "mint", lambda _, __, token: _HYGIENE.watch(token, "token"))


def pytest_runtest_setup(item: pytest.Item) -> None:
    # Commands under test configure logging for their process (the CLI tests set WARNING or
    # ERROR on the root logger); the next test is checked at INFO again.
    del item
    _at_info()


def _at_info() -> None:
    root = logging.getLogger()
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)


def pytest_sessionfinish(session: pytest.Session) -> None:
    leaks = _HYGIENE.leaks()
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput[_OUTPUT_KEY] = leaks  # an xdist worker: the controller fails the run
        return
    leaks += _FROM_WORKERS
    if not leaks:
        return
    message = "personal data in the log: " + "; ".join(leaks)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.ensure_newline()
        reporter.write_line(message, red=True, bold=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


_FROM_WORKERS: list[str] = []


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """xdist's controller: what each worker found in its own records."""
    found = getattr(node, "workeroutput", {}).get(_OUTPUT_KEY, [])
    _FROM_WORKERS.extend(f"worker {node.gateway.id}: {leak}" for leak in found)
