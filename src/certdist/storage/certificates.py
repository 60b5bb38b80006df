"""``CertificateRepository`` on SQLAlchemy Core, for SQLite and PostgreSQL alike.

Every method is one short transaction. Every query names ``pre_enrollment_code`` (the
partition key) or reaches the row through the ``certificate_ids`` lookup table, except
``for_mobile``, which uses its own index on every partition.

Collisions are detected by the database (unique keys), never by a read-then-write check that
two concurrent writers could both pass. Only after an ``IntegrityError`` do we look at what is
stored, to tell the caller *which* rule it broke. The driver's error is not chained to ours:
its detail quotes the colliding key values, which do not belong in logs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from certdist.domain.models import CertificateRecord
from certdist.errors import Conflict, DuplicateCertificate
from certdist.storage.outbox import CompanionMessages, insert_messages
from certdist.storage.repository import WithdrawnCertificate, WithdrawnCertificates
from certdist.storage.rows import certificate_record, certificate_values
from certdist.storage.schema import certificate_ids, certificates
from certdist.storage.transactions import Transactions

# Stay far below the bind-parameter limits (SQLite 32766, PostgreSQL 65535) in IN lists.
_CHUNK = 500

_c = certificates.c
_live: ColumnElement[bool] = and_(_c.superseded_by.is_(None), _c.revoked_at.is_(None))

# The hottest query (every certificate download), built once: composing the statement on
# each call cost as much as running it on SQLite (0.22 against 0.12 ms, measured).
_LIVE_FOR_BENEFICIARY = (
    select(certificates)
    .where(_c.pre_enrollment_code == bindparam("code"), _live)
    .order_by(_c.created_at, _c.id)
)


class SqlCertificateRepository:
    """Certificates in the ``certificates`` table plus the ``certificate_ids`` lookup."""

    def __init__(
        self, transactions: Transactions, *, companions: CompanionMessages | None = None
    ) -> None:
        self._tx = transactions
        self._live_for_beneficiary = transactions.prepare(_LIVE_FOR_BENEFICIARY)
        # Messages (notifications) to enqueue in the same transaction as new certificates, so
        # a certificate is never stored without them nor they sent for one that was not.
        self._companions = companions

    # --- writes ---------------------------------------------------------------------------

    def add(self, records: Sequence[CertificateRecord]) -> None:
        """Store all records or none.

        Idempotent for retries: when every record is already stored exactly as given (the
        commit went through but its acknowledgement was lost, say in a failover), this is a
        no-op rather than a ``DuplicateCertificate``.
        """
        if not records:
            return
        _check_batch(records)
        messages = self._companions(records) if self._companions else ()
        try:
            with self._tx.write() as connection:
                _insert(connection, records)
                insert_messages(connection, messages)
        except IntegrityError:
            if self._stored_as_given(records):
                return
            raise self._explain_collision(records, replacing=()) from None

    def replace(self, old: CertificateRecord, new: CertificateRecord) -> None:
        self.replace_many([(old, new)])

    def replace_many(self, pairs: Sequence[tuple[CertificateRecord, CertificateRecord]]) -> None:
        """Several corrections in one transaction: all of them or none.

        Raises ``Conflict`` when any ``old`` is no longer live (or appears twice), and the same
        errors as ``add`` when the new records collide with each other or with stored ones.
        Like ``add``, a retry of corrections that are already stored is a no-op.
        """
        if not pairs:
            return
        olds = [old for old, _ in pairs]
        news = [new for _, new in pairs]
        if {o.certificate_id for o in olds} & {n.certificate_id for n in news}:
            raise Conflict("a correction needs a new certificate id")
        _check_batch(news)
        messages = self._companions(news) if self._companions else ()
        try:
            with self._tx.write() as connection:
                # A fixed order, so that overlapping batches wait for each other, never deadlock.
                for old, new in sorted(pairs, key=lambda p: (p[0].pre_enrollment_code, p[0].id)):
                    _supersede(connection, old, new)
                _insert(connection, news)
                insert_messages(connection, messages)
        except IntegrityError:
            raise self._explain_collision(news, replacing=olds) from None
        except Conflict:
            if self._stored_as_given(news, superseding=olds):
                return
            raise

    def revoke(
        self,
        pre_enrollment_code: str,
        doses: Sequence[int] | None,
        *,
        at: datetime,
        reason: str,
    ) -> list[CertificateRecord]:
        if doses is not None and not doses:
            return []
        statement = update(certificates).where(_c.pre_enrollment_code == pre_enrollment_code, _live)
        if doses is not None:
            statement = statement.where(_c.dose.in_(sorted(set(doses))))
        statement = statement.values(revoked_at=at, revocation_reason=reason, updated_at=at)
        with self._tx.write() as connection:
            rows = connection.execute(statement.returning(*certificates.c)).mappings().all()
        return _oldest_first(certificate_record(row) for row in rows)

    # --- reads ----------------------------------------------------------------------------

    def get(self, certificate_id: str) -> CertificateRecord | None:
        with self._tx.read() as connection:
            statement = _through_lookup(connection, certificate_id, select(certificates))
            row = None if statement is None else connection.execute(statement).mappings().first()
        return None if row is None else certificate_record(row)

    def for_beneficiary(
        self, pre_enrollment_code: str, *, include_inactive: bool = False
    ) -> list[CertificateRecord]:
        if not include_inactive:
            rows = self._tx.fetch(
                self._live_for_beneficiary, {"code": pre_enrollment_code}, replica_ok=True
            )
            return [certificate_record(row) for row in rows]
        statement = select(certificates).where(_c.pre_enrollment_code == pre_enrollment_code)
        return self._records(statement.order_by(_c.created_at, _c.id))

    def for_mobile(self, mobile: str) -> list[CertificateRecord]:
        statement = (
            select(certificates)
            .where(_c.mobile == mobile, _live)
            .order_by(_c.created_at, _c.pre_enrollment_code, _c.id)
        )
        return self._records(statement)

    def find_live(
        self, pre_enrollment_code: str, entity_type: str, program_id: str, dose: int | None
    ) -> CertificateRecord | None:
        """The live certificate for that dose; for dose None (several may be live) the newest."""
        statement = (
            select(certificates)
            .where(
                _c.pre_enrollment_code == pre_enrollment_code,
                _c.entity_type == entity_type,
                _c.program_id == program_id,
                _c.dose.is_(None) if dose is None else _c.dose == dose,
                _live,
            )
            .order_by(_c.created_at.desc(), _c.id.desc())
            .limit(1)
        )
        found = self._records(statement)
        return found[0] if found else None

    def is_revoked(self, certificate_id: str) -> bool:
        with self._tx.read() as connection:
            statement = _through_lookup(connection, certificate_id, select(_c.revoked_at))
            revoked_at = None if statement is None else connection.execute(statement).scalar()
        return revoked_at is not None

    def withdrawn(self, entity_type: str, *, limit: int) -> WithdrawnCertificates:
        """Revoked or superseded certificates of ``entity_type``, newest first.

        Unlike the other reads this one visits every partition: it serves revocation lists
        (one read per list), never a single certificate's lookup.
        """
        withdrawn = and_(_c.entity_type == entity_type, ~_live)
        newest = (
            select(_c.certificate_id, _c.revoked_at)
            .where(withdrawn)
            .order_by(_c.updated_at.desc(), _c.certificate_id)
            .limit(limit)
        )
        with self._tx.read() as connection:
            count = select(func.count()).select_from(certificates).where(withdrawn)
            total = connection.execute(count).scalar_one()
            rows = connection.execute(newest).all()
        entries = [WithdrawnCertificate(r.certificate_id, r.revoked_at is not None) for r in rows]
        return WithdrawnCertificates(total, entries)

    def ping(self) -> None:
        with self._tx.read() as connection:
            connection.execute(select(1)).scalar_one()

    # --- helpers --------------------------------------------------------------------------

    def _records(
        self, statement: Select[Any], parameters: dict[str, Any] | None = None
    ) -> list[CertificateRecord]:
        with self._tx.read() as connection:
            rows = connection.execute(statement, parameters).mappings().all()
        return [certificate_record(row) for row in rows]

    def _stored_as_given(
        self,
        records: Sequence[CertificateRecord],
        *,
        superseding: Sequence[CertificateRecord] = (),
    ) -> bool:
        """True if every record is stored exactly as given and superseded what it corrects."""
        with self._tx.read() as connection:
            stored = _by_certificate_id(connection, records)
            replaced = _by_certificate_id(connection, superseding)
        if any(stored.get(r.certificate_id) != r for r in records):
            return False
        return all(
            (found := replaced.get(old.certificate_id)) is not None
            and found.superseded_by == new.certificate_id
            for old, new in zip(superseding, records, strict=False)
        )

    def _explain_collision(
        self, records: Sequence[CertificateRecord], *, replacing: Sequence[CertificateRecord]
    ) -> Conflict:
        """After a failed insert, find out which rule the batch broke."""
        with self._tx.read() as connection:
            live = _live_keys(connection, {r.pre_enrollment_code for r in records}, replacing)
            for record in records:
                if record.dose is not None and _key(record) in live:
                    return DuplicateCertificate(
                        record.pre_enrollment_code, record.program_id, record.dose
                    )
            taken = _existing_ids(connection, [r.certificate_id for r in records])
        if taken:
            return Conflict(f"certificate id {min(taken)} already exists")
        return Conflict("a concurrent write stored the same certificate; read and retry")


def _supersede(connection: Connection, old: CertificateRecord, new: CertificateRecord) -> None:
    """Mark ``old`` superseded by ``new``, guarded so that of two concurrent corrections of
    the same certificate only one finds it still live (the other's UPDATE matches no row)."""
    result = connection.execute(
        update(certificates)
        .where(_c.pre_enrollment_code == old.pre_enrollment_code, _c.id == old.id, _live)
        .values(superseded_by=new.certificate_id, updated_at=new.created_at)
    )
    if result.rowcount != 1:
        raise Conflict(
            f"certificate {old.certificate_id} is no longer live (already corrected or revoked)"
        )


def _through_lookup(
    connection: Connection, certificate_id: str, statement: Select[Any]
) -> Select[Any] | None:
    """Narrow ``statement`` to one certificate, found by its partition key from the lookup.

    Two statements rather than a join on purpose: with a literal ``pre_enrollment_code``
    PostgreSQL prunes to one partition, whereas for the join it may plan a scan of every
    partition by ``certificate_id``, which has no index.
    """
    code = connection.execute(
        select(certificate_ids.c.pre_enrollment_code).where(
            certificate_ids.c.certificate_id == certificate_id
        )
    ).scalar()
    if code is None:
        return None
    return statement.where(_c.pre_enrollment_code == code, _c.certificate_id == certificate_id)


def _check_batch(records: Sequence[CertificateRecord]) -> None:
    """Reject collisions inside one batch before touching the database."""
    keys: set[tuple[str, str, str, int | None]] = set()
    ids: set[str] = set()
    rows: set[tuple[str, str]] = set()
    for record in records:
        key = _key(record)
        if record.dose is not None and key in keys:
            raise DuplicateCertificate(record.pre_enrollment_code, record.program_id, record.dose)
        if record.certificate_id in ids:
            raise Conflict(f"certificate id {record.certificate_id} appears twice in the batch")
        if (record.pre_enrollment_code, record.id) in rows:
            raise Conflict(f"record id {record.id} appears twice in the batch")
        keys.add(key)
        ids.add(record.certificate_id)
        rows.add((record.pre_enrollment_code, record.id))


def _insert(connection: Connection, records: Sequence[CertificateRecord]) -> None:
    connection.execute(
        insert(certificate_ids),
        [
            {"certificate_id": r.certificate_id, "pre_enrollment_code": r.pre_enrollment_code}
            for r in records
        ],
    )
    connection.execute(insert(certificates), [certificate_values(r) for r in records])


def _live_keys(
    connection: Connection, codes: set[str], replacing: Sequence[CertificateRecord]
) -> set[tuple[str, str, str, int | None]]:
    # The failed replace rolled back, so the records being corrected are live again.
    ignored = {(r.pre_enrollment_code, r.id) for r in replacing}
    keys: set[tuple[str, str, str, int | None]] = set()
    ordered = sorted(codes)
    for start in range(0, len(ordered), _CHUNK):
        statement = select(
            _c.id, _c.pre_enrollment_code, _c.entity_type, _c.program_id, _c.dose
        ).where(_c.pre_enrollment_code.in_(ordered[start : start + _CHUNK]), _live)
        for row in connection.execute(statement):
            if (row.pre_enrollment_code, row.id) in ignored:
                continue
            keys.add((row.pre_enrollment_code, row.entity_type, row.program_id, row.dose))
    return keys


def _by_certificate_id(
    connection: Connection, records: Sequence[CertificateRecord]
) -> dict[str, CertificateRecord]:
    """The stored versions of ``records`` (by partition key and certificate id)."""
    found: dict[str, CertificateRecord] = {}
    for start in range(0, len(records), _CHUNK):
        chunk = records[start : start + _CHUNK]
        statement = select(certificates).where(
            _c.pre_enrollment_code.in_({r.pre_enrollment_code for r in chunk}),
            _c.certificate_id.in_([r.certificate_id for r in chunk]),
        )
        for row in connection.execute(statement).mappings():
            record = certificate_record(row)
            found[record.certificate_id] = record
    return found


def _existing_ids(connection: Connection, ids: list[str]) -> set[str]:
    taken: set[str] = set()
    for start in range(0, len(ids), _CHUNK):
        statement = select(certificate_ids.c.certificate_id).where(
            certificate_ids.c.certificate_id.in_(ids[start : start + _CHUNK])
        )
        taken.update(connection.execute(statement).scalars())
    return taken


def _key(record: CertificateRecord) -> tuple[str, str, str, int | None]:
    return (record.pre_enrollment_code, record.entity_type, record.program_id, record.dose)


def _oldest_first(records: Iterable[CertificateRecord]) -> list[CertificateRecord]:
    return sorted(records, key=lambda r: (r.created_at, r.id))
