"""The ``status_list_entries`` table (which index of which Bitstring Status List each DIVOC
credential was given) and the ``token_status_entries`` table (the same for each SD-JWT VC
copy and the Token Status Lists), and which of those indexes belong to withdrawn
certificates. Both tables have the same shape; one class serves either.

An index is claimed by inserting its row; the primary key ``(list_id, list_index)`` is what
keeps two issuers (threads or processes) from both having one. A claim that collides returns
False and the caller draws again; nothing is read first that a concurrent writer could change.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Table, and_, func, insert, select
from sqlalchemy.exc import IntegrityError

from certdist.domain.models import TEST, VACCINATION
from certdist.storage.schema import certificates, status_list_entries, token_status_entries
from certdist.storage.transactions import Transactions

_c = certificates.c
_KINDS = (VACCINATION, TEST)
# Stay far below the bind-parameter limits in IN lists.
_CHUNK = 500


class SqlStatusLists:
    """One transaction per method, on ``table`` (``status_list_entries`` or
    ``token_status_entries``, whose claim time is ``allocated_at`` resp. ``issued_at``)."""

    def __init__(self, transactions: Transactions, table: Table = status_list_entries) -> None:
        self._tx = transactions
        self._table = table
        self._stamp = "issued_at" if table is token_status_entries else "allocated_at"

    def newest_list(self) -> tuple[int, int] | None:
        """The highest list id in use and how many of its indexes are taken (None: none yet)."""
        _e = self._table.c
        with self._tx.read() as connection:
            newest = connection.execute(select(func.max(_e.list_id))).scalar_one()
            if newest is None:
                return None
            count = select(func.count()).where(_e.list_id == newest)
            return int(newest), int(connection.execute(count).scalar_one())

    def claim(self, list_id: int, index: int, certificate_id: str, *, at: datetime) -> bool:
        """Take ``index`` of list ``list_id`` for ``certificate_id``: False when it is taken."""
        row = {"list_id": list_id, "list_index": index, "certificate_id": certificate_id}
        try:
            with self._tx.write() as connection:
                connection.execute(insert(self._table).values(**row, **{self._stamp: at}))
        except IntegrityError:
            return False
        return True

    def taken(self, list_id: int) -> set[int]:
        """Every index of the list that was ever given."""
        _e = self._table.c
        with self._tx.read() as connection:
            rows = connection.execute(select(_e.list_index).where(_e.list_id == list_id))
            return {int(index) for (index,) in rows}

    def exists(self, list_id: int) -> bool:
        _e = self._table.c
        with self._tx.read() as connection:
            found = connection.execute(
                select(_e.list_index).where(_e.list_id == list_id).limit(1)
            ).first()
        return found is not None

    def withdrawn_indexes(self, list_id: int) -> list[int]:
        """The indexes of the list whose certificate was revoked or superseded.

        Two steps with a plan each database keeps: the withdrawn certificates (few, read
        through the partial index ``ix_certificates_withdrawn``), then their entries by
        certificate id, a chunk at a time.
        """
        _e = self._table.c
        live = and_(_c.superseded_by.is_(None), _c.revoked_at.is_(None))
        withdrawn = select(_c.certificate_id).where(_c.entity_type.in_(_KINDS), ~live)
        indexes: set[int] = set()
        with self._tx.read() as connection:
            ids = [certificate_id for (certificate_id,) in connection.execute(withdrawn)]
            for start in range(0, len(ids), _CHUNK):
                entries = select(_e.list_index).where(
                    _e.list_id == list_id, _e.certificate_id.in_(ids[start : start + _CHUNK])
                )
                indexes.update(int(index) for (index,) in connection.execute(entries))
        return sorted(indexes)
