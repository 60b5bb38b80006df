from dataclasses import replace
from datetime import UTC, datetime, timedelta

from certdist.domain.latest import LatestRule, latest, latest_per_dose
from certdist.domain.models import VACCINATION, CertificateRecord

T0 = datetime(2021, 5, 1, tzinfo=UTC)


def _record(
    certificate_id: str, dose: int | None, minutes: int = 0, **changes: object
) -> CertificateRecord:
    at = T0 + timedelta(minutes=minutes)
    record = CertificateRecord(
        id=certificate_id,
        certificate_id=certificate_id,
        pre_enrollment_code="B1",
        entity_type=VACCINATION,
        program_id="p",
        dose=dose,
        total_doses=2,
        name="n",
        dob=None,
        gender="F",
        mobile=None,
        contacts=(),
        certificate="{}",
        key_id="k",
        created_at=at,
        updated_at=at,
    )
    return replace(record, **changes)  # type: ignore[arg-type]


def test_highest_dose_wins_then_newest() -> None:
    records = [_record("a", 1, 50), _record("b", 2, 10), _record("c", 2, 20)]
    assert latest(records, LatestRule.BY_DOSE).certificate_id == "c"  # type: ignore[union-attr]
    assert latest(records, LatestRule.NEWEST).certificate_id == "a"  # type: ignore[union-attr]


def test_superseded_and_revoked_are_never_served() -> None:
    records = [
        _record("a", 1),
        _record("b", 2, 5, superseded_by="c"),
        _record("c", 2, 6, revoked_at=T0),
    ]
    assert latest(records, LatestRule.BY_DOSE).certificate_id == "a"  # type: ignore[union-attr]
    assert latest([records[1], records[2]], LatestRule.BY_DOSE) is None


def test_latest_per_dose_highest_first() -> None:
    records = [
        _record("a", 1),
        _record("b", 3, 1),
        _record("c", 2, 2),
        _record("d", 2, 3),
        _record("e", 3, 9, revoked_at=T0),
    ]
    assert [r.certificate_id for r in latest_per_dose(records)] == ["b", "d", "a"]
