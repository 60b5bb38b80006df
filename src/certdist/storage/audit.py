"""``DownloadAudit`` on SQLAlchemy Core."""

from __future__ import annotations

from sqlalchemy import insert, select

from certdist.domain.models import Download
from certdist.storage.schema import download_audit
from certdist.storage.transactions import Transactions

_a = download_audit.c


class SqlDownloadAudit:
    def __init__(self, transactions: Transactions) -> None:
        self._tx = transactions

    def record(self, download: Download) -> None:
        with self._tx.write() as connection:
            connection.execute(
                insert(download_audit).values(
                    id=download.id,
                    at=download.at,
                    actor=download.actor,
                    issuer=download.issuer,
                    permission=download.permission,
                    certificate_id=download.certificate_id,
                    pre_enrollment_code=download.pre_enrollment_code,
                    format=download.format,
                )
            )

    def for_beneficiary(self, pre_enrollment_code: str, *, limit: int = 100) -> list[Download]:
        query = (
            select(download_audit)
            .where(_a.pre_enrollment_code == pre_enrollment_code)
            .order_by(_a.at.desc(), _a.id)
            .limit(limit)
        )
        with self._tx.read() as connection:
            rows = connection.execute(query).mappings().all()
        return [Download(**dict(row)) for row in rows]
