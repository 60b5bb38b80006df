"""A background thread that runs durable jobs (print jobs, bulk uploads) in this process."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from typing import Protocol

from certdist.errors import CertdistError

log = logging.getLogger(__name__)


def new_worker_id() -> str:
    """Names this process as the holder of a job: host, process and a random part (a
    restarted process with a reused pid is another holder)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class RunsJobs(Protocol):
    #: Set when there is work for this process, so an idle runner starts at once.
    wake: threading.Event

    def run_next_job(self) -> bool:
        """Claim one job and run it; False when there was none."""
        ...

    def stop(self) -> None:
        """Ask a running job to stop soon and give its job back."""
        ...


class JobRunner:
    """Runs one kind of job in a background thread of this process until :meth:`stop`."""

    def __init__(self, service: RunsJobs, *, poll_seconds: float, name: str) -> None:
        self._service = service
        self._poll = poll_seconds
        self._name = name
        self._stopped = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopped = True
        self._service.stop()
        self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stopped:
            try:
                while not self._stopped and self._service.run_next_job():
                    pass
            except CertdistError as exc:  # the database is away: try again later
                log.warning("%s paused: %s", self._name, exc)
            except Exception:
                log.exception("%s runner error", self._name)
            self._service.wake.wait(self._poll)
            self._service.wake.clear()
