"""The status list entries tables (Bitstring and Token Status Lists): a claim is the primary
key's, and a list's withdrawn indexes are those of its revoked or superseded certificates
only."""

from __future__ import annotations

import pytest

from certdist.storage import Database
from certdist.storage import status_lists as module
from tests.storage.conftest import T0, MakeCertificate


@pytest.mark.parametrize("store", ["status_lists", "token_status_lists"])
def test_an_index_is_claimed_once(database: Database, store: str) -> None:
    lists = getattr(database, store)()
    assert lists.newest_list() is None
    assert lists.claim(1, 42, "A", at=T0)
    assert not lists.claim(1, 42, "B", at=T0)
    assert lists.claim(2, 42, "B", at=T0)  # the same index of another list
    assert lists.newest_list() == (2, 1)
    assert lists.taken(1) == {42}
    assert lists.exists(1)
    assert not lists.exists(3)


@pytest.mark.parametrize("store", ["status_lists", "token_status_lists"])
@pytest.mark.parametrize("chunk", [1, 500])
def test_withdrawn_indexes_are_those_of_withdrawn_certificates(
    database: Database,
    make_certificate: MakeCertificate,
    monkeypatch: pytest.MonkeyPatch,
    chunk: int,
    store: str,
) -> None:
    monkeypatch.setattr(module, "_CHUNK", chunk)
    certificates = database.certificates()
    kept = make_certificate(pre_enrollment_code="BEN-1")
    revoked = make_certificate(pre_enrollment_code="BEN-2")
    other_list = make_certificate(pre_enrollment_code="BEN-3")
    certificates.add([kept, revoked, other_list])
    lists = getattr(database, store)()
    for index, record in ((7, kept), (8, revoked)):
        assert lists.claim(1, index, record.certificate_id, at=T0)
    assert lists.claim(2, 9, other_list.certificate_id, at=T0)
    assert lists.claim(1, 10, "never-stored", at=T0)  # an issuance that failed after the draw
    assert lists.withdrawn_indexes(1) == []
    certificates.revoke("BEN-2", None, at=T0, reason="error")
    certificates.revoke("BEN-3", None, at=T0, reason="error")
    assert lists.withdrawn_indexes(1) == [8]
    assert lists.withdrawn_indexes(2) == [9]
