"""Our W3C Bitstring Status Lists (opt-in, ``status_list``): the index each new DIVOC
credential gets, and the signed ``BitstringStatusListCredential`` of each list.

Allocation (:mod:`.status_indexes`). A credential's index is drawn at random among a list's
free indexes and claimed by inserting its row; the next list opens once half of one is taken.

Publishing. A list's bits are its indexes whose certificate was revoked or superseded. Like
the other revocation lists, a list is rebuilt and signed again only when the count of
withdrawn certificates has grown since it was signed (one count per request, no list read).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from typing import Any, Final, Protocol

from certdist.domain.credential import js_iso
from certdist.domain.models import TEST, VACCINATION
from certdist.errors import NotFound
from certdist.formats import status_list as bsl
from certdist.services.common import Clock
from certdist.services.issuance.service import CredentialSigner
from certdist.services.issuance.status_indexes import IndexStore, ListUrls, claim_index
from certdist.storage.repository import CertificateRepository

#: The route of a list, under the public URL (``web/routes/trust.py``).
ROUTE: Final = "/trust/status/"
_KINDS: Final = (VACCINATION, TEST)


class StatusListStore(IndexStore, Protocol):
    """The ``status_list_entries`` table (``storage.status_lists``)."""

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
        self._urls = ListUrls(public_url, ROUTE)
        self._issuer = issuer
        self._size = size
        self._below = below
        self._signed: dict[int, tuple[int, bsl.StatusList, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        return self._size

    def url(self, list_id: int) -> str:
        return self._urls.url(list_id)

    def list_id_of(self, url: str) -> int | None:
        """The id of our list at ``url``, None when the URL is not one of our lists'."""
        return self._urls.list_id_of(url)

    # --- issuing ---------------------------------------------------------------------------

    def allocate(self, certificate_id: str) -> dict[str, Any]:
        """Claim a random free index for ``certificate_id``: its ``credentialStatus``."""
        list_id, index = claim_index(
            self._store, certificate_id, size=self._size, at=self._clock.now(), below=self._below
        )
        return bsl.status_entry(self.url(list_id), index)

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
