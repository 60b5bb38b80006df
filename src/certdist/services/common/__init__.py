"""Mechanisms every capability shares: the clock, keyed hashing, rate limits, metrics, record ids,
dates in a reader's language and time zone, fetching remote key sets, and the
:class:`Infrastructure` they are all built on."""

from certdist.services.common.clock import Clock, SystemClock
from certdist.services.common.hashing import KeyedHasher, sd_jwt_rid_seal
from certdist.services.common.ids import new_record_id
from certdist.services.common.infrastructure import Infrastructure
from certdist.services.common.job_runner import JobRunner, RunsJobs, new_worker_id
from certdist.services.common.metrics import (
    CONTENT_TYPE,
    NO_METRICS,
    Metrics,
    NoMetrics,
    PrometheusMetrics,
    Reading,
)
from certdist.services.common.moments import format_day, format_moment
from certdist.services.common.ratelimit import RateLimiter
from certdist.services.common.remote_keys import UNREADABLE, Fetch, RemoteKeySet, http_fetcher

__all__ = [
    "CONTENT_TYPE",
    "NO_METRICS",
    "UNREADABLE",
    "Clock",
    "Fetch",
    "Infrastructure",
    "JobRunner",
    "KeyedHasher",
    "Metrics",
    "NoMetrics",
    "PrometheusMetrics",
    "RateLimiter",
    "Reading",
    "RemoteKeySet",
    "RunsJobs",
    "SystemClock",
    "format_day",
    "format_moment",
    "http_fetcher",
    "new_record_id",
    "new_worker_id",
    "sd_jwt_rid_seal",
]
