"""Token Status Lists on SQLite and PostgreSQL: one random index per issued copy, the INVALID
bit of a withdrawn certificate's copies, and a token signed again only when it must be."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from certdist.errors import NotFound
from certdist.formats import token_status_list as tsl
from certdist.formats.sd_jwt_vc import StatusReference, decode_jws
from certdist.services.common.clock import FixedClock
from certdist.services.issuance import TokenStatusLists
from certdist.services.issuance.token_status_lists import RENEW_BEFORE, SIZE
from certdist.signing.jose import thumbprint
from certdist.storage import Database
from certdist.storage.schema import token_status_entries
from certdist.wiring import Services
from tests.support.issuing import certify
from tests.support.request_bodies import vaccination_request_body

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
KEY = ec.generate_private_key(ec.SECP256R1())


def lists(
    database: Database, clock: FixedClock | None = None, below: Callable[[int], int] | None = None
) -> TokenStatusLists:
    options: dict[str, Any] = {} if below is None else {"below": below}
    return TokenStatusLists(
        database.token_status_lists(),
        database.certificates(),
        KEY,
        clock or FixedClock(NOW),
        public_url="https://certs.example.org/",
        **options,
    )


def read(token: str, uri: str, now: datetime = NOW) -> tsl.VerifiedStatusList:
    return tsl.read_status_list_token(
        token,
        uri=uri,
        keys_for=lambda kid: [KEY.public_key()] if kid == thumbprint(KEY.public_key()) else [],
        issuer="https://certs.example.org",
        now=now,
    )


def test_every_copy_has_its_own_random_index(database: Database) -> None:
    allocator = lists(database)
    copies = [allocator.allocate("CERT-1") for _ in range(20)]
    assert all(isinstance(c, StatusReference) for c in copies)
    assert {c.uri for c in copies} == {"https://certs.example.org/trust/token-status/1"}
    indexes = [c.idx for c in copies]
    assert len(set(indexes)) == 20  # the copies of one certificate never share an index
    assert indexes != sorted(indexes)
    assert max(indexes) > SIZE // 4  # drawn over the whole list, not packed at its start
    e = token_status_entries.c
    with database.engine.connect() as connection:
        rows = connection.execute(select(e.list_id, e.list_index, e.certificate_id, e.issued_at))
        stored = sorted((r.list_id, r.list_index, r.certificate_id, r.issued_at) for r in rows)
    assert stored == sorted((1, i, "CERT-1", NOW) for i in indexes)


def test_a_taken_index_is_drawn_again(database: Database) -> None:
    draws = iter([5, 5, 9])
    allocator = lists(database, below=lambda size: next(draws))
    assert [allocator.allocate("C").idx for _ in range(2)] == [5, 9]


def issued(services: Services, code: str) -> str:
    [certificate] = certify(services, vaccination_request_body(code))
    return certificate.certificate_id


def test_revoking_sets_the_bit_of_every_copy(services: Services) -> None:
    kept, revoked = issued(services, "B1"), issued(services, "B2")
    allocator = lists(services.database)
    kept_copy = allocator.allocate(kept)
    revoked_copies = [allocator.allocate(revoked) for _ in range(3)]
    before = read(allocator.token(1), kept_copy.uri)
    assert all(before.status_of(c.idx) == tsl.VALID for c in [kept_copy, *revoked_copies])

    services.issuance.certificates.revoke("B2", None, reason="issued in error")

    after = read(allocator.token(1), kept_copy.uri)
    assert [after.status_of(c.idx) for c in revoked_copies] == [tsl.INVALID] * 3
    assert after.status_of(kept_copy.idx) == tsl.VALID
    set_bits = [i for i in range(SIZE) if after.statuses.get(i)]
    assert set_bits == sorted(c.idx for c in revoked_copies)
    assert allocator.statuses(1).raw() == after.statuses.raw()


def test_the_token_is_signed_again_only_on_a_withdrawal_or_near_its_expiry(
    services: Services,
) -> None:
    clock = FixedClock(NOW)
    allocator = lists(services.database, clock)
    allocator.allocate(issued(services, "B1"))
    first = allocator.token(1)
    clock.advance(timedelta(hours=1))
    assert allocator.token(1) == first  # nothing changed: the same signed token
    services.issuance.certificates.revoke("B1", None, reason="issued in error")
    second = allocator.token(1)
    assert second != first
    clock.advance(timedelta(days=1) - RENEW_BEFORE)
    third = allocator.token(1)
    assert third != second
    _, claims, _, _ = decode_jws(third, "token")
    assert claims["iat"] == int(clock.now().timestamp())
    assert claims["exp"] - claims["iat"] == 86_400


def test_an_unknown_list_is_not_found(database: Database) -> None:
    with pytest.raises(NotFound, match="no token status list 2"):
        lists(database).token(2)


def test_list_ids_of_our_uris(database: Database) -> None:
    allocator = lists(database)
    assert allocator.list_id_of("https://certs.example.org/trust/token-status/12") == 12
    assert allocator.list_id_of("https://certs.example.org/trust/status/12") is None
    assert allocator.list_id_of("https://certs.example.org/trust/token-status/1x") is None
    assert allocator.list_id_of("https://other.example/trust/token-status/1") is None
