"""The Bitstring Status List a DIVOC credential names in its ``credentialStatus``, and the
Token Status List an SD-JWT VC names in its ``status.status_list``.

Our own lists (URLs under our public URL) are read from the database directly, as current as
the route serves them. Any other list is fetched from its URL (only once the credential's
signature held against a trusted key, so only lists a trusted issuer named), its proof
checked against the same trust store (https only in production), and kept for
``max_age_seconds`` (the freshness the
verifier states: a revocation shows within that time). After a failed fetch the URL is not
asked again for ``retry_seconds``; a list held from before is used meanwhile.

A list that cannot be had, read or trusted makes the outcome ``revocation-unknown``, never
``valid``: the issuer said where the credential's revocation is published.

A Status List Token must be signed by a key trusted for the credential's issuer (the keys its
``kid`` names for that ``iss``), its ``sub`` must be the credential's ``uri``, and it must not
have expired (also while held); it is held for its ``ttl`` when that is shorter. INVALID (1)
is ``revoked``, SUSPENDED (2) too (not valid now); any other status is ``revocation-unknown``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar, cast

from certdist.errors import (
    CertificateRevoked,
    MalformedCertificate,
    NotFound,
    RevocationUnknown,
    VerificationError,
)
from certdist.formats import status_list as bsl
from certdist.formats import token_status_list as tsl
from certdist.services.common import UNREADABLE, Fetch
from certdist.signing.contexts import ContextLoader
from certdist.signing.ldproof import verify_credential
from certdist.signing.trust import TrustStore

log = logging.getLogger(__name__)
_T = TypeVar("_T")


class OwnStatusLists(Protocol):
    """Our lists (``services.issuance.StatusLists``)."""

    def list_id_of(self, url: str) -> int | None: ...
    def bits(self, list_id: int) -> bsl.StatusList: ...


class OwnTokenStatusLists(Protocol):
    """Our Token Status Lists (``services.issuance.TokenStatusLists``)."""

    def list_id_of(self, uri: str) -> int | None: ...
    def statuses(self, list_id: int) -> tsl.TokenStatusList: ...


@dataclass
class StatusListChecker:
    own: OwnStatusLists | None
    fetch: Fetch | None
    max_age_seconds: float = 300.0
    retry_seconds: float = 60.0
    https_only: bool = False
    monotonic: Callable[[], float] = time.monotonic
    own_tokens: OwnTokenStatusLists | None = None
    #: (kind, url, issuer) -> (when fetched, how long it may be held, what was read)
    _held: dict[tuple[str, str, str | None], tuple[float, float, Any]] = field(
        default_factory=dict, init=False
    )
    _failed_at: dict[tuple[str, str, str | None], float] = field(default_factory=dict, init=False)
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

        def read(body: bytes) -> tuple[bsl.StatusList, float]:
            document = json.loads(body)
            verify_credential(document, trust.credential_key, loader=loader)
            return bsl.read_list_credential(document, url=url, issuer=issuer), self.max_age_seconds

        return self._remote(("bitstring", url, issuer), read)

    def token_problem(
        self, uri: str, index: int, issuer: str, *, trust: TrustStore, now: datetime
    ) -> VerificationError | None:
        """Why the SD-JWT VC of ``issuer`` whose ``status.status_list`` is ``(uri, index)``
        is not valid at ``now``, if it is not."""
        statuses = self._token_list(uri, issuer, trust, now)
        if statuses is None:
            return RevocationUnknown("the issuer's token status list could not be fetched or read")
        if index >= statuses.size:
            return RevocationUnknown("the credential's status_list.idx is outside its list")
        status = statuses.get(index)
        if status == tsl.VALID:
            return None
        if status == tsl.INVALID:
            return CertificateRevoked("the issuer revoked this certificate (token status list)")
        if status == tsl.SUSPENDED:
            return CertificateRevoked("the issuer suspended this certificate (token status list)")
        return RevocationUnknown(f"the token status list gives the unknown status {status}")

    def _token_list(
        self, uri: str, issuer: str, trust: TrustStore, now: datetime
    ) -> tsl.TokenStatusList | None:
        own_id = self.own_tokens.list_id_of(uri) if self.own_tokens is not None else None
        if own_id is not None and self.own_tokens is not None:
            try:
                return self.own_tokens.statuses(own_id)
            except NotFound:
                return None

        def read(body: bytes) -> tuple[tsl.VerifiedStatusList, float]:
            verified = tsl.read_status_list_token(
                body.decode("ascii"),
                uri=uri,
                keys_for=lambda kid: trust.shc_keys(issuer, kid),
                issuer=issuer,
                now=now,
            )
            keep = min(self.max_age_seconds, verified.ttl_seconds or self.max_age_seconds)
            return verified, keep

        held = self._remote(("token", uri, issuer), read)
        if held is None or (held.expires_at is not None and now >= held.expires_at):
            return None  # an expired token says nothing, however long it may be kept
        return held.statuses

    def _remote(
        self, key: tuple[str, str, str | None], read: Callable[[bytes], tuple[_T, float]]
    ) -> _T | None:
        """What ``read`` made of the list at ``key``'s URL: held, or fetched now."""
        url = key[1]
        schemes = ("https://",) if self.https_only else ("https://", "http://")
        if self.fetch is None or not url.startswith(schemes):
            return None
        now = self.monotonic()
        # What a list was checked against (the issuer) is part of what is held.
        with self._lock:
            held = self._held.get(key)
            if held is not None and now - held[0] < held[1]:
                return cast(_T, held[2])
            failed = self._failed_at.get(key)
            if failed is not None and now - failed < self.retry_seconds:
                return None if held is None else cast(_T, held[2])
            fetched = self._fetch(url, read)
            if fetched is None:
                self._failed_at[key] = now
                return None if held is None else cast(_T, held[2])
            self._failed_at.pop(key, None)
            self._held[key] = (now, fetched[1], fetched[0])
            return fetched[0]

    def _fetch(
        self, url: str, read: Callable[[bytes], tuple[_T, float]]
    ) -> tuple[_T, float] | None:
        assert self.fetch is not None
        try:
            return read(self.fetch(url))
        except (*UNREADABLE, VerificationError, MalformedCertificate) as error:
            log.warning(
                "could not use a status list", extra={"url": url, "error": type(error).__name__}
            )
            return None
