"""Random status list indexes, shared by the W3C Bitstring Status Lists and the Token Status
Lists: an index is drawn at random among a list's free ones, so it says nothing about when
its credential was issued, and it is claimed by inserting its row (the table's primary key
decides between concurrent issuers; a loser draws again). Nothing is ever deleted, so no
index is given twice. The newest list takes new entries until :data:`FILL` of it is taken,
then the next list opens; past that point random draws would collide more often than not,
and the list is already a large crowd.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Final, Protocol

from certdist.errors import Conflict
from certdist.formats import status_list as bsl

log = logging.getLogger(__name__)

#: A list takes new entries until this share of its indexes is taken.
FILL: Final = 0.5
#: Random draws (each one insert) before the free indexes of the list are read.
_DRAWS: Final = 32


class IndexStore(Protocol):
    """A table of claimed ``(list_id, index)`` pairs (``storage.status_lists``)."""

    def newest_list(self) -> tuple[int, int] | None: ...
    def claim(self, list_id: int, index: int, certificate_id: str, *, at: datetime) -> bool: ...
    def taken(self, list_id: int) -> set[int]: ...


def claim_index(
    store: IndexStore,
    certificate_id: str,
    *,
    size: int,
    at: datetime,
    below: Callable[[int], int],
) -> tuple[int, int]:
    """Claim a random free ``(list_id, index)`` for ``certificate_id`` in lists of ``size``."""
    newest = store.newest_list()
    list_id, taken = newest if newest is not None else (1, 0)
    if taken >= FILL * size:
        list_id += 1
    for candidate in (list_id, list_id + 1):
        index = _claim(store, candidate, certificate_id, size=size, at=at, below=below)
        if index is not None:
            return candidate, index
    raise Conflict("could not allocate a status list index; retry the request")


def _claim(
    store: IndexStore,
    list_id: int,
    certificate_id: str,
    *,
    size: int,
    at: datetime,
    below: Callable[[int], int],
) -> int | None:
    for _ in range(_DRAWS):
        index = below(size)
        if store.claim(list_id, index, certificate_id, at=at):
            return index
    # Unlucky draws, or a list that concurrent issuers filled: pick among the free ones.
    log.warning("status list nearly full, reading its free indexes", extra={"list": list_id})
    for _ in range(_DRAWS):
        try:
            index = bsl.allocate_index(store.taken(list_id), size, below=below)
        except ValueError:
            return None  # full: the next list
        if store.claim(list_id, index, certificate_id, at=at):
            return index
    return None


class ListUrls:
    """The URLs of our lists: ``<public_url><route><list id>``."""

    def __init__(self, public_url: str, route: str) -> None:
        self._base = public_url.rstrip("/") + route

    def url(self, list_id: int) -> str:
        return f"{self._base}{list_id}"

    def list_id_of(self, url: str) -> int | None:
        """The id of our list at ``url``, None when the URL is not one of our lists'."""
        if not url.startswith(self._base):
            return None
        tail = url[len(self._base) :]
        return int(tail) if tail.isascii() and tail.isdigit() and len(tail) < 10 else None
