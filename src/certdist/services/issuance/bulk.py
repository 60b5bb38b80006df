"""Bulk CSV uploads in DIVOC's column layout: bad rows are reported, good rows are issued."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import ValidationError

from certdist.domain.models import TEST, VACCINATION, Upload, UploadRowError, UploadStatus
from certdist.domain.requests import (
    CertificationRequest,
    TestCertificationRequest,
    field_errors,
)
from certdist.errors import CertdistError, FieldError, InvalidInput, NotFound
from certdist.services.common import Clock, new_record_id
from certdist.services.issuance.service import AnyRequest, IssuanceService
from certdist.storage.repository import UploadRepository

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


#: An upload processing with no heartbeat for this long lost its process: far longer than
#: one chunk of rows takes, even on a busy machine.
STALE_AFTER = timedelta(minutes=10)


class BulkIssuanceService:
    """Uploads run in the process that received them (a background task of the request).
    Each chunk of rows is issued in one transaction and followed by a heartbeat; an upload
    whose process died stops heartbeating and is marked ``failed`` when uploads are next
    listed or started, never left ``processing``. Uploading the file again is safe: a row
    whose certificate was issued before the crash is refused as a duplicate
    (preEnrollmentCode, programme and dose are unique) and reported as that row's error."""

    def __init__(
        self,
        issuance: IssuanceService,
        uploads: UploadRepository,
        clock: Clock,
        *,
        stale_after: timedelta = STALE_AFTER,
    ) -> None:
        self._issuance = issuance
        self._uploads = uploads
        self._clock = clock
        self._stale_after = stale_after

    def start(self, filename: str, entity_type: str, uploaded_by: str) -> Upload:
        self._fail_abandoned()
        upload = Upload(
            id=new_record_id(),
            filename=filename[:255],
            entity_type=entity_type,
            uploaded_by=uploaded_by,
            created_at=self._clock.now(),
            status=UploadStatus.PROCESSING,
        )
        self._uploads.create(upload)
        return upload

    def uploads_of(self, uploaded_by: str) -> list[Upload]:
        """The newest uploads of one uploader."""
        self._fail_abandoned()
        return self._uploads.list(uploaded_by=uploaded_by)

    def _fail_abandoned(self) -> None:
        now = self._clock.now()
        abandoned = self._uploads.fail_abandoned(before=now - self._stale_after, at=now)
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

    def process(
        self,
        upload: Upload,
        parsed: ParsedCsv,
        *,
        program_id: str = "",
        progress: Progress | None = None,
    ) -> Upload:
        """Issue every good row, record every bad one; never stops at a bad row."""
        layout = LAYOUTS[upload.entity_type]
        done = failed = succeeded = beaten = 0
        chunk: list[tuple[int, AnyRequest]] = []
        try:
            for record in parsed.rows:
                if done - beaten >= CHUNK_ROWS:  # rows issued or refused: either is progress
                    self._uploads.heartbeat(
                        upload.id, at=self._clock.now(), succeeded=succeeded, failed=failed
                    )
                    beaten = done
                number, row = record.number, record.values
                if record.problem is not None:
                    self._fail(upload.id, number, row, [FieldError("row", record.problem)])
                    failed += 1
                    done += 1
                    continue
                try:
                    chunk.append(
                        (number, layout.model.model_validate(layout.to_request(row, program_id)))
                    )
                except ValidationError as exc:
                    errors = [
                        FieldError(layout.column_for(e.location), e.message)
                        for e in field_errors(exc)
                    ]
                    self._fail(upload.id, number, row, errors)
                    failed += 1
                    done += 1
                if len(chunk) >= CHUNK_ROWS:
                    ok, bad = self._issue_chunk(layout, upload.id, chunk)
                    succeeded, failed, done = succeeded + ok, failed + bad, done + len(chunk)
                    chunk = []
                    if progress:
                        progress(done, failed)
            if chunk:
                ok, bad = self._issue_chunk(layout, upload.id, chunk)
                succeeded, failed, done = succeeded + ok, failed + bad, done + len(chunk)
            status = UploadStatus.COMPLETED
        except Exception:
            log.exception("bulk upload stopped", extra={"upload_id": upload.id})
            status = UploadStatus.FAILED
        if progress:
            progress(done, failed)
        self._uploads.finish(
            upload.id,
            status=status,
            total_rows=parsed.total_rows,
            succeeded=succeeded,
            failed=failed,
            at=self._clock.now(),
        )
        finished = self._uploads.get(upload.id)
        assert finished is not None
        return finished

    def _issue_chunk(
        self, layout: _Layout, upload_id: str, chunk: list[tuple[int, AnyRequest]]
    ) -> tuple[int, int]:
        try:
            self._issuance.certify([request for _, request in chunk])
            return len(chunk), 0
        except CertdistError:
            pass
        # Something in the chunk was refused: issue row by row to find which.
        ok = bad = 0
        for number, request in chunk:
            try:
                self._issuance.certify([request])
                ok += 1
            except InvalidInput as exc:
                errors = [
                    FieldError(layout.column_for(e.location.split(".", 1)[-1]), e.message)
                    for e in exc.errors
                ] or [FieldError("row", exc.message)]
                self._record_errors(upload_id, number, request.preEnrollmentCode, errors)
                bad += 1
            except CertdistError as exc:
                self._record_errors(
                    upload_id, number, request.preEnrollmentCode, [FieldError("row", str(exc))]
                )
                bad += 1
        return ok, bad

    def _fail(
        self, upload_id: str, number: int, row: Mapping[str, str], errors: list[FieldError]
    ) -> None:
        self._record_errors(upload_id, number, row.get("preEnrollmentCode", "")[:64], errors)

    def _record_errors(
        self, upload_id: str, number: int, code: str, errors: list[FieldError]
    ) -> None:
        self._uploads.add_errors(
            [
                UploadRowError(
                    upload_id=upload_id, row=number, pre_enrollment_code=code, errors=tuple(errors)
                )
            ]
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
