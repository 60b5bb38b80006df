"""BulkIssuanceService: running totals while an upload runs, and uploads whose process died."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from certdist.domain.models import VACCINATION, UploadStatus
from certdist.services.common.clock import FixedClock
from certdist.services.issuance.bulk import read_csv
from tests.support.request_bodies import bulk_vaccination_csv
from tests.support.services import ServicesFactory

T0 = datetime(2021, 6, 1, 12, 0, tzinfo=UTC)


def test_totals_are_written_while_the_upload_runs(make_services: ServicesFactory) -> None:
    services = make_services(clock=FixedClock(T0))
    bulk = services.issuance.bulk
    upload = bulk.start("b.csv", VACCINATION, "facility-1")
    parsed = read_csv(bulk_vaccination_csv([f"BULKT{n:03d}" for n in range(250)]), VACCINATION)
    stored: list[int] = []

    def progress(done: int, failed: int) -> None:
        found = services.database.uploads().get(upload.id)
        assert found is not None
        stored.append(found.succeeded)

    finished = bulk.process(upload, parsed, progress=progress)
    # After each chunk of 100 (the heartbeat is written as the next row starts), and at the end.
    assert stored == [0, 100, 200]
    assert (finished.status, finished.succeeded, finished.failed) == (
        UploadStatus.COMPLETED,
        250,
        0,
    )


def test_an_upload_whose_process_died_is_failed_when_uploads_are_next_listed(
    make_services: ServicesFactory,
) -> None:
    clock = FixedClock(T0)
    services = make_services(clock=clock, bulk_stale_after_seconds=60)
    bulk = services.issuance.bulk
    cut = bulk.start("b.csv", VACCINATION, "facility-1")  # never processed: its process died
    clock.advance(timedelta(seconds=59))
    assert [u.status for u in bulk.uploads_of("facility-1")] == [UploadStatus.PROCESSING]
    clock.advance(timedelta(seconds=2))
    [failed] = bulk.uploads_of("facility-1")
    assert (failed.id, failed.status, failed.finished_at) == (
        cut.id,
        UploadStatus.FAILED,
        clock.now(),
    )
    # Starting an upload clears them away too, whoever's they are.
    other = bulk.start("c.csv", VACCINATION, "facility-2")
    clock.advance(timedelta(seconds=61))
    bulk.start("d.csv", VACCINATION, "facility-1")
    stale = services.database.uploads().get(other.id)
    assert stale is not None
    assert stale.status is UploadStatus.FAILED
