"""Mechanisms every capability shares: the clock, keyed hashing, rate limits, record ids,
fetching remote key sets, and the :class:`Infrastructure` they are all built on."""

from certdist.services.common.clock import Clock, SystemClock
from certdist.services.common.hashing import KeyedHasher
from certdist.services.common.ids import new_record_id
from certdist.services.common.infrastructure import Infrastructure
from certdist.services.common.ratelimit import RateLimiter
from certdist.services.common.remote_keys import UNREADABLE, Fetch, RemoteKeySet, http_fetcher

__all__ = [
    "UNREADABLE",
    "Clock",
    "Fetch",
    "Infrastructure",
    "KeyedHasher",
    "RateLimiter",
    "RemoteKeySet",
    "SystemClock",
    "http_fetcher",
    "new_record_id",
]
