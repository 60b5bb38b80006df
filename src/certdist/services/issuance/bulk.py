"""Bulk CSV uploads in DIVOC's column layout: bad rows are reported, good rows are issued."""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from itertools import islice
from typing import Any

from pydantic import ValidationError

from certdist.domain.models import (
    TEST,
    VACCINATION,
    Upload,
    UploadJob,
    UploadRow,
    UploadRowError,
    UploadStatus,
)
from certdist.domain.requests import (
    CertificationRequest,
    TestCertificationRequest,
    field_errors,
)
from certdist.errors import CertdistError, FieldError, InvalidInput, NotFound
from certdist.services.common import Clock, new_record_id, new_worker_id
from certdist.services.issuance.service import AnyRequest, IssuanceService
from certdist.storage.repository import UploadRepository
from certdist.storage.upload_jobs import SqlUploadJobRepository

log = logging.getLogger(__name__)

CHUNK_ROWS = 100
MAX_ROWS = 500_000


def _recipient_columns(*, with_age: bool) -> list[str]:
    return [
        "preEnrollmentCode",
        "recipientName",
        "recipientMobileNumber",
        "recipientDOB",
        *(["recipientAge"] if with_age else []),
        "recipientGender",
        "recipientNationality",
        "recipientIdentity",
        "recipientAddressLine1",
        "recipientAddressLine2",
        "recipientDistrict",
        "recipientState",
        "recipientPincode",
    ]


_FACILITY_COLUMNS = [
    "facilityName",
    "facilityAddressLine1",
    "facilityAddressLine2",
    "facilityDistrict",
    "facilityState",
    "facilityPincode",
]

# DIVOC's column layouts, in its order (a CSV exported for DIVOC uploads here unchanged).
VACCINATION_COLUMNS = [
    *_recipient_columns(with_age=True),
    "vaccinationBatch",
    "vaccinationDate",
    "vaccinationDose",
    "vaccinationTotalDoses",
    "vaccinationEffectiveStart",
    "vaccinationEffectiveEnd",
    "vaccinationManufacturer",
    "vaccinationName",
    "vaccinatorName",
    *_FACILITY_COLUMNS,
]

TEST_COLUMNS = [
    *_recipient_columns(with_age=False),
    "testBatch",
    "disease",
    "testName",
    "testType",
    "result",
    "resultTimestamp",
    "manufacturer",
    "sampleCollectionTimestamp",
    "sampleOrigin",
    "verifier",
    *_FACILITY_COLUMNS,
]

Progress = Callable[[int, int], None]  # (rows done, rows failed)


def _blank_to_none(value: str) -> str | None:
    return value if value != "" else None


def _recipient(row: Mapping[str, str]) -> dict[str, Any]:
    mobile = row.get("recipientMobileNumber", "")
    return {
        "name": row["recipientName"],
        "dob": row["recipientDOB"],
        "age": _blank_to_none(row.get("recipientAge", "")),
        "gender": row["recipientGender"],
        "nationality": row["recipientNationality"],
        "identity": row["recipientIdentity"],
        "contact": [f"tel:{mobile}"] if mobile else [],
        "address": {
            "addressLine1": row["recipientAddressLine1"],
            "addressLine2": row["recipientAddressLine2"],
            "district": row["recipientDistrict"],
            "state": row["recipientState"],
            "pincode": row["recipientPincode"],
        },
    }


def _facility(row: Mapping[str, str]) -> dict[str, Any]:
    return {
        "name": row["facilityName"],
        "address": {
            "addressLine1": row["facilityAddressLine1"],
            "addressLine2": row["facilityAddressLine2"],
            "district": row["facilityDistrict"],
            "state": row["facilityState"],
            "pincode": row["facilityPincode"],
        },
    }


def vaccination_row(row: Mapping[str, str], program_id: str) -> dict[str, Any]:
    return {
        "preEnrollmentCode": row["preEnrollmentCode"],
        "programId": program_id,
        "recipient": _recipient(row),
        "vaccination": {
            "name": row["vaccinationName"],
            "batch": row["vaccinationBatch"],
            "manufacturer": row["vaccinationManufacturer"],
            "date": row["vaccinationDate"],
            "effectiveStart": _blank_to_none(row["vaccinationEffectiveStart"]),
            "effectiveUntil": _blank_to_none(row["vaccinationEffectiveEnd"]),
            "dose": row["vaccinationDose"],
            "totalDoses": row["vaccinationTotalDoses"],
        },
        "vaccinator": {"name": row["vaccinatorName"]},
        "facility": _facility(row),
    }


def test_row(row: Mapping[str, str], program_id: str) -> dict[str, Any]:
    return {
        "preEnrollmentCode": row["preEnrollmentCode"],
        "programId": program_id,
        "recipient": _recipient(row),
        "testDetails": {
            "batch": row["testBatch"],
            "manufacturer": row["manufacturer"],
            "testName": row["testName"],
            "testType": row["testType"],
            "disease": row["disease"],
            "sampleOrigin": row["sampleOrigin"],
            "sampleCollectionTimestamp": row["sampleCollectionTimestamp"],
            "resultTimestamp": row["resultTimestamp"],
            "result": row["result"],
        },
        "verifier": {"name": row["verifier"]},
        "facility": _facility(row),
    }


test_row.__test__ = False  # type: ignore[attr-defined]


@dataclass(frozen=True)
class _Layout:
    columns: Sequence[str]
    to_request: Callable[[Mapping[str, str], str], dict[str, Any]]
    model: type[CertificationRequest] | type[TestCertificationRequest]

    def column_for(self, location: str) -> str:
        """The CSV column behind a request field (``recipient.dob`` → ``recipientDOB``)."""
        return _column_map(self).get(location, location)


def _column_map(layout: _Layout) -> dict[str, str]:
    # Map each column through the row mapping with the column's own name as its value: the
    # leaves of the result say where each column lands, so the reverse map cannot drift.
    sample = layout.to_request({name: name for name in layout.columns}, "")
    found: dict[str, str] = {}

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{path}.{key}" if path else key)
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{path}.{index}")
        elif isinstance(node, str):
            found[path] = node.removeprefix("tel:")
            found.setdefault(path.rsplit(".", 1)[0], node.removeprefix("tel:"))

    walk(sample, "")
    return found


LAYOUTS = {
    VACCINATION: _Layout(VACCINATION_COLUMNS, vaccination_row, CertificationRequest),
    TEST: _Layout(TEST_COLUMNS, test_row, TestCertificationRequest),
}


@dataclass(frozen=True)
class CsvRow:
    """One record of an upload: its values by column, or why it could not be read."""

    number: int
    values: dict[str, str]
    problem: str | None = None


@dataclass(frozen=True)
class ParsedCsv:
    """The header is checked up front; rows are read lazily."""

    rows: Iterator[CsvRow]
    total_rows: int


def read_csv(data: bytes, entity_type: str) -> ParsedCsv:
    """Decode and check the header. Raises ``InvalidInput`` naming missing columns."""
    layout = LAYOUTS[entity_type]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput("the CSV file must be UTF-8 encoded") from exc
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise InvalidInput("the CSV file is empty")
    try:
        header = [name.strip() for name in next(csv.reader([lines[0]]))]
    except csv.Error as exc:
        raise InvalidInput(f"the CSV header cannot be read: {_csv_problem(exc)}") from None
    missing = [name for name in layout.columns if name not in header]
    if missing:
        raise InvalidInput(
            "the CSV header lacks columns",
            [FieldError(f"header.{name}", "missing column") for name in missing],
        )
    reader = csv.reader(io.StringIO(text))
    next(reader)  # the header line
    total = sum(1 for line in lines[1:] if line.strip())
    if total > MAX_ROWS:
        raise InvalidInput(f"at most {MAX_ROWS} rows per upload")
    return ParsedCsv(rows=_rows(reader, header), total_rows=total)


def _rows(reader: Iterator[list[str]], header: list[str]) -> Iterator[CsvRow]:
    """Every non-blank record as a row; a record the CSV reader refuses is reported as that
    row's problem, and reading goes on with the next line (the reader has consumed the bad
    one). Values beyond the header are ignored; missing ones are empty."""
    number = 1
    while True:
        number += 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield CsvRow(number, {}, _csv_problem(exc))
            continue
        if any(value.strip() for value in values):
            cells = [value.strip() for value in values] + [""] * (len(header) - len(values))
            yield CsvRow(number, dict(zip(header, cells, strict=False)))


def _csv_problem(error: csv.Error) -> str:
    if "field larger than field limit" in str(error):
        return f"a cell is longer than {csv.field_size_limit():,} characters"
    return f"not valid CSV ({error})"


#: How long a process holds an upload without renewing its lease (it renews it after every
#: chunk of rows): far longer than one chunk takes, even on a busy machine. An upload whose
#: lease expired lost its process and is resumed by another.
LEASE = timedelta(minutes=10)
#: Claims of one upload before it is failed: an upload that kills its process every time
#: must not take every other process down with it.
MAX_ATTEMPTS = 3

Chunk = list[CsvRow]


def _chunks(rows: Iterator[CsvRow], size: int) -> Iterator[Chunk]:
    chunk: Chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class BulkIssuanceService:
    """Uploads are durable, leased jobs (``storage/upload_jobs.py``). The CSV is stored with
    the upload; the process that received it starts at once (a background task of the
    request) and holds a lease, renewed after each chunk of ``CHUNK_ROWS`` records together
    with the cursor, the running totals and the chunk's row errors. A process that dies stops
    renewing; when the lease expires, any process's next pass (the server's background
    thread, ``certdist worker``) claims the upload and resumes from the cursor. The
    certificates of a chunk are committed by the issuance service before the cursor, so a
    resumed chunk first looks up which of its rows already have a certificate from this upload
    (each names its upload and row) and counts them as issued: no row is issued twice, and a
    duplicate that existed before the upload is still reported as that row's error."""

    def __init__(
        self,
        issuance: IssuanceService,
        uploads: UploadRepository,
        jobs: SqlUploadJobRepository,
        clock: Clock,
        *,
        lease: timedelta = LEASE,
        max_attempts: int = MAX_ATTEMPTS,
        worker_id: str | None = None,
    ) -> None:
        self._issuance = issuance
        self._uploads = uploads
        self._jobs = jobs
        self._clock = clock
        self._lease = lease
        self._max_attempts = max_attempts
        self.worker_id = worker_id or new_worker_id()
        self.wake = threading.Event()
        self._stopping = threading.Event()

    def start(
        self,
        filename: str,
        entity_type: str,
        uploaded_by: str,
        data: bytes,
        *,
        program_id: str = "",
    ) -> Upload:
        """Check the CSV's header and size (``InvalidInput``) and store the upload with its
        CSV, held by this process: :meth:`run` processes it."""
        parsed = read_csv(data, entity_type)
        self._fail_abandoned()
        now = self._clock.now()
        upload = Upload(
            id=new_record_id(),
            filename=filename[:255],
            entity_type=entity_type,
            uploaded_by=uploaded_by,
            created_at=now,
            status=UploadStatus.PROCESSING,
        )
        self._jobs.open(
            upload,
            program_id=program_id,
            csv=data,
            total_rows=parsed.total_rows,
            worker=self.worker_id,
            lease_expires_at=now + self._lease,
        )
        return upload

    def run(self, upload_id: str, *, progress: Progress | None = None) -> Upload:
        """Process an upload :meth:`start` stored, while this process still holds it."""
        job = self._jobs.get(upload_id)
        if job is not None and job.claimed_by == self.worker_id:
            self._process(job, progress)
        upload = self._uploads.get(upload_id)
        if upload is None:
            raise NotFound("no such upload")
        return upload

    def run_next_job(self) -> bool:
        """Resume one upload whose lease expired; False when there was none."""
        now = self._clock.now()
        failed = self._jobs.fail_exhausted(
            now=now,
            max_attempts=self._max_attempts,
            reason=(
                f"processing stopped {self._max_attempts} times without finishing; the rows "
                "not reported here as issued or failed were not processed"
            ),
        )
        for upload_id in failed:
            log.warning("bulk upload %s failed: too many attempts", upload_id)
        job = self._jobs.claim_expired(
            self.worker_id,
            now=now,
            lease_expires_at=now + self._lease,
            max_attempts=self._max_attempts,
        )
        if job is None:
            return False
        log.info(
            "bulk upload %s resumed at record %d (attempt %d)",
            job.upload.id,
            job.next_record,
            job.attempts,
        )
        self._process(job, None)
        return True

    def stop(self) -> None:
        """Ask a running upload to stop after its current chunk and give its lease back."""
        self._stopping.set()
        self.wake.set()

    def carry_on(self) -> None:
        """Process uploads again after :meth:`stop` (an application started anew on the same
        services, as tests do)."""
        self._stopping.clear()

    def uploads_of(self, uploaded_by: str) -> list[Upload]:
        """The newest uploads of one uploader."""
        self._fail_abandoned()
        return self._uploads.list(uploaded_by=uploaded_by)

    def _fail_abandoned(self) -> None:
        """Uploads from before their CSV was stored (migration 0013) cannot be resumed."""
        now = self._clock.now()
        abandoned = self._uploads.fail_abandoned(before=now - self._lease, at=now)
        if abandoned:
            log.warning(
                "bulk uploads whose process stopped marked failed", extra={"count": abandoned}
            )

    def row_errors(self, upload_id: str, *, uploaded_by: str | None = None) -> list[UploadRowError]:
        """Why each failed row failed; ``NotFound`` for another uploader's upload."""
        upload = self._uploads.get(upload_id)
        if upload is None or (uploaded_by is not None and upload.uploaded_by != uploaded_by):
            raise NotFound("no such upload")
        return self._uploads.errors(upload_id)

    def _process(self, job: UploadJob, progress: Progress | None) -> None:
        """Issue every good row from the cursor on, record every bad one; never stops at a
        bad row. An unexpected error gives the lease back (counted as an attempt)."""
        upload = job.upload
        succeeded, failed, cursor = upload.succeeded, upload.failed, job.next_record
        try:
            rows = read_csv(job.csv, upload.entity_type).rows
            for chunk in _chunks(islice(rows, cursor, None), CHUNK_ROWS):
                if self._stopping.is_set():
                    self._jobs.let_go(job, now=self._clock.now(), counts_as_attempt=False)
                    log.info("bulk upload %s given back (shutting down)", upload.id)
                    return
                ok, errors = self._chunk(job, chunk)
                succeeded, failed, cursor = (
                    succeeded + ok,
                    failed + len(errors),
                    cursor + len(chunk),
                )
                now = self._clock.now()
                if not self._jobs.advance(
                    job,
                    next_record=cursor,
                    succeeded=succeeded,
                    failed=failed,
                    errors=errors,
                    now=now,
                    lease_expires_at=now + self._lease,
                ):
                    log.warning("bulk upload %s was taken over by another process", upload.id)
                    return
                if progress:
                    progress(cursor, failed)
            if not self._jobs.complete(
                job, succeeded=succeeded, failed=failed, errors=(), now=self._clock.now()
            ):
                log.warning("bulk upload %s was taken over by another process", upload.id)
        except Exception:
            log.exception("bulk upload stopped", extra={"upload_id": upload.id})
            self._give_back(job)

    def _give_back(self, job: UploadJob) -> None:
        # When the database is away, the lease expires on its own.
        with contextlib.suppress(CertdistError):
            self._jobs.let_go(job, now=self._clock.now(), counts_as_attempt=True)

    def _chunk(self, job: UploadJob, chunk: Chunk) -> tuple[int, list[UploadRowError]]:
        """Issue a chunk's good rows; how many were issued, and the bad rows' errors."""
        upload_id = job.upload.id
        layout = LAYOUTS[job.upload.entity_type]
        errors: list[UploadRowError] = []
        good: list[tuple[int, AnyRequest]] = []
        for record in chunk:
            code = record.values.get("preEnrollmentCode", "")[:64]
            if record.problem is not None:
                errors.append(
                    _error(upload_id, record.number, code, [FieldError("row", record.problem)])
                )
                continue
            try:
                request = layout.model.model_validate(
                    layout.to_request(record.values, job.program_id)
                )
            except ValidationError as exc:
                problems = [
                    FieldError(layout.column_for(e.location), e.message) for e in field_errors(exc)
                ]
                errors.append(_error(upload_id, record.number, code, problems))
                continue
            good.append((record.number, request))
        issued_before = 0
        if job.attempts > 1 and good:
            # The chunk may have been issued before the last holder stopped.
            done = self._jobs.issued_rows(upload_id, [r.preEnrollmentCode for _, r in good])
            issued_before = sum(1 for number, _ in good if number in done)
            good = [(number, request) for number, request in good if number not in done]
        ok, refused = self._issue(layout, upload_id, good)
        return issued_before + ok, sorted(errors + refused, key=lambda e: e.row)

    def _issue(
        self, layout: _Layout, upload_id: str, good: list[tuple[int, AnyRequest]]
    ) -> tuple[int, list[UploadRowError]]:
        if not good:
            return 0, []
        try:
            self._issuance.certify(
                [request for _, request in good],
                origins=[UploadRow(upload_id, number) for number, _ in good],
            )
            return len(good), []
        except CertdistError:
            pass
        # Something in the chunk was refused: issue row by row to find which.
        ok = 0
        errors: list[UploadRowError] = []
        for number, request in good:
            code = request.preEnrollmentCode
            try:
                self._issuance.certify([request], origins=[UploadRow(upload_id, number)])
                ok += 1
            except InvalidInput as exc:
                problems = [
                    FieldError(layout.column_for(e.location.split(".", 1)[-1]), e.message)
                    for e in exc.errors
                ] or [FieldError("row", exc.message)]
                errors.append(_error(upload_id, number, code, problems))
            except CertdistError as exc:
                errors.append(_error(upload_id, number, code, [FieldError("row", str(exc))]))
        return ok, errors


def _error(upload_id: str, number: int, code: str, errors: list[FieldError]) -> UploadRowError:
    return UploadRowError(
        upload_id=upload_id, row=number, pre_enrollment_code=code, errors=tuple(errors)
    )


def errors_csv(errors: Sequence[UploadRowError]) -> str:
    """The failed rows as CSV, one line per field error, for the uploader's spreadsheet.

    Every cell that a spreadsheet would read as a formula (it starts with ``=``, ``+``, ``-``,
    ``@``, a tab or a carriage return) gets a leading apostrophe, so opening the report never
    runs what an uploaded file held."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["row", "preEnrollmentCode", "field", "message"])
    for error in errors:
        for problem in error.errors or (FieldError("", ""),):
            cells = [str(error.row), error.pre_enrollment_code, problem.location, problem.message]
            writer.writerow([_inert(cell) for cell in cells])
    return out.getvalue()


def _inert(cell: str) -> str:
    return "'" + cell if cell.startswith(("=", "+", "-", "@", "\t", "\r")) else cell
