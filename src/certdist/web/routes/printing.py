"""Batch print jobs for print centres and facility systems (``PRINT`` permission).

``POST /certificate/api/print-jobs`` queues a job (202, ``Location`` of the job); a worker
renders it (the server's background thread or ``certdist worker``); ``GET`` on the job shows
its progress, and ``GET …/output`` returns the file once it is done. A job belongs to the
token's user: anyone else gets the same 404 as for a job that does not exist.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from certdist.domain.printing import PrintJob
from certdist.domain.roles import Permission, Principal
from certdist.services.facility import BatchFormat, parse_selection
from certdist.web.deps import ServicesDep, caller_with
from certdist.web.errors import error_responses

router = APIRouter(prefix="/certificate/api", tags=["printing"])

PrintCaller = Annotated[Principal, Depends(caller_with(Permission.PRINT))]
JobId = Annotated[str, Path(pattern=r"^[0-9a-f\-]{36}$", description="The print job's id")]
_JOBS = "/certificate/api/print-jobs"


class PrintJobRequest(BaseModel):
    """A facility and a date, or a list of beneficiary ids (not both)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"facility": "ABC Medical Center", "date": "2021-05-02", "format": "pdf"},
                {"codes": ["DEMO0001", "DEMO0002"], "format": "zip"},
            ]
        },
    )

    facility: str | None = Field(default=None, max_length=500)
    date: dt.date | None = None
    codes: list[str] | None = None
    format: Literal["pdf", "zip"] = "pdf"


class PrintJobView(BaseModel):
    id: str
    status: str
    format: str
    done: int = Field(description="Beneficiaries processed so far")
    total: int = Field(description="Beneficiaries in the selection (0 until it is counted)")
    unknown: list[str] = Field(description="Requested ids without a live certificate")
    error: str | None
    createdAt: dt.datetime
    finishedAt: dt.datetime | None
    output: str | None = Field(description="Where to download the file, once succeeded")


def _view(job: PrintJob) -> PrintJobView:
    return PrintJobView(
        id=job.id,
        status=job.status.value,
        format=job.format,
        done=job.done,
        total=job.total,
        unknown=list(job.unknown),
        error=job.error,
        createdAt=job.created_at,
        finishedAt=job.finished_at,
        output=f"{_JOBS}/{job.id}/output" if job.status.value == "succeeded" else None,
    )


@router.post(
    "/print-jobs",
    status_code=202,
    response_model=PrintJobView,
    responses={202: {"description": "Queued; poll the job at the Location header"}},
)
def create_print_job(
    body: PrintJobRequest, services: ServicesDep, caller: PrintCaller
) -> JSONResponse:
    printing = services.facility.printing
    selection = parse_selection(
        facility=body.facility, day=body.date, codes=body.codes, max_codes=printing.max_codes
    )
    job = printing.submit(caller, selection, BatchFormat(body.format))
    return JSONResponse(
        _view(job).model_dump(mode="json"),
        status_code=202,
        headers={"Location": f"{_JOBS}/{job.id}"},
    )


@router.get("/print-jobs/{jobId}", response_model=PrintJobView, responses=error_responses(404))
def get_print_job(jobId: JobId, services: ServicesDep, caller: PrintCaller) -> PrintJobView:
    return _view(services.facility.printing.job(jobId, caller))


@router.get(
    "/print-jobs/{jobId}/output",
    responses={
        200: {
            "content": {"application/pdf": {}, "application/zip": {}},
            "description": "The batch file",
        },
        409: {"description": "The job has not succeeded (yet)"},
        **error_responses(404),
    },
)
def get_print_job_output(
    jobId: JobId,
    services: ServicesDep,
    caller: PrintCaller,
) -> FileResponse:
    output = services.facility.printing.output(jobId, caller)
    return FileResponse(
        output.path,
        media_type=output.media_type,
        filename=output.filename,
        headers={"Cache-Control": "private, no-store"},
    )
