"""What the service counts, for ``GET /metrics`` (docs/operations.md, "Observability").

Capabilities receive a :class:`Metrics` through their constructors: the Prometheus one in a
server, :data:`NO_METRICS` where nothing is exposed (most tests, one-shot CLI commands).
Gauges that describe shared state (the outbox, the database pool) are not kept here: they are
read when a scrape asks for them (:class:`Reading`), so every worker process answers alike.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

# Request durations: from a repeat download answered from memory (~0.2 ms of server CPU) to a
# large PDF batch; Prometheus' defaults start at 5 ms and would put most requests in one bucket.
DURATION_BUCKETS = (
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True)
class Reading:
    """A gauge read at scrape time. ``labels``: (name, value) pairs."""

    name: str
    help: str
    value: float
    labels: tuple[tuple[str, str], ...] = ()


class Metrics(Protocol):
    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        """One HTTP request answered (``route``: the template, never the raw path)."""

    def certificates_issued(self, entity_type: str, count: int) -> None: ...

    def document_delivered(self, format_name: str) -> None: ...

    def otp_sent(self) -> None: ...

    def otp_failed(self, reason: str) -> None:
        """``reason``: ``wrong_code`` (a refused guess) or ``not_delivered`` (the SMS)."""

    def otp_locked_out(self, action: str) -> None:
        """A rate limit refused an OTP ``action`` (``send`` or ``guess``)."""

    def replica_fallback(self) -> None:
        """A read meant for a replica went to the primary (storage/replica.py)."""

    def exposition(self, readings: Sequence[Reading]) -> bytes:
        """The text format: every counter (all worker processes summed) and ``readings``."""


class NoMetrics:
    """Counts nothing: for processes that expose no metrics."""

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        pass

    def certificates_issued(self, entity_type: str, count: int) -> None:
        pass

    def document_delivered(self, format_name: str) -> None:
        pass

    def otp_sent(self) -> None:
        pass

    def otp_failed(self, reason: str) -> None:
        pass

    def otp_locked_out(self, action: str) -> None:
        pass

    def replica_fallback(self) -> None:
        pass

    def exposition(self, readings: Sequence[Reading]) -> bytes:
        return b""


NO_METRICS: Metrics = NoMetrics()


class PrometheusMetrics:
    """prometheus-client's counters in a registry of their own (several applications may
    live in one test process). ``multiprocess_dir``: the folder the worker processes of one
    server share (``config.prepare_metrics_dir``); a scrape then sums every process's files.
    """

    def __init__(self, multiprocess_dir: Path | None = None) -> None:
        # Imported here: a CLI command that exposes nothing does not load the library.
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self._dir = multiprocess_dir
        self._registry = CollectorRegistry(auto_describe=False)
        registry = self._registry
        self._requests = Counter(
            "certdist_http_requests",
            "HTTP requests answered, by route template, method and status",
            ["route", "method", "status"],
            registry=registry,
        )
        self._durations = Histogram(
            "certdist_http_request_duration_seconds",
            "Time from a request's arrival to the end of its answer",
            ["route", "method"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self._issued = Counter(
            "certdist_certificates_issued",
            "Certificates signed and stored (corrections included), by entity type",
            ["entity_type"],
            registry=registry,
        )
        self._downloads = Counter(
            "certdist_downloads",
            "Certificate documents delivered, by format",
            ["format"],
            registry=registry,
        )
        self._otp_sends = Counter(
            "certdist_otp_sends", "One-time codes handed to the SMS sender", registry=registry
        )
        self._otp_failures = Counter(
            "certdist_otp_failures",
            "Refused one-time code guesses and undelivered codes",
            ["reason"],
            registry=registry,
        )
        self._otp_lockouts = Counter(
            "certdist_otp_lockouts",
            "One-time code sends and guesses refused by a rate limit",
            ["action"],
            registry=registry,
        )
        self._fallbacks = Counter(
            "certdist_replica_fallbacks",
            "Reads meant for a replica answered by the primary",
            registry=registry,
        )
        # Series with no label exist from the start; these are shown at 0 too, since an
        # absent series cannot be told from a broken exporter.
        self._fallbacks.inc(0)
        self._otp_sends.inc(0)
        # The label children of each request, so that the hot path is two dict lookups
        # away from the increments instead of a ``labels()`` call (lock, tuple, dict) each.
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            children = (
                self._requests.labels(route, method, str(status)),
                self._durations.labels(route, method),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def certificates_issued(self, entity_type: str, count: int) -> None:
        self._issued.labels(entity_type).inc(count)

    def document_delivered(self, format_name: str) -> None:
        self._downloads.labels(format_name).inc()

    def otp_sent(self) -> None:
        self._otp_sends.inc()

    def otp_failed(self, reason: str) -> None:
        self._otp_failures.labels(reason).inc()

    def otp_locked_out(self, action: str) -> None:
        self._otp_lockouts.labels(action).inc()

    def replica_fallback(self) -> None:
        self._fallbacks.inc()

    def exposition(self, readings: Sequence[Reading]) -> bytes:
        from prometheus_client import CollectorRegistry, generate_latest

        scrape = CollectorRegistry(auto_describe=False)
        scrape.register(_ReadingsCollector(readings))
        if self._dir is None:
            return generate_latest(self._registry) + generate_latest(scrape)
        from prometheus_client.multiprocess import MultiProcessCollector

        MultiProcessCollector(scrape, path=str(self._dir))  # type: ignore[no-untyped-call]
        return generate_latest(scrape)


class _ReadingsCollector:
    """The scrape's gauges, as prometheus-client collects them."""

    def __init__(self, readings: Sequence[Reading]) -> None:
        self._readings = readings

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        families: dict[str, GaugeMetricFamily] = {}
        for reading in self._readings:
            family = families.get(reading.name)
            if family is None:
                names = [name for name, _ in reading.labels]
                family = GaugeMetricFamily(reading.name, reading.help, labels=names)
                families[reading.name] = family
            family.add_metric([value for _, value in reading.labels], reading.value)
        yield from families.values()
