"""Responses reach the socket in one write (certdist.serving), with uvicorn's own protocols
driven over a transport that records each write the kernel would get."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from certdist.serving import (
    FLUSH_BYTES,
    OneWriteTransport,
    WholeResponsesH11,
    WholeResponsesHttpTools,
    protocol_class,
)

UvicornProtocol = type[H11Protocol] | type[HttpToolsProtocol]

T = TypeVar("T")


def run_in_own_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on a thread of its own: the suite's other tests may leave an event
    loop registered as running on the main thread, where ``asyncio.run`` would refuse."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result(timeout=30)


REQUEST = b"GET /certificate HTTP/1.1\r\nHost: certdist.test\r\n\r\n"


class RecordingTransport(asyncio.Transport):
    """The socket's side: every write, in order, and whether it was closed."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}.get(
            name, default
        )

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def _document_app(body: bytes, chunks: int = 1) -> Any:
    """An ASGI app answering every request with ``body``, sent in ``chunks`` messages."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"application/pdf"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        step = -(-len(body) // chunks)
        for start in range(0, len(body), step):
            more = start + step < len(body)
            await send(
                {
                    "type": "http.response.body",
                    "body": body[start : start + step],
                    "more_body": more,
                }
            )
            if more:
                await asyncio.sleep(0)  # a streamed response yields between its chunks

    return app


async def _serving_one(protocol_type: UvicornProtocol, app: Any) -> RecordingTransport:
    config = uvicorn.Config(app, http=protocol_type, lifespan="off", log_config=None)
    config.load()
    protocol = protocol_type(config=config, server_state=ServerState(), app_state={})
    transport = RecordingTransport()
    protocol.connection_made(transport)
    protocol.data_received(REQUEST)
    for _ in range(100):  # the response is done within a few turns of the loop
        await asyncio.sleep(0)
    protocol.connection_lost(None)
    return transport


def _serve_one(protocol_type: UvicornProtocol, app: Any) -> RecordingTransport:
    return run_in_own_loop(_serving_one(protocol_type, app))


BODY = bytes(range(256)) * 210  # ≈ 53 kB, the size of a certificate PDF


@pytest.mark.parametrize("protocol_type", [WholeResponsesHttpTools, WholeResponsesH11])
def test_a_document_is_written_with_its_headers_in_one_write(
    protocol_type: UvicornProtocol,
) -> None:
    transport = _serve_one(protocol_type, _document_app(BODY))
    assert len(transport.writes) == 1
    head, _, body = transport.writes[0].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert body == BODY


@pytest.mark.parametrize("protocol_type", [HttpToolsProtocol, H11Protocol])
def test_uvicorn_alone_writes_headers_and_body_apart(
    protocol_type: UvicornProtocol,
) -> None:
    """Why certdist.serving exists: a process killed between these two writes leaves the
    proxy with headers it has passed on and no body."""
    transport = _serve_one(protocol_type, _document_app(BODY))
    writes = [write for write in transport.writes if write]  # h11 also writes an empty end
    assert len(writes) == 2
    assert writes[1] == BODY


def test_a_streamed_response_is_written_chunk_by_chunk() -> None:
    transport = _serve_one(WholeResponsesHttpTools, _document_app(BODY, chunks=3))
    assert len(transport.writes) == 3
    assert b"".join(transport.writes).endswith(BODY)


def test_a_large_document_is_one_write_too() -> None:
    large = b"x" * (FLUSH_BYTES * 2 + 10)
    transport = _serve_one(WholeResponsesHttpTools, _document_app(large))
    assert len(transport.writes) == 1
    assert transport.writes[0].partition(b"\r\n\r\n")[2] == large


def test_what_is_held_within_one_turn_is_bounded() -> None:
    run_in_own_loop(_what_is_held_within_one_turn_is_bounded())


async def _what_is_held_within_one_turn_is_bounded() -> None:
    socket_side = RecordingTransport()
    one_write = OneWriteTransport(socket_side, asyncio.get_running_loop())
    piece = b"y" * (FLUSH_BYTES // 2)
    for _ in range(5):  # a writer that never yields to the loop
        one_write.write(piece)
    assert [len(write) for write in socket_side.writes] == [FLUSH_BYTES, FLUSH_BYTES]
    assert one_write.get_write_buffer_size() == len(piece)
    await asyncio.sleep(0)
    assert b"".join(socket_side.writes) == piece * 5


def test_closing_writes_what_is_held_first() -> None:
    run_in_own_loop(_closing_writes_what_is_held_first())


async def _closing_writes_what_is_held_first() -> None:
    socket_side = RecordingTransport()
    one_write = OneWriteTransport(socket_side, asyncio.get_running_loop())
    one_write.write(b"HTTP/1.1 200 OK\r\n\r\n")
    one_write.writelines([b"a", memoryview(b"b")])
    assert one_write.get_write_buffer_size() == 21
    one_write.close()
    assert socket_side.writes == [b"HTTP/1.1 200 OK\r\n\r\nab"]
    assert socket_side.closed
    one_write.write(b"late")  # after the socket closed: dropped, as asyncio's own would
    await asyncio.sleep(0)
    assert socket_side.writes == [b"HTTP/1.1 200 OK\r\n\r\nab"]


def test_uvicorn_gets_the_httptools_protocol_it_would_choose_itself() -> None:
    assert protocol_class() is WholeResponsesHttpTools
