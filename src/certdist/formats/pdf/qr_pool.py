"""QR symbols for a batch, encoded in helper processes while the main process draws pages.

Building the DIVOC payload and encoding its QR symbol (zxing-cpp) is about half the cost of
a batch page (measured: ~0.2 + ~0.7-1.3 ms of ~1.5-2.5 ms). It needs nothing but the stored
certificate text, so it parallelises cleanly: the main process hands chunks of certificate
texts to a helper process and draws and writes pages while the helper encodes the next
chunk. With no helper processes, the same work runs inline.

Helpers are started with ``spawn``: forking a process that runs threads (a server, the
download-audit writer) can copy held locks into the child.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from types import TracebackType

from certdist.formats.divoc_qr import PayloadForm, encode_payload
from certdist.formats.qr_image import QrMatrix, qr_matrix


@dataclass(frozen=True, slots=True)
class PreparedQr:
    """A certificate's QR payload and its encoded symbol."""

    payload: bytes
    matrix: QrMatrix


def prepare_qr(
    certificates: Sequence[str], form: PayloadForm, ec: str, mask: int | None
) -> list[PreparedQr]:
    """Payload and symbol of each certificate text (runs in a helper process)."""
    prepared = []
    for text in certificates:
        payload = encode_payload(text, form=form)
        prepared.append(PreparedQr(payload, qr_matrix(payload, ec=ec, mask=mask)))
    return prepared


class QrPool:
    """Encodes QR symbols in ``processes`` helper processes (0: in the calling thread).

    Results come back as futures in submission order; the caller keeps only a bounded
    number in flight (a chunk or two), so memory does not grow with the batch.
    """

    def __init__(self, processes: int, *, form: PayloadForm, ec: str, mask: int | None) -> None:
        self._form = form
        self._ec = ec
        self._mask = mask
        self._executor = (
            ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"))
            if processes > 0
            else None
        )

    def submit(self, certificates: Sequence[str]) -> Future[list[PreparedQr]]:
        if self._executor is None:
            done: Future[list[PreparedQr]] = Future()
            done.set_result(prepare_qr(certificates, self._form, self._ec, self._mask))
            return done
        return self._executor.submit(
            prepare_qr, list(certificates), self._form, self._ec, self._mask
        )

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> QrPool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
