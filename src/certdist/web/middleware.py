"""ASGI middleware: body size limits, headers every response carries, and the request log
and metrics."""

from __future__ import annotations

import itertools
import logging
import os
import re
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from certdist.observability import current_request_id
from certdist.services.common import Metrics
from certdist.web.errors import error_body

log = logging.getLogger("certdist.access")


class BodyLimit:
    """Refuse bodies over the limit with 413, before or while reading them.

    ``limit_for(path)`` lets upload routes have a larger limit than JSON routes.
    """

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = limit + 1
                if declared > limit:
                    await _send_413(send, limit)
                    return
        received = 0
        started = refused = False

        async def limited_receive() -> Message:
            # A body without Content-Length (chunked) is counted as it arrives. Past the limit
            # the client gets its 413 here, and the application is told the client left: an
            # exception would be turned into a 400 by the framework's body parsing.
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    if not started and not refused:
                        refused = True
                        await _send_413(send, limit)
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 went out; the application's answer to a cut body is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, limited_receive, tracking_send)


async def _send_413(send: Send, limit: int) -> None:
    import json

    body = json.dumps(error_body(413, f"request body larger than {limit} bytes")).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": body})


class ResponseHeaders:
    """Headers every response carries, whichever layer answered (routes, the fast read path,
    error handlers, the 413 above): ``nosniff`` (JSON errors included), HSTS when the
    service is published over https, and ``Cache-Control: no-store`` unless the answer set
    its own: behind a CDN or any shared cache, nothing is kept that a route did not declare
    cacheable (certificate documents are ``private``, public key sets and static files
    ``public``)."""

    def __init__(self, app: ASGIApp, hsts: str | None) -> None:
        self.app = app
        self.extra: list[tuple[bytes, bytes]] = [
            (b"x-content-type-options", b"nosniff"),
            (b"cache-control", b"no-store"),
        ]
        if hsts:
            self.extra.append((b"strict-transport-security", hsts.encode("ascii")))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def add_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(n, v) for n, v in self.extra if n not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, add_headers)


_CORS_ALLOW = (
    (b"access-control-allow-origin", b"*"),
    (b"access-control-expose-headers", b"content-type, x-request-id"),
)
_CORS_PREFLIGHT = (
    (b"access-control-allow-origin", b"*"),
    (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
    (b"access-control-allow-headers", b"content-type"),
    (b"access-control-max-age", b"600"),
    (b"content-length", b"0"),
)


class OpenCors:
    """CORS for the SMART Health Link receiver's endpoints (``/shl/…``: the manifest, the
    ``location`` files, the ``U`` file): the specification expects viewers on any origin to
    fetch them, so every answer there (errors included) carries
    ``Access-Control-Allow-Origin: *`` and a preflight ``OPTIONS`` is answered here. Never
    with credentials: those endpoints are anonymous, the token in the path is the
    capability. No other path is touched (the owner's ``/certificate/api/shl`` API stays
    same-origin)."""

    def __init__(self, app: ASGIApp, prefix: str = "/shl/") -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            await send(
                {"type": "http.response.start", "status": 204, "headers": list(_CORS_PREFLIGHT)}
            )
            await send({"type": "http.response.body", "body": b""})
            return

        async def add_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (n, v)
                    for n, v in message.get("headers", [])
                    if not n.lower().startswith(b"access-control-")
                ]
                message["headers"] = [*headers, *_CORS_ALLOW]
            await send(message)

        await self.app(scope, receive, add_headers)


def hsts_value(public_url: str, max_age: int, include_subdomains: bool) -> str | None:
    """``Strict-Transport-Security`` for a service published at ``public_url``: only over
    https (a browser ignores it over http, and a development server must stay reachable)."""
    if not public_url.startswith("https://") or max_age <= 0:
        return None
    return f"max-age={max_age}" + ("; includeSubDomains" if include_subdomains else "")


# An incoming X-Request-ID is kept when it could not smuggle anything into a log line or a
# header: a bounded run of these characters (a UUID, a proxy's hex id, a trace id).
_CALLER_ID = re.compile(rb"[A-Za-z0-9._-]{1,64}")


class RequestLog:
    """Counts every request for ``/metrics`` (route template, method, status, duration) and,
    when ``log_lines``, logs one line per request; both in one pass, one clock reading each
    side of the application.

    The request id is the caller's ``X-Request-ID`` when sane (``_CALLER_ID``), otherwise
    16 hex digits, as uuid4's were: a random prefix per process and a counter. They only tie
    a response to its log lines, so they need to be unique, not unguessable; uuid4 cost a
    urandom system call per request (measured ~6 us, 2-3% of a repeat download's server CPU).
    The id is in the response's ``x-request-id`` and, through ``observability``'s context
    variable, in every log line written while the request is handled.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics, *, log_lines: bool = True) -> None:
        self.app = app
        self._metrics = metrics
        self._log_lines = log_lines
        self._prefix = os.urandom(4).hex()
        self._counter = itertools.count()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        request_id = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                if _CALLER_ID.fullmatch(value):
                    request_id = value.decode("ascii")
                break
        if request_id is None:
            request_id = f"{self._prefix}{next(self._counter) & 0xFFFFFFFF:08x}"
        header = (b"x-request-id", request_id.encode("ascii"))
        bound = current_request_id.set(request_id)

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            seconds = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", "<unmatched>")
            method = scope["method"]
            self._metrics.request(route, method, status, seconds)
            if self._log_lines:
                log.info(
                    "request",
                    extra={
                        "request_id": request_id,
                        "method": method,
                        "route": route,
                        "status": status,
                        "ms": round(seconds * 1000, 2),
                    },
                )
            current_request_id.reset(bound)
