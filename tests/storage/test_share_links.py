"""Share links in storage: lookups by hash and owner, revocation, the atomic guess counter."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

from certdist.domain.sharing import LinkAccess, ShareKind, ShareLink
from certdist.storage import Database

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def new_link(
    owner: str = "owner-a", token_hash: str | None = None, **overrides: object
) -> ShareLink:
    values: dict[str, object] = {
        "id": str(uuid.uuid4()),
        "token_hash": token_hash or uuid.uuid4().hex,
        "owner_hash": owner,
        "certificate_id": "100000000001",
        "pre_enrollment_code": "BEN-0001",
        "kind": ShareKind.FULL,
        "passcode_hash": None,
        "failed_attempts": 0,
        "created_at": T0,
        "expires_at": T0 + timedelta(days=7),
    }
    values.update(overrides)
    return ShareLink(**values)  # type: ignore[arg-type]


def test_links_are_found_by_token_hash_and_scoped_to_their_owner(database: Database) -> None:
    links = database.share_links()
    mine = new_link(token_hash="h1")
    theirs = new_link("owner-b", created_at=T0 + timedelta(seconds=1))
    links.create(mine)
    links.create(theirs)
    assert links.by_token_hash("h1") == mine
    assert links.by_token_hash("nope") is None
    assert links.owned(mine.id, "owner-a") == mine
    assert links.owned(mine.id, "owner-b") is None
    assert [link.id for link in links.for_owner("owner-a")] == [mine.id]


def test_revocation_is_owner_only_and_keeps_the_first_time(database: Database) -> None:
    links = database.share_links()
    link = new_link()
    links.create(link)
    assert not links.revoke(link.id, "owner-b", at=T0)
    assert links.revoke(link.id, "owner-a", at=T0 + timedelta(hours=1))
    assert links.revoke(link.id, "owner-a", at=T0 + timedelta(hours=2))
    stored = links.owned(link.id, "owner-a")
    assert stored is not None
    assert stored.revoked_at == T0 + timedelta(hours=1)


def test_access_log_is_per_link_oldest_first(database: Database) -> None:
    links = database.share_links()
    a, b = new_link(), new_link()
    links.create(a)
    links.create(b)
    for minutes, event in ((2, "pdf"), (1, "opened")):
        links.record_access(
            LinkAccess(str(uuid.uuid4()), a.id, T0 + timedelta(minutes=minutes), event)
        )
    log = links.accesses([a.id, b.id])
    assert [(e.at, e.event) for e in log[a.id]] == [
        (T0 + timedelta(minutes=1), "opened"),
        (T0 + timedelta(minutes=2), "pdf"),
    ]
    assert log[b.id] == []


def test_concurrent_guesses_never_exceed_the_cap(database: Database) -> None:
    links = database.share_links()
    link = new_link(passcode_hash="x")
    links.create(link)
    granted: list[bool] = []
    barrier = threading.Barrier(12)

    def guess() -> None:
        barrier.wait()
        granted.append(links.reserve_guess(link.id, cap=5))

    threads = [threading.Thread(target=guess) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert granted.count(True) == 5
    stored = links.owned(link.id, "owner-a")
    assert stored is not None
    assert stored.failed_attempts == 5
    links.refund_guess(link.id)
    assert links.reserve_guess(link.id, cap=5)
    assert not links.reserve_guess(link.id, cap=5)
