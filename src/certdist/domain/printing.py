"""Batch print jobs: what was asked, and how far it got."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class PrintJobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class PrintJob:
    """One batch print request and how far it got.

    ``selection`` is ``{"facility": ..., "date": "YYYY-MM-DD"}`` or ``{"codes": [...]}``;
    ``unknown`` lists requested beneficiary ids that had no live certificate; ``output_file``
    is the file name under the print directory once the job succeeded.
    """

    id: str
    owner: str
    owner_issuer: str
    status: PrintJobStatus
    format: str
    selection: dict[str, Any]
    created_at: datetime
    total: int = 0
    done: int = 0
    unknown: tuple[str, ...] = ()
    error: str | None = None
    output_file: str | None = None
    output_bytes: int | None = None
    attempts: int = 0
    claimed_by: str | None = None
    heartbeat_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def finished(self) -> bool:
        return self.status in (PrintJobStatus.SUCCEEDED, PrintJobStatus.FAILED)
