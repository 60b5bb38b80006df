"""Status list index allocation on SQLite and PostgreSQL: random, never reused, the next
list once one is half taken, and safe with concurrent issuers (the primary key decides)."""

from __future__ import annotations

import itertools
import secrets
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from certdist.domain.credential import js_iso
from certdist.errors import NotFound
from certdist.formats.status_list import MIN_ENTRIES
from certdist.services.common.clock import FixedClock
from certdist.services.issuance import StatusLists
from certdist.storage import Database
from certdist.storage.schema import status_list_entries

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


class _Signer:
    key_id = "did:test#key-1"

    def sign(self, credential: Any, *, created: datetime) -> dict[str, Any]:
        return {**credential, "proof": {"created": js_iso(created)}}


def lists(database: Database, below: Callable[[int], int] | None = None) -> StatusLists:
    options: dict[str, Any] = {} if below is None else {"below": below}
    return StatusLists(
        database.status_lists(),
        database.certificates(),
        _Signer(),
        FixedClock(NOW),
        public_url="https://certs.example.org/",
        issuer="https://divoc.dev/",
        **options,
    )


def placed(entry: dict[str, Any]) -> tuple[int, int]:
    list_id = int(entry["statusListCredential"].rsplit("/", 1)[1])
    return list_id, int(entry["statusListIndex"])


def stored(database: Database) -> list[tuple[int, int, str]]:
    e = status_list_entries.c
    with database.engine.connect() as connection:
        rows = connection.execute(select(e.list_id, e.list_index, e.certificate_id))
        return sorted((r.list_id, r.list_index, r.certificate_id) for r in rows)


def test_indexes_are_random_and_stored(database: Database) -> None:
    allocator = lists(database)
    entries = [allocator.allocate(f"C{n}") for n in range(40)]
    positions = [placed(e) for e in entries]
    assert {list_id for list_id, _ in positions} == {1}
    indexes = [index for _, index in positions]
    assert len(set(indexes)) == 40
    # Not the order of issuance: neither increasing nor packed at the start of the list.
    assert indexes != sorted(indexes)
    assert max(indexes) > MIN_ENTRIES // 4
    assert stored(database) == sorted((1, i, f"C{n}") for n, i in enumerate(indexes))
    assert entries[0]["statusListCredential"] == "https://certs.example.org/trust/status/1"


def test_a_drawn_index_that_is_taken_is_drawn_again(database: Database) -> None:
    draws: Iterator[int] = iter([5, 5, 5, 9, 5, 9, 12])
    allocator = lists(database, below=lambda size: next(draws))
    assert [placed(allocator.allocate(c))[1] for c in ("A", "B", "C")] == [5, 9, 12]


def test_when_draws_keep_colliding_a_free_index_is_found(database: Database) -> None:
    allocator = lists(database, below=lambda size: 0)  # every draw is index 0
    assert [placed(allocator.allocate(c)) for c in ("A", "B", "C")] == [(1, 0), (1, 1), (1, 2)]


def test_the_next_list_opens_when_half_of_one_is_taken(database: Database) -> None:
    half = MIN_ENTRIES // 2
    with database.engine.begin() as connection:
        connection.execute(
            insert(status_list_entries),
            [
                {"list_id": 1, "list_index": i, "certificate_id": f"old{i}", "allocated_at": NOW}
                for i in range(half - 1)
            ],
        )
    allocator = lists(database)
    first = placed(allocator.allocate("last-of-one"))
    assert first[0] == 1
    assert first[1] >= half - 1  # the free half of list 1
    assert [placed(allocator.allocate(c))[0] for c in ("X", "Y")] == [2, 2]


def test_concurrent_issuers_never_share_an_index(database: Database) -> None:
    """Eight threads, each its own allocator, drawing from 48 indexes: they collide often,
    and the primary key gives each index to one of them."""
    threads, each = 8, 5
    barrier = threading.Barrier(threads)
    results: list[tuple[int, int]] = []
    errors: list[BaseException] = []
    counter = itertools.count()
    lock = threading.Lock()

    def issuer() -> None:
        allocator = lists(database, below=lambda size: secrets.randbelow(48))
        barrier.wait()
        try:
            for _ in range(each):
                with lock:
                    name = f"C{next(counter)}"
                entry = placed(allocator.allocate(name))
                with lock:
                    results.append(entry)
        except BaseException as error:
            errors.append(error)

    workers = [threading.Thread(target=issuer) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    assert len(results) == threads * each == len(set(results))
    e = status_list_entries.c
    with database.engine.connect() as connection:
        count = connection.execute(select(func.count()).select_from(status_list_entries))
        assert count.scalar_one() == threads * each
        distinct = connection.execute(select(e.list_index).distinct()).all()
    assert len(distinct) == threads * each


def test_an_unknown_list_is_not_found(database: Database) -> None:
    with pytest.raises(NotFound, match="no status list 3"):
        lists(database).credential(3)
