"""What every capability is built on: opened once per process by :mod:`certdist.wiring` and
handed to each capability's ``wire()``."""

from __future__ import annotations

from dataclasses import dataclass

from certdist.config import SiteSection
from certdist.services.common.clock import Clock
from certdist.services.common.hashing import KeyedHasher
from certdist.services.common.metrics import Metrics
from certdist.services.common.ratelimit import RateLimiter
from certdist.signing.keys import KeyStore
from certdist.storage.database import Database
from certdist.storage.state import SharedState


@dataclass(frozen=True)
class Infrastructure:
    site: SiteSection
    clock: Clock
    database: Database
    state: SharedState  # OTP codes, sessions, rate-limit counters: Redis or the database
    rate_limiter: RateLimiter
    hasher: KeyedHasher  # keyed hashes of phone numbers, tokens, ids
    keys: KeyStore
    metrics: Metrics  # counters for GET /metrics; each capability hands it to its services
