"""Share links and their access log.

Only keyed hashes of the link token and of the owner's mobile number are stored, so a copy
of the table opens no link and names no phone. Wrong passcodes are counted with one
conditional ``UPDATE`` (``failed_attempts < cap``), so concurrent guesses cannot together
exceed the lifetime cap: each guess first reserves one of the remaining attempts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, func, insert, literal, select, update

from certdist.domain.sharing import LinkAccess, ShareKind, ShareLink
from certdist.storage.schema import share_link_access, share_links
from certdist.storage.sqltypes import UTCDateTime
from certdist.storage.transactions import Transactions

_l = share_links.c
_a = share_link_access.c
# Stay far below the bind-parameter limits in IN lists.
_CHUNK = 500


class SqlShareLinks:
    """The ``share_links`` and ``share_link_access`` tables; one transaction per method."""

    def __init__(self, transactions: Transactions) -> None:
        self._tx = transactions

    def create(self, link: ShareLink) -> None:
        with self._tx.write() as connection:
            connection.execute(insert(share_links).values(_values(link)))

    def by_token_hash(self, token_hash: str) -> ShareLink | None:
        return self._one(select(share_links).where(_l.token_hash == token_hash))

    def by_id(self, link_id: str) -> ShareLink | None:
        return self._one(select(share_links).where(_l.id == link_id))

    def owned(self, link_id: str, owner_hash: str) -> ShareLink | None:
        """The link if it belongs to that owner (None otherwise, as if it did not exist)."""
        return self._one(select(share_links).where(_l.id == link_id, _l.owner_hash == owner_hash))

    def for_owner(self, owner_hash: str, *, limit: int = 100) -> list[ShareLink]:
        """Newest first."""
        statement = (
            select(share_links)
            .where(_l.owner_hash == owner_hash)
            .order_by(_l.created_at.desc(), _l.id)
            .limit(limit)
        )
        with self._tx.read() as connection:
            rows = connection.execute(statement).mappings().all()
        return [_link(row) for row in rows]

    def revoke(self, link_id: str, owner_hash: str, *, at: datetime) -> bool:
        """Revoke the owner's link; False if there is no such link (revoking twice is fine)."""
        statement = (
            update(share_links)
            .where(_l.id == link_id, _l.owner_hash == owner_hash)
            .values(revoked_at=_keep_first(at))
        )
        with self._tx.write() as connection:
            return connection.execute(statement).rowcount == 1

    def reserve_guess(self, link_id: str, *, cap: int) -> bool:
        """Count one passcode guess against the link's lifetime cap, atomically; False when
        the cap is reached (the guess must not be checked)."""
        statement = (
            update(share_links)
            .where(_l.id == link_id, _l.failed_attempts < cap)
            .values(failed_attempts=_l.failed_attempts + 1)
        )
        with self._tx.write() as connection:
            return connection.execute(statement).rowcount == 1

    def refund_guess(self, link_id: str) -> None:
        """Give back the attempt reserved for a guess that turned out right."""
        statement = (
            update(share_links)
            .where(_l.id == link_id, _l.failed_attempts > 0)
            .values(failed_attempts=_l.failed_attempts - 1)
        )
        with self._tx.write() as connection:
            connection.execute(statement)

    def record_access(self, access: LinkAccess) -> None:
        with self._tx.write() as connection:
            connection.execute(
                insert(share_link_access).values(
                    id=access.id,
                    link_id=access.link_id,
                    at=access.at,
                    event=access.event,
                    recipient=access.recipient,
                )
            )

    def accesses(self, link_ids: Sequence[str]) -> dict[str, list[LinkAccess]]:
        """The access log of each link, oldest first."""
        found: dict[str, list[LinkAccess]] = {link_id: [] for link_id in link_ids}
        ordered = sorted(found)
        with self._tx.read() as connection:
            for start in range(0, len(ordered), _CHUNK):
                statement = (
                    select(share_link_access)
                    .where(_a.link_id.in_(ordered[start : start + _CHUNK]))
                    .order_by(_a.at, _a.id)
                )
                for row in connection.execute(statement).mappings():
                    found[row["link_id"]].append(
                        LinkAccess(
                            id=row["id"],
                            link_id=row["link_id"],
                            at=row["at"],
                            event=row["event"],
                            recipient=row["recipient"],
                        )
                    )
        return found

    def _one(self, statement: Any) -> ShareLink | None:
        with self._tx.read() as connection:
            row = connection.execute(statement).mappings().first()
        return None if row is None else _link(row)


def _keep_first(at: datetime) -> Any:
    # A second revocation keeps the time of the first.
    return func.coalesce(_l.revoked_at, literal(at, UTCDateTime()))


def _values(link: ShareLink) -> dict[str, Any]:
    return {
        "id": link.id,
        "token_hash": link.token_hash,
        "owner_hash": link.owner_hash,
        "certificate_id": link.certificate_id,
        "pre_enrollment_code": link.pre_enrollment_code,
        "kind": link.kind.value,
        "passcode_hash": link.passcode_hash,
        "failed_attempts": link.failed_attempts,
        "created_at": link.created_at,
        "expires_at": link.expires_at,
        "revoked_at": link.revoked_at,
        "flags": link.flags or None,
        "label": link.label,
    }


def _link(row: RowMapping) -> ShareLink:
    return ShareLink(
        id=row["id"],
        token_hash=row["token_hash"],
        owner_hash=row["owner_hash"],
        certificate_id=row["certificate_id"],
        pre_enrollment_code=row["pre_enrollment_code"],
        kind=ShareKind(row["kind"]),
        passcode_hash=row["passcode_hash"],
        failed_attempts=row["failed_attempts"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
        flags=row["flags"] or "",
        label=row["label"],
    )
