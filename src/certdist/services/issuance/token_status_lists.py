"""Our Token Status Lists (IETF OAuth Status List) for SD-JWT VCs: the index of each issued
copy and the signed Status List Token of each list, served at ``/trust/token-status/<id>``.

Allocation (:mod:`.status_indexes`, table ``token_status_entries``): one index per copy, so
the copies of a batch, each presented once, cannot be linked by their ``status``; drawn at
random among the free ones (an index says nothing about the order of issuance), never reused.

Size: :data:`SIZE` = 2^17 entries per list. The specification leaves the size to the issuer
and asks for a large crowd (herd privacy: a reader of the list learns nothing of which entry
was looked up); 131,072 is the crowd the W3C lists require, and it stays small to fetch: 16
KiB before compression, a few hundred bytes while few entries are withdrawn. A list opens
its successor once half of it is taken, so every list keeps at least 65,536 copies.

Publishing. The INVALID (1) bits are the indexes whose certificate was revoked or superseded.
A token is signed again only when the count of withdrawn certificates changed (one count per
request) or when less than :data:`RENEW_BEFORE` of its life is left; it says ``ttl`` 300 s,
the ``max-age`` of the route.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Protocol

from cryptography.hazmat.primitives.asymmetric import ec

from certdist.domain.models import TEST, VACCINATION
from certdist.errors import NotFound
from certdist.formats import token_status_list as tsl
from certdist.formats.sd_jwt_vc import StatusReference
from certdist.services.common import Clock
from certdist.services.issuance.status_indexes import IndexStore, ListUrls, claim_index
from certdist.storage.repository import CertificateRepository

#: The route of a list, under the public URL (``web/routes/trust.py``).
ROUTE: Final = "/trust/token-status/"
SIZE: Final = 2**17
#: How long a token is valid (``exp`` - ``iat``), and how much of that is left when it is
#: signed again: a reader that keeps it ``ttl`` never holds an expired one.
VALIDITY: Final = timedelta(days=1)
RENEW_BEFORE: Final = timedelta(hours=12)
TTL_SECONDS: Final = 300
_KINDS: Final = (VACCINATION, TEST)


class TokenStatusStore(IndexStore, Protocol):
    """The ``token_status_entries`` table (``storage.status_lists``)."""

    def exists(self, list_id: int) -> bool: ...
    def withdrawn_indexes(self, list_id: int) -> list[int]: ...


@dataclass(frozen=True)
class _Signed:
    withdrawn: int
    statuses: tsl.TokenStatusList
    token: str
    renew_at: datetime


class TokenStatusLists:
    """``key``: the SD-JWT VC issuer key (P-256), ``issuer`` its ``iss`` (the public URL)."""

    def __init__(
        self,
        store: TokenStatusStore,
        certificates: CertificateRepository,
        key: ec.EllipticCurvePrivateKey,
        clock: Clock,
        *,
        public_url: str,
        size: int = SIZE,
        below: Callable[[int], int] = secrets.randbelow,
    ) -> None:
        tsl.TokenStatusList(size)  # ValueError now for a size that is no whole byte count
        self._store = store
        self._certificates = certificates
        self._key = key
        self._clock = clock
        self._issuer = public_url.rstrip("/")
        self._urls = ListUrls(public_url, ROUTE)
        self._size = size
        self._below = below
        self._signed: dict[int, _Signed] = {}
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        return self._size

    def uri(self, list_id: int) -> str:
        return self._urls.url(list_id)

    def list_id_of(self, uri: str) -> int | None:
        """The id of our list at ``uri``, None when it is not one of our lists'."""
        return self._urls.list_id_of(uri)

    def allocate(self, certificate_id: str) -> StatusReference:
        """A fresh random index for one copy of ``certificate_id``'s SD-JWT VC: call it once
        per copy (the copies of a batch each need their own)."""
        list_id, index = claim_index(
            self._store, certificate_id, size=self._size, at=self._clock.now(), below=self._below
        )
        return StatusReference(uri=self.uri(list_id), idx=index)

    def statuses(self, list_id: int) -> tsl.TokenStatusList:
        """The list's current statuses (``NotFound`` for a list that holds no copy)."""
        return self._current(list_id).statuses

    def token(self, list_id: int) -> str:
        """The signed Status List Token (``NotFound`` for a list that holds no copy)."""
        return self._current(list_id).token

    def _current(self, list_id: int) -> _Signed:
        total = sum(self._certificates.withdrawn(kind, limit=0).total for kind in _KINDS)
        now = self._clock.now()
        with self._lock:
            held = self._signed.get(list_id)
        if held is not None and held.withdrawn == total and now < held.renew_at:
            return held
        if held is None and not self._store.exists(list_id):
            raise NotFound(f"no token status list {list_id}")
        statuses = tsl.TokenStatusList.of(self._store.withdrawn_indexes(list_id), self._size)
        expires = now + VALIDITY
        token = tsl.status_list_token(
            self.uri(list_id),
            statuses,
            self._key,
            issuer=self._issuer,
            issued_at=now,
            expires_at=expires,
            ttl_seconds=TTL_SECONDS,
        )
        built = _Signed(total, statuses, token, expires - RENEW_BEFORE)
        with self._lock:
            self._signed[list_id] = built
        return built
