"""uvicorn's HTTP protocol, writing each response to the socket in one piece.

uvicorn writes a response's status line and headers as soon as the application starts the
response, and the body in a second write. A process killed between the two (the fleet's
fault test kills one under load: issue #16) leaves nginx holding the headers of a 200 with
no body; nginx has by then passed the headers on, so it cannot retry the request on the next
app process, and the client sees a truncated download. What the kernel has accepted
survives the kill (it is sent before the socket closes); what the process still holds does
not.

So the protocol's transport is wrapped: everything written during one turn of the event
loop is held and handed to the socket as one write at the start of the next turn, or at once
when it grows past :data:`FLUSH_BYTES`. A response whose body is sent in one message (every
document certdist serves from memory) therefore reaches the kernel whole or not at all, and
a killed process costs the client nothing that nginx cannot retry. A streamed response is
written chunk by chunk, as before, one turn later.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

#: Held bytes at which the wrapper writes at once instead of at the next turn: a writer
#: that never yields to the loop is not held in memory without bound.
FLUSH_BYTES = 256 * 1024


class OneWriteTransport:
    """An :class:`asyncio.Transport` stand-in that joins the writes of one event-loop turn.

    Everything but writing and closing is the wrapped transport's own (``__getattr__``), so
    uvicorn's flow control, addresses and keep-alive handling see the real socket.
    """

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] = []
        self._held_bytes = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._held:
            self._loop.call_soon(self.flush)
        self._held.append(bytes(data))
        self._held_bytes += len(data)
        if self._held_bytes >= FLUSH_BYTES:
            self.flush()

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def flush(self) -> None:
        """Hand what is held to the socket, as one write."""
        if not self._held:
            return
        data = self._held[0] if len(self._held) == 1 else b"".join(self._held)
        self._held.clear()
        self._held_bytes = 0
        if not self._transport.is_closing():
            self._transport.write(data)

    def get_write_buffer_size(self) -> int:
        return self._held_bytes + self._transport.get_write_buffer_size()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def _wrapped(transport: asyncio.Transport) -> asyncio.Transport:
    # Duck-typed: OneWriteTransport answers what uvicorn asks of a transport.
    return OneWriteTransport(transport, asyncio.get_running_loop())  # type: ignore[return-value]


class WholeResponsesH11(H11Protocol):
    """uvicorn's h11 protocol over a :class:`OneWriteTransport`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_wrapped(transport))


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover - httptools comes with uvicorn[standard]
    HttpToolsProtocol = None  # type: ignore[assignment,misc]
else:

    class WholeResponsesHttpTools(HttpToolsProtocol):
        """uvicorn's httptools protocol (its default) over a :class:`OneWriteTransport`."""

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(_wrapped(transport))


def protocol_class() -> type[asyncio.Protocol]:
    """The class for uvicorn's ``http`` option: httptools when installed, as uvicorn's
    ``auto`` chooses, else h11. A module-level class, so uvicorn's worker processes can
    unpickle the configuration that names it."""
    if HttpToolsProtocol is not None:
        return WholeResponsesHttpTools
    return WholeResponsesH11
