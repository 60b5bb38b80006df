"""SqlCertificateRepository, run on SQLite and on PostgreSQL (via the ``database`` fixture)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from certdist.domain.models import TEST, VACCINATION, CertificateRecord
from certdist.errors import Conflict, DuplicateCertificate
from certdist.storage import Database
from certdist.storage.certificates import SqlCertificateRepository
from certdist.storage.repository import WithdrawnCertificate, WithdrawnCertificates

Make = Callable[..., CertificateRecord]
LATER = datetime(2022, 1, 10, 8, 0, tzinfo=UTC)


@pytest.fixture
def repo(database: Database) -> SqlCertificateRepository:
    return database.certificates()


# --- add and read --------------------------------------------------------------------------


def test_add_then_get_returns_the_same_record(repo: SqlCertificateRepository, make: Make) -> None:
    record = make(dob=None, mobile=None, contacts=(), meta={}, total_doses=None)
    other = make(dose=2, upload_id="up-1", previous_certificate_id="100000000009")
    repo.add([record, other])
    assert repo.get(record.certificate_id) == record
    assert repo.get(other.certificate_id) == other
    assert repo.get("does-not-exist") is None


def test_for_beneficiary_oldest_first_and_only_live_by_default(
    repo: SqlCertificateRepository, make: Make
) -> None:
    first, second = make(dose=1), make(dose=2)
    elsewhere = make(pre_enrollment_code="BEN-0002")
    repo.add([second, elsewhere, first])
    assert repo.for_beneficiary("BEN-0001") == [first, second]
    revoked = repo.revoke("BEN-0001", [1], at=LATER, reason="entered in error")
    assert repo.for_beneficiary("BEN-0001") == [second]
    assert repo.for_beneficiary("BEN-0001", include_inactive=True) == [revoked[0], second]
    assert repo.for_beneficiary("nobody") == []


def test_the_prepared_hot_read_converts_every_column_as_sqlalchemy_does(
    repo: SqlCertificateRepository, database: Database, make: Make
) -> None:
    """``for_beneficiary`` runs on the driver connection (``Transactions.fetch``); what it
    gives must be what the same statement gives through SQLAlchemy: dates, UTC datetimes,
    JSON columns, NULLs."""
    from certdist.storage.certificates import _LIVE_FOR_BENEFICIARY
    from certdist.storage.rows import certificate_record

    repo.add([make(dob=None, mobile=None, contacts=(), meta={}), make(dose=2, meta={"a": [1]})])
    with database.transactions.read() as connection:
        rows = connection.execute(_LIVE_FOR_BENEFICIARY, {"code": "BEN-0001"}).mappings().all()
    expected = [certificate_record(row) for row in rows]
    assert len(expected) == 2
    assert repo.for_beneficiary("BEN-0001") == expected
    assert expected[0].created_at.tzinfo is not None


def test_for_mobile_lists_live_certificates_of_every_beneficiary_on_the_number(
    repo: SqlCertificateRepository, make: Make
) -> None:
    mine_a = make(pre_enrollment_code="BEN-A")
    mine_b = make(pre_enrollment_code="BEN-B")
    revoked = make(pre_enrollment_code="BEN-C")
    not_mine = make(pre_enrollment_code="BEN-D", mobile="+919800000000")
    repo.add([mine_a, mine_b, revoked, not_mine])
    repo.revoke("BEN-C", None, at=LATER, reason="duplicate")
    assert repo.for_mobile("+919876543210") == [mine_a, mine_b]
    assert repo.for_mobile("+10000000000") == []


def test_find_live(repo: SqlCertificateRepository, make: Make) -> None:
    dose_one, undosed_old, undosed_new = make(dose=1), make(dose=None), make(dose=None)
    repo.add([dose_one, undosed_old, undosed_new])
    assert repo.find_live("BEN-0001", dose_one.entity_type, "C19", 1) == dose_one
    assert repo.find_live("BEN-0001", dose_one.entity_type, "C19", 2) is None
    assert repo.find_live("BEN-0001", dose_one.entity_type, "C19", None) == undosed_new
    assert repo.find_live("BEN-0001", TEST, "C19", 1) is None


def test_certificate_text_round_trips_byte_for_byte(
    repo: SqlCertificateRepository, make: Make
) -> None:
    text = (
        '{ "z":1,\n\t"a" : "Šárka Nováková — नमस्ते 你好 🧬💉👩🏽‍⚕️",'
        '"escaped":"\\u00e9\\ud83d\\ude00\\n","spaces":  [ 1 ,2\r\n],'
        '"rtl":"مرحبا","nbsp":"\u00a0","combining":"e\u0301"}  \n'
    )
    record = make(certificate=text, name="Zoë 🧪 Ñandú")
    repo.add([record])
    stored = repo.get(record.certificate_id)
    assert stored is not None
    assert stored.certificate.encode("utf-8") == text.encode("utf-8")
    assert stored.name == "Zoë 🧪 Ñandú"
    assert repo.for_beneficiary("BEN-0001")[0].certificate == text


def test_datetimes_come_back_as_aware_utc(repo: SqlCertificateRepository, make: Make) -> None:
    india = timezone(timedelta(hours=5, minutes=30))
    created = datetime(2021, 5, 2, 15, 51, 18, 646000, tzinfo=india)
    record = make(created_at=created, updated_at=created)
    repo.add([record])
    stored = repo.get(record.certificate_id)
    assert stored is not None
    for value in (stored.created_at, stored.updated_at):
        assert value.tzinfo is not None
        assert value.utcoffset() == timedelta(0)
        assert value == created
        assert value.replace(tzinfo=None) == datetime(2021, 5, 2, 10, 21, 18, 646000)
    (revoked,) = repo.revoke("BEN-0001", None, at=LATER.astimezone(india), reason="x")
    assert revoked.revoked_at == LATER
    assert revoked.revoked_at is not None
    assert revoked.revoked_at.utcoffset() == timedelta(0)


def test_naive_datetimes_are_refused(repo: SqlCertificateRepository, make: Make) -> None:
    naive = datetime(2021, 5, 2, 10, 0)
    with pytest.raises(ValueError, match="naive datetime"):
        repo.add([make(created_at=naive, updated_at=naive)])
    assert repo.for_beneficiary("BEN-0001", include_inactive=True) == []


# --- all or nothing ------------------------------------------------------------------------


def test_duplicate_inside_the_batch_writes_nothing(
    repo: SqlCertificateRepository, make: Make
) -> None:
    ok, dup_a, dup_b = make(pre_enrollment_code="BEN-X"), make(dose=2), make(dose=2)
    with pytest.raises(DuplicateCertificate) as raised:
        repo.add([ok, dup_a, dup_b])
    assert (raised.value.pre_enrollment_code, raised.value.dose) == ("BEN-0001", 2)
    assert _everything(repo, ok, dup_a, dup_b) == []


def test_duplicate_of_a_stored_certificate_writes_nothing(
    repo: SqlCertificateRepository, make: Make
) -> None:
    stored = make(dose=1)
    repo.add([stored])
    fresh, clash = make(pre_enrollment_code="BEN-0002"), make(dose=1)
    with pytest.raises(DuplicateCertificate) as raised:
        repo.add([fresh, clash])
    assert (raised.value.program_id, raised.value.dose) == ("C19", 1)
    assert repo.get(fresh.certificate_id) is None
    assert repo.get(clash.certificate_id) is None
    assert repo.for_beneficiary("BEN-0001", include_inactive=True) == [stored]


def test_duplicate_certificate_id_is_a_conflict_and_writes_nothing(
    repo: SqlCertificateRepository, make: Make
) -> None:
    stored = make()
    repo.add([stored])
    fresh = make(pre_enrollment_code="BEN-0002")
    reused = make(pre_enrollment_code="BEN-0003", certificate_id=stored.certificate_id)
    with pytest.raises(Conflict) as raised:
        repo.add([fresh, reused])
    assert not isinstance(raised.value, DuplicateCertificate)
    assert repo.for_beneficiary("BEN-0002") == []
    assert repo.for_beneficiary("BEN-0003") == []
    assert repo.get(stored.certificate_id) == stored
    twice = make(pre_enrollment_code="BEN-0004")
    with pytest.raises(Conflict):
        repo.add([twice, replace(twice, id="other", dose=2)])
    assert repo.for_beneficiary("BEN-0004") == []


def test_add_retried_after_success_is_a_no_op(repo: SqlCertificateRepository, make: Make) -> None:
    """A retry after a lost commit acknowledgement must neither fail nor duplicate."""
    batch = [make(dose=1), make(dose=None)]
    repo.add(batch)
    repo.add(batch)
    assert repo.for_beneficiary("BEN-0001") == batch
    with pytest.raises(DuplicateCertificate):
        repo.add([replace(batch[0], certificate="{}")])
    with pytest.raises(DuplicateCertificate):
        repo.add([batch[0], make(dose=1)])
    assert repo.for_beneficiary("BEN-0001") == batch


def test_dose_none_never_collides(repo: SqlCertificateRepository, make: Make) -> None:
    a, b = make(dose=None), make(dose=None)
    repo.add([a, b])
    c = make(dose=None)
    repo.add([c])
    assert repo.for_beneficiary("BEN-0001") == [a, b, c]


def test_other_programme_or_type_does_not_collide(
    repo: SqlCertificateRepository, make: Make
) -> None:
    records = [make(), make(program_id="MEASLES"), make(entity_type=TEST)]
    repo.add(records)
    assert repo.for_beneficiary("BEN-0001") == records


def test_concurrent_adds_of_the_same_dose_exactly_one_wins(
    repo: SqlCertificateRepository, make: Make
) -> None:
    """Two issuers racing for one dose: the unique index, not a read check, decides."""
    contenders = [make(dose=1), make(dose=1)]
    outcomes = _race([lambda r=r: repo.add([r]) for r in contenders])
    assert sorted(type(o).__name__ for o in outcomes) == ["DuplicateCertificate", "NoneType"]
    assert len(repo.for_beneficiary("BEN-0001")) == 1


# --- corrections ---------------------------------------------------------------------------


def test_replace_supersedes_old_and_stores_new(repo: SqlCertificateRepository, make: Make) -> None:
    old = make()
    repo.add([old])
    new = make(previous_certificate_id=old.certificate_id, name="Asha R. Rao")
    repo.replace(old, new)
    stored_old = repo.get(old.certificate_id)
    assert stored_old == replace(old, superseded_by=new.certificate_id, updated_at=new.created_at)
    assert not stored_old.is_live
    assert repo.get(new.certificate_id) == new
    assert repo.for_beneficiary("BEN-0001") == [new]
    assert repo.for_beneficiary("BEN-0001", include_inactive=True) == [stored_old, new]
    assert repo.is_revoked(old.certificate_id) is False
    assert repo.find_live("BEN-0001", old.entity_type, "C19", 1) == new


def test_replace_of_a_certificate_no_longer_live_is_a_conflict(
    repo: SqlCertificateRepository, make: Make
) -> None:
    old = make()
    repo.add([old])
    repo.replace(old, make())
    late = make()
    with pytest.raises(Conflict):
        repo.replace(old, late)
    assert repo.get(late.certificate_id) is None
    revoked = make(pre_enrollment_code="BEN-0002")
    repo.add([revoked])
    repo.revoke("BEN-0002", None, at=LATER, reason="x")
    with pytest.raises(Conflict):
        repo.replace(revoked, make(pre_enrollment_code="BEN-0002"))


def test_replace_that_fails_to_insert_leaves_old_live(
    repo: SqlCertificateRepository, make: Make
) -> None:
    old, dose_two = make(dose=1), make(dose=2)
    repo.add([old, dose_two])
    with pytest.raises(DuplicateCertificate):
        repo.replace(old, make(dose=2))
    with pytest.raises(Conflict) as raised:
        repo.replace(old, make(certificate_id=dose_two.certificate_id))
    assert not isinstance(raised.value, DuplicateCertificate)
    assert repo.get(old.certificate_id) == old
    assert repo.for_beneficiary("BEN-0001") == [old, dose_two]


def test_replace_keeping_the_same_dose_key_does_not_collide_with_itself(
    repo: SqlCertificateRepository, make: Make
) -> None:
    old = make(dose=3)
    repo.add([old])
    new = make(dose=3)
    repo.replace(old, new)
    newer = make(dose=3)
    repo.replace(new, newer)
    assert repo.for_beneficiary("BEN-0001") == [newer]


def test_replace_many_corrects_several_at_once(repo: SqlCertificateRepository, make: Make) -> None:
    one, two = make(dose=1), make(dose=2, pre_enrollment_code="BEN-0002")
    repo.add([one, two])
    new_one, new_two = make(dose=1), make(dose=2, pre_enrollment_code="BEN-0002")
    repo.replace_many([(one, new_one), (two, new_two)])
    assert repo.for_beneficiary("BEN-0001") == [new_one]
    assert repo.for_beneficiary("BEN-0002") == [new_two]
    repo.replace_many([])


def test_replace_many_is_all_or_nothing(repo: SqlCertificateRepository, make: Make) -> None:
    one, two, gone = make(dose=1), make(dose=2), make(dose=3)
    repo.add([one, two, gone])
    repo.revoke("BEN-0001", [3], at=LATER, reason="x")
    attempts: list[list[tuple[CertificateRecord, CertificateRecord]]] = [
        [(one, make(dose=1)), (gone, make(dose=3))],  # one old is no longer live
        [(one, make(dose=1)), (one, make(dose=1))],  # the same old twice
        [(one, make(dose=2)), (two, make(dose=2))],  # the new records collide
        [(one, make(dose=1)), (two, make(dose=2, certificate_id=one.certificate_id))],
    ]
    for pairs in attempts:
        with pytest.raises(Conflict):
            repo.replace_many(pairs)
        for _, new in pairs:
            stored = repo.get(new.certificate_id)
            assert stored is None or stored == one
    assert repo.for_beneficiary("BEN-0001") == [one, two]


def test_replace_retried_after_success_is_a_no_op(
    repo: SqlCertificateRepository, make: Make
) -> None:
    old = make()
    repo.add([old])
    new = make()
    repo.replace(old, new)
    repo.replace(old, new)
    assert repo.for_beneficiary("BEN-0001") == [new]
    with pytest.raises(Conflict):
        repo.replace(old, replace(new, name="Someone Else"))


@pytest.mark.parametrize("round_", range(5))
def test_concurrent_corrections_exactly_one_wins(
    repo: SqlCertificateRepository, make: Make, round_: int
) -> None:
    old = make()
    repo.add([old])
    a, b = make(name="A"), make(name="B")
    outcomes = _race([lambda: repo.replace(old, a), lambda: repo.replace(old, b)])
    assert sorted(type(o).__name__ for o in outcomes) == ["Conflict", "NoneType"]
    live = repo.for_beneficiary("BEN-0001")
    assert len(live) == 1
    assert live[0].certificate_id in {a.certificate_id, b.certificate_id}
    stored_old = repo.get(old.certificate_id)
    assert stored_old is not None
    assert stored_old.superseded_by == live[0].certificate_id
    loser = b if live[0] == a else a
    assert repo.get(loser.certificate_id) is None


# --- revocation ----------------------------------------------------------------------------


def test_revoke_all_doses(repo: SqlCertificateRepository, make: Make) -> None:
    one, two, other = make(dose=1), make(dose=2), make(pre_enrollment_code="BEN-0002")
    repo.add([one, two, other])
    revoked = repo.revoke("BEN-0001", None, at=LATER, reason="fraud")
    expected = [
        replace(r, revoked_at=LATER, revocation_reason="fraud", updated_at=LATER)
        for r in (one, two)
    ]
    assert revoked == expected
    assert repo.is_revoked(one.certificate_id)
    assert repo.is_revoked(two.certificate_id)
    assert not repo.is_revoked(other.certificate_id)
    assert not repo.is_revoked("unknown")
    assert repo.for_beneficiary("BEN-0001") == []
    assert repo.get(one.certificate_id) == expected[0]
    assert repo.revoke("BEN-0001", None, at=LATER, reason="again") == []


def test_revoke_some_doses(repo: SqlCertificateRepository, make: Make) -> None:
    one, two, three, undosed = make(dose=1), make(dose=2), make(dose=3), make(dose=None)
    repo.add([one, two, three, undosed])
    revoked = repo.revoke("BEN-0001", [3, 1, 7], at=LATER, reason="wrong batch")
    assert [r.certificate_id for r in revoked] == [one.certificate_id, three.certificate_id]
    assert all(r.revoked_at == LATER and r.revocation_reason == "wrong batch" for r in revoked)
    assert repo.for_beneficiary("BEN-0001") == [two, undosed]
    assert repo.revoke("BEN-0001", [], at=LATER, reason="nothing") == []
    assert repo.for_beneficiary("BEN-0001") == [two, undosed]


def test_superseded_certificates_are_not_revoked_and_not_revoked_again(
    repo: SqlCertificateRepository, make: Make
) -> None:
    old = make()
    repo.add([old])
    new = make()
    repo.replace(old, new)
    revoked = repo.revoke("BEN-0001", None, at=LATER, reason="x")
    assert [r.certificate_id for r in revoked] == [new.certificate_id]
    assert not repo.is_revoked(old.certificate_id)


def test_reissue_after_revoke_is_allowed(repo: SqlCertificateRepository, make: Make) -> None:
    first = make(dose=1)
    repo.add([first])
    repo.revoke("BEN-0001", [1], at=LATER, reason="entered in error")
    again = make(dose=1)
    repo.add([again])
    assert repo.for_beneficiary("BEN-0001") == [again]
    assert repo.is_revoked(first.certificate_id)
    assert not repo.is_revoked(again.certificate_id)


def test_withdrawn_lists_revoked_and_superseded_of_one_type_newest_first(
    repo: SqlCertificateRepository, make: Make
) -> None:
    live, revoked, corrected = make(dose=1), make(dose=2), make(dose=3)
    other_type = make(pre_enrollment_code="BEN-T", entity_type=TEST, dose=None)
    repo.add([live, revoked, corrected, other_type])
    assert repo.withdrawn(VACCINATION, limit=10) == WithdrawnCertificates(0, [])
    repo.revoke("BEN-0001", [2], at=LATER, reason="x")
    correction = make(dose=3, created_at=LATER + timedelta(days=1))
    repo.replace(corrected, correction)
    repo.revoke("BEN-T", None, at=LATER, reason="x")
    assert repo.withdrawn(VACCINATION, limit=10) == WithdrawnCertificates(
        2,
        [
            WithdrawnCertificate(corrected.certificate_id, revoked=False),
            WithdrawnCertificate(revoked.certificate_id, revoked=True),
        ],
    )
    assert repo.withdrawn(VACCINATION, limit=1) == WithdrawnCertificates(
        2, [WithdrawnCertificate(corrected.certificate_id, revoked=False)]
    )
    assert repo.withdrawn(VACCINATION, limit=0).total == 2
    assert repo.withdrawn(TEST, limit=10).newest == [
        WithdrawnCertificate(other_type.certificate_id, revoked=True)
    ]


def test_ping(repo: SqlCertificateRepository) -> None:
    repo.ping()


# --- helpers -------------------------------------------------------------------------------


@pytest.fixture
def make(make_certificate: Make) -> Make:
    return make_certificate


def _everything(repo: SqlCertificateRepository, *records: CertificateRecord) -> list[Any]:
    found: list[Any] = []
    for code in sorted({r.pre_enrollment_code for r in records}):
        found += repo.for_beneficiary(code, include_inactive=True)
    found += [r for r in (repo.get(r.certificate_id) for r in records) if r is not None]
    return found


def _race(calls: list[Callable[[], object]]) -> list[BaseException | None]:
    """Run ``calls`` in threads released together; each outcome is None or what it raised."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[BaseException | None] = [None] * len(calls)

    def run(index: int) -> None:
        barrier.wait()
        try:
            calls[index]()
        except BaseException as exc:
            outcomes[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes
