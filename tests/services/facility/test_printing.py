"""Batch printing over a real database (SQLite and PostgreSQL) and the real renderer."""

from __future__ import annotations

import io
import itertools
import json
import uuid
import zipfile
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from certdist.domain.models import VACCINATION, CertificateRecord
from certdist.domain.printing import PrintJobStatus
from certdist.domain.roles import Principal
from certdist.errors import Conflict, InvalidInput, NotFound
from certdist.formats.pdf import PdfRenderer
from certdist.services.common.clock import FixedClock
from certdist.services.facility import printing
from certdist.services.facility.printing import (
    BatchFormat,
    BeneficiaryList,
    FacilityDay,
    PrintOptions,
    PrintService,
    parse_selection,
    read_codes_file,
)
from certdist.storage import Database
from tests.support.credentials import make_credential
from tests.support.imaging import pdf_text

T0 = datetime(2021, 7, 1, 9, 0, tzinfo=UTC)
HERE = "PHC Indiranagar"
DAY = date(2021, 5, 2)
ON_THE_DAY = "2021-05-02T10:00:00.000Z"
OWNER = Principal(subject="s1", username="printer-1", roles=frozenset({"facility-print"}))
OTHER = Principal(subject="s2", username="printer-2", roles=frozenset({"facility-print"}))

MakeRecord = Callable[..., CertificateRecord]


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def service(
    database: Database, renderer: PdfRenderer, clock: FixedClock, tmp_path: Path
) -> PrintService:
    options = PrintOptions(output_dir=tmp_path / "prints", chunk_size=2)
    return PrintService(
        database.print_selection(),
        database.print_jobs(),
        renderer,
        database.audit(),
        clock,
        options,
        worker_id="worker-a",
    )


@pytest.fixture
def make_record() -> MakeRecord:
    """A stored-certificate record whose credential was given at ``facility`` on ``when``."""
    counter = itertools.count(1)

    def make(
        code: str,
        *,
        dose: int = 1,
        facility: str = HERE,
        when: str = ON_THE_DAY,
        **overrides: Any,
    ) -> CertificateRecord:
        n = next(counter)
        certificate_id = f"9{n:011d}"
        credential = make_credential(
            dose=dose,
            total=2,
            name=f"Person {code}",
            certificate_id=certificate_id,
            ref_id=code,
            date=when,
            issued=(T0 + timedelta(seconds=n)).isoformat().replace("+00:00", "Z"),
        )
        credential["evidence"][0]["facility"]["name"] = facility
        fields: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "certificate_id": certificate_id,
            "pre_enrollment_code": code,
            "entity_type": VACCINATION,
            "program_id": "C19",
            "dose": dose,
            "total_doses": 2,
            "name": f"Person {code}",
            "dob": None,
            "gender": "Female",
            "mobile": None,
            "contacts": (),
            "certificate": json.dumps(credential, separators=(",", ":")),
            "key_id": "k",
            "created_at": T0 + timedelta(seconds=n),
            "updated_at": T0 + timedelta(seconds=n),
        }
        fields.update(overrides)
        return CertificateRecord(**fields)

    return make


def _pages(pdf: Path, directory: Path) -> list[str]:
    pages = pdf_text(pdf.read_bytes(), directory).split("\f")
    return [page for page in pages if page.strip()]


def _printed_ids(pages: list[str], records: list[CertificateRecord]) -> list[list[str]]:
    return [[r.certificate_id for r in records if r.certificate_id in page] for page in pages]


# --- selections ---------------------------------------------------------------------------


def test_selection_is_a_facility_day_or_a_code_list() -> None:
    assert parse_selection(facility=" PHC ", day="2021-05-02", max_codes=5) == FacilityDay(
        "PHC", DAY
    )
    assert parse_selection(codes=["B-2", "B-1", "B-2"], max_codes=5) == BeneficiaryList(
        ("B-2", "B-1")
    )


@pytest.mark.parametrize(
    ("arguments", "fields"),
    [
        ({"facility": "PHC"}, {"date"}),
        ({"day": "2021-05-02"}, {"facility"}),
        ({"facility": "PHC", "day": "02/05/2021"}, {"date"}),
        ({"facility": "PHC\x00", "day": "2021-05-02"}, {"facility"}),
        ({"facility": "PHC\ud800", "day": "2021-05-02"}, {"facility"}),
        ({}, {"facility", "date"}),
        ({"codes": ["ok", "not ok", 7]}, {"codes.1", "codes.2"}),
        ({"codes": []}, {"codes"}),
        ({"codes": [f"B{i}" for i in range(6)]}, {"codes"}),
    ],
)
def test_bad_selections_name_every_problem(arguments: dict[str, Any], fields: set[str]) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_selection(**arguments, max_codes=5)
    assert {error.location for error in caught.value.errors} == fields


def test_facility_and_codes_together_are_refused() -> None:
    with pytest.raises(InvalidInput, match="not both"):
        parse_selection(facility="PHC", day=DAY, codes=["B1"], max_codes=5)


def test_codes_file_lines_and_csv() -> None:
    text = 'preEnrollmentCode,name\n# a comment\nB-1,Asha\n\n  B-2  \n"B-3",x\n'
    assert read_codes_file(text) == ["B-1", "B-2", "B-3"]


# --- writing batches ------------------------------------------------------------------------


def test_facility_day_prints_each_beneficiary_vaccinated_there_that_day(
    database: Database, service: PrintService, make_record: MakeRecord, tmp_path: Path
) -> None:
    wanted = [make_record(f"B-{i}") for i in (3, 1, 5, 2, 4)]  # five, in chunks of two
    distractors = [
        make_record("C-1", facility="PHC Whitefield"),
        make_record("C-2", when="2021-05-03T10:00:00.000Z"),
        make_record("C-3", revoked_at=T0),
        make_record("C-4", superseded_by="1"),
    ]
    # B-1's second dose on another day is shown in its table, but its page is this day's.
    later = make_record("B-1", dose=2, when="2021-07-26T10:00:00.000Z")
    database.certificates().add([*wanted, *distractors, later])
    target = tmp_path / "out" / "batch.pdf"
    progress: list[tuple[int, int]] = []
    result = service.write(
        FacilityDay(HERE, DAY),
        BatchFormat.PDF,
        target,
        actor="tester",
        progress=lambda done, total: progress.append((done, total)),
    )
    assert (result.printed, result.unknown, result.path) == (5, (), target)
    assert progress[-1] == (5, 5)
    pages = _pages(target, tmp_path)
    by_code = sorted(wanted, key=lambda r: r.pre_enrollment_code)
    printed = _printed_ids(pages, [*wanted, *distractors])
    assert printed == [[r.certificate_id] for r in by_code]
    assert "26 Jul 2021" in pages[0]  # the doses table of B-1
    assert "Provisional" in pages[0]


def test_codes_print_the_latest_certificate_with_every_dose(
    database: Database, service: PrintService, make_record: MakeRecord, tmp_path: Path
) -> None:
    first = make_record("B-1", dose=1, facility="Elsewhere", when="2021-03-01T10:00:00Z")
    second = make_record("B-1", dose=2)
    revoked = make_record("B-2", revoked_at=T0)
    wrong = make_record("B-3", dose=1)
    corrected = make_record("B-3", dose=1, previous_certificate_id=wrong.certificate_id)
    database.certificates().add([first, second, revoked, wrong])
    database.certificates().replace(wrong, corrected)
    target = tmp_path / "codes.pdf"
    codes = ["B-3", "NOBODY", "B-1", "B-2", "B-3"]
    result = service.write(
        parse_selection(codes=codes, max_codes=10), BatchFormat.PDF, target, actor="tester"
    )
    assert result.printed == 2
    assert result.unknown == ("NOBODY", "B-2")
    pages = _pages(target, tmp_path)
    assert len(pages) == 2
    assert corrected.certificate_id in pages[0]
    assert wrong.certificate_id not in pages[0]
    assert second.certificate_id in pages[1]
    assert "01 Mar 2021" in pages[1]  # every dose, as the single PDF lists them
    assert "Final" in pages[1]


def test_qr_helper_process_gives_the_same_file(
    database: Database,
    renderer: PdfRenderer,
    clock: FixedClock,
    make_record: MakeRecord,
    tmp_path: Path,
) -> None:
    database.certificates().add([make_record(f"B-{i}") for i in range(5)])
    codes = BeneficiaryList(("B-4", "NOBODY", "B-0", "B-3", "GONE", "B-1", "B-2"))
    files = []
    for helpers in (0, 1):
        options = PrintOptions(output_dir=tmp_path, chunk_size=3, qr_processes=helpers)
        service = PrintService(
            database.print_selection(),
            database.print_jobs(),
            renderer,
            database.audit(),
            clock,
            options,
        )
        target = tmp_path / f"helpers-{helpers}.pdf"
        result = service.write(codes, BatchFormat.PDF, target, actor="t")
        assert (result.printed, result.unknown) == (5, ("NOBODY", "GONE"))
        files.append(target.read_bytes())
    assert files[0] == files[1]


def test_printed_certificates_are_audited(
    database: Database, service: PrintService, make_record: MakeRecord, tmp_path: Path
) -> None:
    record = make_record("B-1")
    database.certificates().add([record])
    service.write(
        BeneficiaryList(("B-1",)), BatchFormat.ZIP, tmp_path / "b.zip", actor="clerk", issuer="iss"
    )
    assert database.audit().flush()
    [entry] = database.audit().for_beneficiary("B-1")
    assert (entry.actor, entry.issuer, entry.permission, entry.format) == (
        "clerk",
        "iss",
        "print",
        "zip-batch",
    )
    assert entry.certificate_id == record.certificate_id


def test_zip_batch_holds_one_pdf_per_beneficiary(
    database: Database, service: PrintService, make_record: MakeRecord, tmp_path: Path
) -> None:
    records = [make_record(f"B-{i}") for i in range(3)]
    database.certificates().add(records)
    target = tmp_path / "b.zip"
    result = service.write(FacilityDay(HERE, DAY), BatchFormat.ZIP, target, actor="t")
    assert result.printed == 3
    with zipfile.ZipFile(target) as archive:
        assert sorted(archive.namelist()) == sorted(
            f"certificate-{r.certificate_id}.pdf" for r in records
        )
        assert all(archive.read(name).startswith(b"%PDF-") for name in archive.namelist())


def test_nothing_to_print_writes_no_file(
    service: PrintService, tmp_path: Path, database: Database
) -> None:
    target = tmp_path / "kept.pdf"
    target.write_bytes(b"an earlier batch")
    result = service.write(BeneficiaryList(("NOBODY",)), BatchFormat.PDF, target, actor="t")
    assert (result.written, result.printed, result.unknown) == (False, 0, ("NOBODY",))
    assert target.read_bytes() == b"an earlier batch"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.pdf"]


@pytest.mark.parametrize("fmt", list(BatchFormat))
def test_a_failure_midway_leaves_no_half_written_file(
    database: Database,
    service: PrintService,
    make_record: MakeRecord,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fmt: BatchFormat,
) -> None:
    database.certificates().add([make_record("B-1"), make_record("B-2")])
    monkeypatch.setattr(printing, "PROGRESS_EVERY", 1)

    def fail(done: int, total: int) -> None:
        if done:  # after the first page is written
            raise OSError("disk full")

    target = tmp_path / "out" / f"batch.{fmt.value}"
    with pytest.raises(OSError, match="disk full"):
        service.write(FacilityDay(HERE, DAY), fmt, target, actor="t", progress=fail)
    assert list(target.parent.iterdir()) == []


# --- jobs -----------------------------------------------------------------------------------


def test_a_job_runs_to_completion_and_only_its_owner_sees_it(
    database: Database, service: PrintService, make_record: MakeRecord, tmp_path: Path
) -> None:
    database.certificates().add([make_record("B-1"), make_record("B-2")])
    job = service.submit(OWNER, BeneficiaryList(("B-1", "NOBODY", "B-2")), BatchFormat.PDF)
    assert (job.status, job.total, job.done) == (PrintJobStatus.QUEUED, 3, 0)
    with pytest.raises(Conflict):
        service.output(job.id, OWNER)
    assert service.run_next_job()
    done = service.job(job.id, OWNER)
    assert (done.status, done.done, done.total, done.unknown) == (
        PrintJobStatus.SUCCEEDED,
        3,
        3,
        ("NOBODY",),
    )
    output = service.output(job.id, OWNER)
    assert output.media_type == "application/pdf"
    assert len(_pages(output.path, tmp_path)) == 2
    for action in (service.job, service.output):
        with pytest.raises(NotFound):
            action(job.id, OTHER)
    assert not service.run_next_job()


def test_a_job_with_nothing_to_print_fails_and_reports_the_ids(service: PrintService) -> None:
    job = service.submit(OWNER, BeneficiaryList(("NOBODY",)), BatchFormat.ZIP)
    assert service.run_next_job()
    failed = service.job(job.id, OWNER)
    assert failed.status is PrintJobStatus.FAILED
    assert failed.unknown == ("NOBODY",)
    assert failed.error == "no live certificate matches the selection"


def test_a_job_left_by_a_dead_worker_is_finished_by_another(
    tmp_path: Path,
    database: Database,
    service: PrintService,
    make_record: MakeRecord,
    clock: FixedClock,
) -> None:
    database.certificates().add([make_record("B-1")])
    job = service.submit(OWNER, FacilityDay(HERE, DAY), BatchFormat.PDF)
    claimed = database.print_jobs().claim_next(
        "dead-worker", now=T0, stale_before=T0 - timedelta(minutes=5), max_attempts=3
    )
    assert claimed is not None
    # What the dead worker had written: its temporary file, never renamed nor removed.
    prints = tmp_path / "prints"
    prints.mkdir(parents=True, exist_ok=True)
    (prints / f".{job.id}.pdf.{uuid.uuid4().hex}.part").write_bytes(b"%PDF-1.7\nhalf a batch")
    other_job = prints / f".another-job.pdf.{uuid.uuid4().hex}.part"
    other_job.write_bytes(b"%PDF-1.7\n")
    assert not service.run_next_job()  # its heartbeat is still fresh
    clock.advance(timedelta(minutes=6))
    assert service.run_next_job()
    finished = service.job(job.id, OWNER)
    assert (finished.status, finished.attempts, finished.claimed_by) == (
        PrintJobStatus.SUCCEEDED,
        2,
        "worker-a",
    )
    # The second attempt removed the first one's partial file, and only that one.
    assert sorted(p.name for p in prints.iterdir()) == sorted([f"{job.id}.pdf", other_job.name])


def test_a_stopping_worker_returns_its_job_to_the_queue(
    database: Database, service: PrintService, make_record: MakeRecord
) -> None:
    database.certificates().add([make_record("B-1")])
    job = service.submit(OWNER, BeneficiaryList(("B-1",)), BatchFormat.PDF)
    service.stop()
    assert service.run_next_job()
    back = service.job(job.id, OWNER)
    assert (back.status, back.attempts, back.claimed_by) == (PrintJobStatus.QUEUED, 0, None)


def test_outputs_are_removed_after_their_retention(
    database: Database,
    service: PrintService,
    make_record: MakeRecord,
    clock: FixedClock,
) -> None:
    database.certificates().add([make_record("B-1")])
    job = service.submit(OWNER, BeneficiaryList(("B-1",)), BatchFormat.PDF)
    assert service.run_next_job()
    path = service.output(job.id, OWNER).path
    assert path.is_file()
    clock.advance(PrintOptions(output_dir=path.parent).keep_for + timedelta(seconds=1))
    assert not service.run_next_job()
    assert not path.exists()
    with pytest.raises(NotFound, match="expired"):
        service.output(job.id, OWNER)


def test_output_media_type_of_a_zip_job(
    database: Database, service: PrintService, make_record: MakeRecord
) -> None:
    database.certificates().add([make_record("B-1")])
    job = service.submit(OWNER, BeneficiaryList(("B-1",)), BatchFormat.ZIP)
    assert service.run_next_job()
    output = service.output(job.id, OWNER)
    assert (output.media_type, output.filename) == ("application/zip", f"certificates-{job.id}.zip")
    assert zipfile.ZipFile(io.BytesIO(output.path.read_bytes())).testzip() is None
