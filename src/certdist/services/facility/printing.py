"""Batch printing: every certificate of a facility-day, or of a list of beneficiary ids, in one
multi-page PDF or a ZIP of PDFs (slow work goes through durable jobs: docs/architecture.md,
“Running many processes”).

Certificates are read from the database a chunk at a time and written to the file as they
come, so memory does not grow with the batch. The file is written under a temporary name
and renamed only when complete: a reader never sees half a batch. For a list of ids, each
beneficiary gets the certificate the single-PDF API serves (the latest live one, with every
dose in its table); ids without one are reported, never fatal. For a facility-day, each
beneficiary vaccinated there that day gets the certificate of that vaccination.

Jobs (``POST /certificate/api/print-jobs``) are rows in ``print_jobs``; any process may run
them with :meth:`PrintService.run_next_job` (the server's background thread, the worker).
"""

from __future__ import annotations

import logging
import os
import re
import threading
import unicodedata
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, BinaryIO

from certdist.domain.latest import LatestRule, latest
from certdist.domain.models import VACCINATION, Download
from certdist.domain.printing import PrintJob, PrintJobStatus
from certdist.domain.requests import PRE_ENROLLMENT_CODE_PATTERN
from certdist.domain.roles import Permission, Principal
from certdist.errors import CertdistError, Conflict, FieldError, InvalidInput, NotFound
from certdist.formats.divoc_qr import PayloadForm
from certdist.formats.pdf import PdfRenderer
from certdist.formats.pdf.batch import BatchPdfWriter, BatchWriter, BatchZipWriter
from certdist.formats.pdf.qr_pool import PreparedQr, QrPool
from certdist.formats.registry import CertificateBundle
from certdist.services.common import Clock, JobRunner, new_record_id, new_worker_id
from certdist.storage.print_jobs import (
    SelectedCertificate,
    SqlPrintJobRepository,
    SqlPrintSelection,
)
from certdist.storage.repository import DownloadAudit

log = logging.getLogger(__name__)

_CODE = re.compile(PRE_ENROLLMENT_CODE_PATTERN)
MAX_FACILITY_LENGTH = 500
#: Progress is reported (and a job's heartbeat written) after this many beneficiaries.
PROGRESS_EVERY = 100


class BatchFormat(StrEnum):
    PDF = "pdf"
    ZIP = "zip"


@dataclass(frozen=True)
class FacilityDay:
    """Certificates of vaccinations given at ``facility`` (its name as in the credential)
    on ``day`` (the calendar date as written in the credential's ``evidence.date``)."""

    facility: str
    day: date

    def as_json(self) -> dict[str, Any]:
        return {"facility": self.facility, "date": self.day.isoformat()}


@dataclass(frozen=True)
class BeneficiaryList:
    """The latest certificate of each beneficiary id, in the order given (repeats dropped)."""

    codes: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {"codes": list(self.codes)}


Selection = FacilityDay | BeneficiaryList


def parse_selection(
    *,
    facility: str | None = None,
    day: date | str | None = None,
    codes: Sequence[object] | None = None,
    max_codes: int,
) -> Selection:
    """A facility and a date, or a list of beneficiary ids; every problem reported at once."""
    errors: list[FieldError] = []
    if codes is not None:
        if facility is not None or day is not None:
            raise InvalidInput("give either a facility and a date, or a list of codes, not both")
        return BeneficiaryList(_codes(codes, max_codes, errors))
    facility = (facility or "").strip()
    if not facility:
        errors.append(FieldError("facility", "required (or give codes)"))
    elif len(facility) > MAX_FACILITY_LENGTH:
        errors.append(FieldError("facility", f"at most {MAX_FACILITY_LENGTH} characters"))
    elif any(unicodedata.category(char) in ("Cc", "Cs") for char in facility):
        errors.append(FieldError("facility", "control characters are not allowed"))
    parsed_day = day if isinstance(day, date) else None
    if day is None:
        errors.append(FieldError("date", "required with a facility (YYYY-MM-DD)"))
    elif isinstance(day, str):
        try:
            parsed_day = date.fromisoformat(day)
        except ValueError:
            errors.append(FieldError("date", "not a date (YYYY-MM-DD)"))
    if errors or parsed_day is None:
        raise InvalidInput("invalid print selection", errors)
    return FacilityDay(facility, parsed_day)


def _codes(codes: Sequence[object], max_codes: int, errors: list[FieldError]) -> tuple[str, ...]:
    if not codes:
        raise InvalidInput("the list of codes is empty", [FieldError("codes", "empty")])
    if len(codes) > max_codes:
        raise InvalidInput(
            f"at most {max_codes} codes per batch", [FieldError("codes", "too many")]
        )
    unique: dict[str, None] = {}
    for index, code in enumerate(codes):
        if not isinstance(code, str) or not _CODE.fullmatch(code):
            errors.append(FieldError(f"codes.{index}", "not a beneficiary id"))
        else:
            unique.setdefault(code)
    if errors:
        raise InvalidInput("invalid beneficiary ids", errors[:100])
    return tuple(unique)


def selection_from_json(data: Mapping[str, Any], *, max_codes: int) -> Selection:
    """The selection stored with a job (written by :meth:`as_json`)."""
    if "codes" in data:
        return parse_selection(codes=data["codes"], max_codes=max_codes)
    return parse_selection(facility=data.get("facility"), day=data.get("date"), max_codes=max_codes)


def read_codes_file(text: str) -> list[str]:
    """Beneficiary ids from a text file: one per line (or CSV: the first column); blank
    lines, ``#`` comments and a ``preEnrollmentCode`` header are skipped."""
    codes = []
    for line in text.splitlines():
        value = line.split(",", 1)[0].strip().strip('"')
        if value and not value.startswith("#") and value != "preEnrollmentCode":
            codes.append(value)
    return codes


@dataclass(frozen=True)
class BatchResult:
    """What a batch printed. ``path`` is None when nothing matched (no file is written)."""

    printed: int
    unknown: tuple[str, ...]
    path: Path | None
    size: int

    @property
    def written(self) -> bool:
        return self.path is not None


@dataclass(frozen=True)
class JobOutput:
    path: Path
    media_type: str
    filename: str


Progress = Callable[[int, int], None]  # (beneficiaries done, total)
Selected = tuple[str, CertificateBundle | None]  # a beneficiary id, what to print or None
Prepared = tuple[str, CertificateBundle | None, PreparedQr | None]
#: Certificates per task handed to a QR helper process: small enough that the first pages
#: are drawn soon after the batch starts, large enough that hand-over costs little.
QR_BATCH = 50


def _joined(chunk: list[Selected], futures: list[Future[list[PreparedQr]]]) -> Iterator[Prepared]:
    encoded = (qr for future in futures for qr in future.result())
    for code, bundle in chunk:
        yield code, bundle, None if bundle is None else next(encoded)


class _Stop(Exception):
    """Raised from a job's progress report to abandon the render."""


class _ClaimLost(_Stop):
    """Another worker took the job over (this one was thought dead)."""


class _ShuttingDown(_Stop):
    """The process is stopping: the job goes back to the queue for another worker."""


@dataclass(frozen=True)
class PrintOptions:
    output_dir: Path
    chunk_size: int = 500
    max_codes: int = 20_000
    stale_after: timedelta = timedelta(minutes=5)
    max_attempts: int = 3
    keep_for: timedelta = timedelta(hours=72)
    form: PayloadForm = "zip"
    rule: LatestRule = LatestRule.BY_DOSE
    #: Helper processes encoding QR codes (0: in the rendering thread).
    qr_processes: int = 0


class PrintService:
    def __init__(
        self,
        selection: SqlPrintSelection,
        jobs: SqlPrintJobRepository,
        renderer: PdfRenderer,
        audit: DownloadAudit,
        clock: Clock,
        options: PrintOptions,
        *,
        worker_id: str | None = None,
    ) -> None:
        self._selection = selection
        self._jobs = jobs
        self._renderer = renderer
        self._audit = audit
        self._clock = clock
        self._options = options
        self.worker_id = worker_id or new_worker_id()
        #: Set when a job is submitted, so an idle runner thread in this process starts at once.
        self.wake = threading.Event()
        self._stopping = threading.Event()

    @property
    def max_codes(self) -> int:
        return self._options.max_codes

    # --- printing a selection to a file ----------------------------------------------------

    def count(self, selection: Selection) -> int:
        """How many beneficiaries the selection covers (the progress total)."""
        if isinstance(selection, BeneficiaryList):
            return len(selection.codes)
        return self._selection.count_facility_day(selection.facility, selection.day, VACCINATION)

    def write(
        self,
        selection: Selection,
        fmt: BatchFormat,
        target: Path,
        *,
        actor: str,
        issuer: str = "",
        progress: Progress | None = None,
    ) -> BatchResult:
        """Render the selection into ``target`` (created or replaced only when complete).

        Every certificate rendered into the batch is written to the download audit as
        delivered to ``actor``, also when the batch fails later: the audit errs on the side of
        recording who saw what.
        """
        total = self.count(selection)
        if progress is not None:
            progress(0, total)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(_partial_name(target))
        unknown: list[str] = []
        done = printed = 0
        renderer = self._renderer
        pool = QrPool(
            self._options.qr_processes,
            form=self._options.form,
            ec=renderer.qr_ec,
            mask=renderer.qr_mask,
        )
        try:
            with pool, temporary.open("wb", buffering=1 << 20) as out:
                writer = self._writer(fmt, out)
                try:
                    for code, bundle, qr in self._with_qr(selection, pool):
                        if bundle is None:
                            unknown.append(code)
                        else:
                            writer.add(bundle, qr)
                            self._audited(bundle, fmt, actor, issuer)
                            printed += 1
                        done += 1
                        if progress is not None and done % PROGRESS_EVERY == 0:
                            progress(done, total)
                except BaseException:
                    writer.discard()
                    raise
                if not printed:
                    writer.discard()
                else:
                    writer.finish()
                    out.flush()
                    os.fsync(out.fileno())
            if printed:
                os.replace(temporary, target)
        finally:
            temporary.unlink(missing_ok=True)
        if progress is not None:
            progress(done, max(total, done))
        if not printed:
            return BatchResult(0, tuple(unknown), None, 0)
        return BatchResult(printed, tuple(unknown), target, target.stat().st_size)

    def _writer(self, fmt: BatchFormat, out: BinaryIO) -> BatchWriter:
        if fmt is BatchFormat.ZIP:
            return BatchZipWriter(
                self._renderer, out, timestamp=self._clock.now(), form=self._options.form
            )
        return BatchPdfWriter(self._renderer, out, form=self._options.form)

    def _audited(
        self, bundle: CertificateBundle, fmt: BatchFormat, actor: str, issuer: str
    ) -> None:
        record = bundle.latest
        self._audit.record(
            Download(
                id=new_record_id(),
                at=self._clock.now(),
                actor=actor,
                issuer=issuer,
                permission=Permission.PRINT.value,
                certificate_id=record.certificate_id,
                pre_enrollment_code=record.pre_enrollment_code,
                format=f"{fmt.value}-batch",
            )
        )

    def _with_qr(self, selection: Selection, pool: QrPool) -> Iterator[Prepared]:
        """Every beneficiary with what to print and its QR. The QR codes of the next chunk
        are encoded (by the pool's helper processes) while this chunk's pages are drawn, so
        at most two chunks are held at any time."""
        pending: list[tuple[list[Selected], list[Future[list[PreparedQr]]]]] = []
        for chunk in self._chunks(selection):
            texts = [bundle.latest.certificate for _, bundle in chunk if bundle is not None]
            step = QR_BATCH
            futures = [pool.submit(texts[i : i + step]) for i in range(0, len(texts), step)]
            pending.append((chunk, futures))
            if len(pending) > 1:
                yield from _joined(*pending.pop(0))
        while pending:
            yield from _joined(*pending.pop(0))

    def _chunks(self, selection: Selection) -> Iterator[list[Selected]]:
        """(beneficiary id, what to print or None) for every beneficiary, chunk by chunk."""
        size = self._options.chunk_size
        if isinstance(selection, BeneficiaryList):
            for start in range(0, len(selection.codes), size):
                chunk = selection.codes[start : start + size]
                yield self._chunk(chunk, self._selection.live_for_codes(chunk, VACCINATION))
            return
        where = (selection.facility, selection.day)
        after: str | None = None
        while True:
            codes = self._selection.facility_day_codes(*where, VACCINATION, after=after, limit=size)
            if not codes:
                return
            after = codes[-1]
            found = self._selection.live_for_codes(codes, VACCINATION, facility_day=where)
            yield self._chunk(codes, found)

    def _chunk(self, codes: Sequence[str], found: Sequence[SelectedCertificate]) -> list[Selected]:
        by_code: dict[str, list[SelectedCertificate]] = {}
        for item in found:
            by_code.setdefault(item.record.pre_enrollment_code, []).append(item)
        chunk: list[Selected] = []
        for code in codes:
            items = by_code.get(code, [])
            records = [item.record for item in items]
            wanted = [item.record for item in items if item.matched]
            chosen = latest(wanted, self._options.rule)
            bundle = (
                None
                if chosen is None
                else CertificateBundle.of(chosen, records, self._options.rule)
            )
            chunk.append((code, bundle))
        return chunk

    # --- jobs ------------------------------------------------------------------------------

    def submit(self, caller: Principal, selection: Selection, fmt: BatchFormat) -> PrintJob:
        job = PrintJob(
            id=new_record_id(),
            owner=caller.username,
            owner_issuer=caller.issuer,
            status=PrintJobStatus.QUEUED,
            format=fmt.value,
            selection=selection.as_json(),
            created_at=self._clock.now(),
            total=len(selection.codes) if isinstance(selection, BeneficiaryList) else 0,
        )
        self._jobs.add(job)
        log.info("print job %s queued (%s)", job.id, fmt.value)
        self.wake.set()
        return job

    def job(self, job_id: str, caller: Principal) -> PrintJob:
        """The caller's own job; anyone else's is answered exactly like a missing one."""
        job = self._jobs.get(job_id)
        if job is None or (job.owner, job.owner_issuer) != (caller.username, caller.issuer):
            raise NotFound("no such print job")
        return job

    def output(self, job_id: str, caller: Principal) -> JobOutput:
        job = self.job(job_id, caller)
        if job.status is not PrintJobStatus.SUCCEEDED:
            raise Conflict(f"the print job has no output (it is {job.status.value})")
        path = self._options.output_dir / (job.output_file or "")
        if not job.output_file or not path.is_file():
            raise NotFound("the output of this print job has expired")
        fmt = BatchFormat(job.format)
        media_type = "application/zip" if fmt is BatchFormat.ZIP else "application/pdf"
        return JobOutput(path, media_type, f"certificates-{job.id}.{fmt.value}")

    def run_next_job(self) -> bool:
        """Claim one queued (or abandoned) job and render it; False when there was none."""
        now = self._clock.now()
        job = self._jobs.claim_next(
            self.worker_id,
            now=now,
            stale_before=now - self._options.stale_after,
            max_attempts=self._options.max_attempts,
        )
        if job is None:
            self._remove_expired_outputs()
            return False
        self._run(job)
        return True

    def stop(self) -> None:
        """Ask a running job to stop at its next progress report and go back to the queue."""
        self._stopping.set()
        self.wake.set()

    def _run(self, job: PrintJob) -> None:
        fmt = BatchFormat(job.format)
        target = self._options.output_dir / f"{job.id}.{fmt.value}"

        def progress(done: int, total: int) -> None:
            if self._stopping.is_set():
                raise _ShuttingDown
            now = self._clock.now()
            if not self._jobs.heartbeat(job.id, self.worker_id, now=now, done=done, total=total):
                raise _ClaimLost

        log.info("print job %s started (attempt %d)", job.id, job.attempts)
        if job.attempts > 1:
            _remove_partials(target)
        try:
            selection = selection_from_json(job.selection, max_codes=self._options.max_codes)
            result = self.write(
                selection,
                fmt,
                target,
                actor=job.owner,
                issuer=job.owner_issuer,
                progress=progress,
            )
        except _ShuttingDown:
            self._jobs.release(job.id, self.worker_id)
            log.info("print job %s returned to the queue (shutting down)", job.id)
            return
        except _ClaimLost:
            log.warning("print job %s was taken over by another worker", job.id)
            return
        except CertdistError as exc:
            self._finish(job, PrintJobStatus.FAILED, error=str(exc))
            return
        except Exception:
            log.exception("print job %s failed", job.id)
            self._finish(job, PrintJobStatus.FAILED, error="internal error while rendering")
            return
        if not result.written:
            self._finish(
                job,
                PrintJobStatus.FAILED,
                error="no live certificate matches the selection",
                unknown=result.unknown,
                done=len(result.unknown),
            )
            return
        self._finish(
            job,
            PrintJobStatus.SUCCEEDED,
            unknown=result.unknown,
            done=result.printed + len(result.unknown),
            output=result,
        )

    def _finish(
        self,
        job: PrintJob,
        status: PrintJobStatus,
        *,
        error: str | None = None,
        unknown: Sequence[str] = (),
        done: int = 0,
        output: BatchResult | None = None,
    ) -> None:
        saved = self._jobs.finish(
            job.id,
            self.worker_id,
            now=self._clock.now(),
            status=status,
            done=done,
            total=max(done, job.total),
            unknown=unknown,
            error=error,
            output_file=output.path.name if output and output.path else None,
            output_bytes=output.size if output else None,
        )
        log.info("print job %s %s", job.id, status.value if saved else "lost to another worker")

    def _remove_expired_outputs(self) -> None:
        for job in self._jobs.finished_before(self._clock.now() - self._options.keep_for):
            if job.output_file:
                (self._options.output_dir / job.output_file).unlink(missing_ok=True)
            self._jobs.forget_output(job.id)


def _partial_name(target: Path) -> str:
    return f".{target.name}.{uuid.uuid4().hex}.part"


def _remove_partials(target: Path) -> None:
    """Delete what earlier attempts at ``target`` left half-written. A killed worker never
    reaches its own clean-up. A former holder that only stalled loses the job at its next
    heartbeat; should it reach its rename first, the rename fails (its file is gone) or puts a
    complete batch in place, and its outcome is not recorded either way (writes are guarded by
    the claim)."""
    for partial in target.parent.glob(f".{target.name}.*.part"):
        partial.unlink(missing_ok=True)
        log.info("removed %s, left by an interrupted attempt", partial.name)


class PrintJobRunner(JobRunner):
    """Runs print jobs in a background thread of this process until :meth:`stop`."""

    def __init__(self, service: PrintService, *, poll_seconds: float) -> None:
        super().__init__(service, poll_seconds=poll_seconds, name="print-jobs")
