"""Our W3C Bitstring Status Lists (opt-in, ``status_list``): the index each new DIVOC
credential gets, and the signed ``BitstringStatusListCredential`` of each list.

Allocation. A credential's index is drawn at random among a list's free indexes, so it says
nothing about when the credential was issued, and it is claimed by inserting its row (the
table's primary key decides between concurrent issuers; a loser draws again). Nothing is
ever deleted, so no index is given twice. The newest list takes new credentials until
:data:`FILL` of it is taken, then the next list opens; past that point random draws would
collide more often than not, and the list is already a large crowd.

Publishing. A list's bits are its indexes whose certificate was revoked or superseded. Like
the other revocation lists, a list is rebuilt and signed again only when the count of
withdrawn certificates has grown since it was signed (one count per request, no list read).
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final, Protocol

from certdist.domain.credential import js_iso
from certdist.domain.models import TEST, VACCINATION
from certdist.errors import Conflict, NotFound
from certdist.formats import status_list as bsl
from certdist.services.common import Clock
from certdist.services.issuance.service import CredentialSigner
from certdist.storage.repository import CertificateRepository

log = logging.getLogger(__name__)

#: The route of a list, under the public URL (``web/routes/trust.py``).
ROUTE: Final = "/trust/status/"
#: A list takes new credentials until this share of its indexes is taken.
FILL: Final = 0.5
#: Random draws (each one insert) before the free indexes of the list are read.
_DRAWS: Final = 32
_KINDS: Final = (VACCINATION, TEST)


class StatusListStore(Protocol):
    """The ``status_list_entries`` table (``storage.status_lists``)."""

    def newest_list(self) -> tuple[int, int] | None: ...
    def claim(self, list_id: int, index: int, certificate_id: str, *, at: datetime) -> bool: ...
    def taken(self, list_id: int) -> set[int]: ...
    def exists(self, list_id: int) -> bool: ...
    def withdrawn_indexes(self, list_id: int) -> list[int]: ...


class StatusLists:
    def __init__(
        self,
        store: StatusListStore,
        certificates: CertificateRepository,
        signer: CredentialSigner,
        clock: Clock,
        *,
        public_url: str,
        issuer: str,
        size: int = bsl.MIN_ENTRIES,
        below: Callable[[int], int] = secrets.randbelow,
    ) -> None:
        bsl.StatusList(size)  # ValueError now for a size the specification refuses
        self._store = store
        self._certificates = certificates
        self._signer = signer
        self._clock = clock
        self._base = public_url.rstrip("/") + ROUTE
        self._issuer = issuer
        self._size = size
        self._below = below
        self._signed: dict[int, tuple[int, bsl.StatusList, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        return self._size

    def url(self, list_id: int) -> str:
        return f"{self._base}{list_id}"

    def list_id_of(self, url: str) -> int | None:
        """The id of our list at ``url``, None when the URL is not one of our lists'."""
        if not url.startswith(self._base):
            return None
        tail = url[len(self._base) :]
        return int(tail) if tail.isascii() and tail.isdigit() and len(tail) < 10 else None

    # --- issuing ---------------------------------------------------------------------------

    def allocate(self, certificate_id: str) -> dict[str, Any]:
        """Claim a random free index for ``certificate_id``: its ``credentialStatus``."""
        newest = self._store.newest_list()
        list_id, taken = newest if newest is not None else (1, 0)
        if taken >= FILL * self._size:
            list_id += 1
        for candidate in (list_id, list_id + 1):
            index = self._claim(candidate, certificate_id)
            if index is not None:
                return bsl.status_entry(self.url(candidate), index)
        raise Conflict("could not allocate a status list index; retry the request")

    def _claim(self, list_id: int, certificate_id: str) -> int | None:
        now = self._clock.now()
        for _ in range(_DRAWS):
            index = self._below(self._size)
            if self._store.claim(list_id, index, certificate_id, at=now):
                return index
        # Unlucky draws, or a list that concurrent issuers filled: pick among the free ones.
        log.warning("status list nearly full, reading its free indexes", extra={"list": list_id})
        for _ in range(_DRAWS):
            try:
                index = bsl.allocate_index(
                    self._store.taken(list_id), self._size, below=self._below
                )
            except ValueError:
                return None  # full: the next list
            if self._store.claim(list_id, index, certificate_id, at=now):
                return index
        return None

    # --- publishing ------------------------------------------------------------------------

    def bits(self, list_id: int) -> bsl.StatusList:
        """The list's current bits (``NotFound`` for a list that holds no credential)."""
        return self._current(list_id)[1]

    def credential(self, list_id: int) -> dict[str, Any]:
        """The signed ``BitstringStatusListCredential`` of the list (``NotFound`` for a list
        that holds no credential)."""
        return self._current(list_id)[2]

    def _current(self, list_id: int) -> tuple[int, bsl.StatusList, dict[str, Any]]:
        total = sum(self._certificates.withdrawn(kind, limit=0).total for kind in _KINDS)
        with self._lock:
            held = self._signed.get(list_id)
        if held is not None and held[0] == total:
            return held
        if held is None and not self._store.exists(list_id):
            raise NotFound(f"no status list {list_id}")
        bits = bsl.StatusList.of(self._store.withdrawn_indexes(list_id), self._size)
        now = self._clock.now()
        unsigned = bsl.status_list_credential(
            self.url(list_id), bits, issuer=self._issuer, issued_at=js_iso(now)
        )
        built = (total, bits, self._signer.sign(unsigned, created=now))
        with self._lock:
            self._signed[list_id] = built
        return built
