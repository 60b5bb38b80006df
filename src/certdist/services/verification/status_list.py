"""The Bitstring Status List a DIVOC credential names in its ``credentialStatus``.

Our own lists (URLs under our public URL) are read from the database directly, as current as
the route serves them. Any other list is fetched from its URL (only once the credential's
signature held against a trusted key, so only lists a trusted issuer named), its proof
checked against the same trust store (https only in production), and kept for
``max_age_seconds`` (the freshness the
verifier states: a revocation shows within that time). After a failed fetch the URL is not
asked again for ``retry_seconds``; a list held from before is used meanwhile.

A list that cannot be had, read or trusted makes the outcome ``revocation-unknown``, never
``valid``: the issuer said where the credential's revocation is published.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from certdist.errors import (
    CertificateRevoked,
    MalformedCertificate,
    NotFound,
    RevocationUnknown,
    VerificationError,
)
from certdist.formats import status_list as bsl
from certdist.services.common import UNREADABLE, Fetch
from certdist.signing.contexts import ContextLoader
from certdist.signing.ldproof import verify_credential
from certdist.signing.trust import TrustStore

log = logging.getLogger(__name__)


class OwnStatusLists(Protocol):
    """Our lists (``services.issuance.StatusLists``)."""

    def list_id_of(self, url: str) -> int | None: ...
    def bits(self, list_id: int) -> bsl.StatusList: ...


@dataclass
class StatusListChecker:
    own: OwnStatusLists | None
    fetch: Fetch | None
    max_age_seconds: float = 300.0
    retry_seconds: float = 60.0
    https_only: bool = False
    monotonic: Callable[[], float] = time.monotonic
    _held: dict[tuple[str, str | None], tuple[float, bsl.StatusList]] = field(
        default_factory=dict, init=False
    )
    _failed_at: dict[tuple[str, str | None], float] = field(default_factory=dict, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def problem(
        self,
        url: str,
        index: int,
        issuer: str | None,
        *,
        trust: TrustStore,
        loader: ContextLoader,
    ) -> VerificationError | None:
        """Why the credential of ``issuer`` whose entry is ``index`` of ``url`` is not valid,
        if it is not."""
        bits = self._list(url, issuer, trust, loader)
        if bits is None:
            return RevocationUnknown("the issuer's status list could not be fetched or read")
        if index >= bits.size:
            return RevocationUnknown("the credential's statusListIndex is outside its list")
        if bits.get(index):
            return CertificateRevoked("the issuer revoked this certificate (status list)")
        return None

    def _list(
        self, url: str, issuer: str | None, trust: TrustStore, loader: ContextLoader
    ) -> bsl.StatusList | None:
        own_id = self.own.list_id_of(url) if self.own is not None else None
        if own_id is not None and self.own is not None:
            try:
                return self.own.bits(own_id)
            except NotFound:
                return None
        schemes = ("https://",) if self.https_only else ("https://", "http://")
        if self.fetch is None or not url.startswith(schemes):
            return None
        now = self.monotonic()
        key = (url, issuer)  # what a list was checked against is part of what is held
        with self._lock:
            held = self._held.get(key)
            if held is not None and now - held[0] < self.max_age_seconds:
                return held[1]
            failed = self._failed_at.get(key)
            if failed is not None and now - failed < self.retry_seconds:
                return None if held is None else held[1]
            fetched = self._fetch(url, issuer, trust, loader)
            if fetched is None:
                self._failed_at[key] = now
                return None if held is None else held[1]
            self._failed_at.pop(key, None)
            self._held[key] = (now, fetched)
            return fetched

    def _fetch(
        self, url: str, issuer: str | None, trust: TrustStore, loader: ContextLoader
    ) -> bsl.StatusList | None:
        assert self.fetch is not None
        try:
            document = json.loads(self.fetch(url))
            verify_credential(document, trust.credential_key, loader=loader)
            return bsl.read_list_credential(document, url=url, issuer=issuer)
        except (*UNREADABLE, VerificationError, MalformedCertificate) as error:
            log.warning(
                "could not use a status list", extra={"url": url, "error": type(error).__name__}
            )
            return None
