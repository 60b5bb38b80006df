"""OpenTelemetry tracing (the setting ``tracing``, docs/operations.md "Tracing"): a server
span per request, named by its route template, with a child span per SQL statement.

Imported only when tracing is on, and only with the extra ``certdist[tracing]`` installed
(``config.py`` and ``web/app.py`` turn a missing package into a ``ConfigurationError``).
Spans follow the log's rule (docs/architecture.md, "Security rules"): no name, mobile
number, OTP, token or beneficiary id. The FastAPI instrumentation records raw paths, query
strings, client addresses and (when the standard OTEL_* variables ask) headers, so every
span is rebuilt before export with only the attributes in ``_KEPT``; the route template
stands for the path. SQL is recorded as the driver receives it, with placeholders, never
with the bound values.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import SpanKind, Status
from starlette.types import ASGIApp, Receive, Scope, Send

from certdist.config import TracingSettings
from certdist.observability import current_request_id

#: Not traced: probes and scrapes, which would drown the requests that matter.
EXCLUDED_URLS = "/healthz,/readyz,/metrics"
REQUEST_ID = "certdist.request_id"

# The attributes a span keeps (old and new semantic conventions both); anything else, e.g.
# http.target, url.path, url.query, http.url, client.address, user_agent.original and
# http.request.header.*, is dropped. db.statement holds SQL with placeholders.
_KEPT = frozenset(
    {
        REQUEST_ID,
        "http.method",
        "http.request.method",
        "http.route",
        "http.status_code",
        "http.response.status_code",
        "http.scheme",
        "url.scheme",
        "http.flavor",
        "network.protocol.version",
        "asgi.event.type",
        "error.type",
        "db.system",
        "db.system.name",
        "db.name",
        "db.namespace",
        "db.statement",
        "db.query.text",
        "db.operation",
        "db.operation.name",
        "net.peer.name",
        "net.peer.port",
        "server.address",
        "server.port",
    }
)
# An exception event keeps its type; its message and stack trace may quote input.
_KEPT_IN_EVENTS = frozenset({"exception.type", "exception.escaped"})


def scrubbed(span: ReadableSpan) -> ReadableSpan:
    """``span`` with only the attributes in ``_KEPT`` and an error status without its
    description (an exception's message)."""
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes={k: v for k, v in (span.attributes or {}).items() if k in _KEPT},
        events=[
            Event(
                event.name,
                {k: v for k, v in (event.attributes or {}).items() if k in _KEPT_IN_EVENTS},
                event.timestamp,
            )
            for event in span.events
        ],
        links=span.links,
        kind=span.kind,
        status=Status(span.status.status_code),
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


class ScrubbingExporter(SpanExporter):
    """Passes spans to ``exporter`` scrubbed (in the batch processor's thread, off the
    request path)."""

    def __init__(self, exporter: SpanExporter) -> None:
        self._exporter = exporter

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self._exporter.export([scrubbed(span) for span in spans])

    def shutdown(self) -> None:
        self._exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._exporter.force_flush(timeout_millis)


class _DropSpans(SpanExporter):
    """The exporter ``none``: spans are made, then dropped."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


def exporter_for(settings: TracingSettings) -> SpanExporter:
    if settings.exporter == "console":
        return ConsoleSpanExporter()
    if settings.exporter == "none":
        return _DropSpans()
    # Imported here: the OTLP exporter loads protobuf, unused by the other choices.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    # No endpoint: the exporter reads the standard OTEL_EXPORTER_OTLP_* variables.
    return OTLPSpanExporter(endpoint=settings.endpoint)


class TracedDatabase(Protocol):
    """What tracing needs of ``storage.Database``: a way to wrap each statement."""

    def observe(self, observer: Callable[[str, str], AbstractContextManager[object]]) -> None: ...


class Tracing:
    """One process's tracer provider, and what it instruments. ``exporter`` lets tests
    collect the spans; otherwise it follows the settings."""

    def __init__(self, settings: TracingSettings, exporter: SpanExporter | None = None) -> None:
        self.provider = TracerProvider(
            resource=Resource.create({SERVICE_NAME: settings.service_name}),
            sampler=ParentBased(TraceIdRatioBased(settings.sample_ratio)),
        )
        self.provider.add_span_processor(
            BatchSpanProcessor(ScrubbingExporter(exporter or exporter_for(settings)))
        )
        self._tracer = self.provider.get_tracer(__name__)

    def instrument(self, app: FastAPI, database: TracedDatabase) -> None:
        """Server spans for ``app`` (call it after the app's last ``add_middleware``, so
        that the span covers them all) and a span per SQL statement of ``database``."""
        FastAPIInstrumentor.instrument_app(
            app,
            tracer_provider=self.provider,
            excluded_urls=EXCLUDED_URLS,
            # The ASGI messages as spans of their own add nothing an operator needs.
            exclude_spans=["receive", "send"],
        )
        # Not opentelemetry-instrumentation-sqlalchemy: it patches create_engine for the
        # whole process, imports SQLAlchemy's asyncio module (which needs greenlet) and
        # declares SQLAlchemy < 2.1; and the download's hot read bypasses the engine's
        # events anyway. storage calls this around every statement, both kinds.
        database.observe(self._statement)

    @contextmanager
    def _statement(self, dialect: str, sql: str) -> Iterator[None]:
        """A client span named by the statement's verb, with the SQL as the driver gets it:
        placeholders, never the bound values."""
        words = sql.split(None, 1)
        with self._tracer.start_as_current_span(
            words[0].upper() if words else "SQL",
            kind=SpanKind.CLIENT,
            attributes={"db.system": dialect, "db.statement": sql},
        ):
            yield

    def flush(self) -> None:
        """Export what the batch processor holds (at shutdown: the server has drained)."""
        self.provider.force_flush()

    def close(self) -> None:
        """Flush, then stop the provider (tests; a server process keeps it until it exits,
        when the SDK shuts it down)."""
        self.provider.shutdown()


class SpanRequestId:
    """Puts the request id (``RequestLog``'s, so it is added inside that middleware) on
    the request's server span."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = current_request_id.get()
        if request_id is not None:
            trace.get_current_span().set_attribute(REQUEST_ID, request_id)
        await self.app(scope, receive, send)


class TraceIdFilter(logging.Filter):
    """Adds ``trace_id`` (32 hex digits, as trace back ends show it) to a record written
    within a sampled span, so a log line leads to its trace."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = trace.get_current_span().get_span_context()
        if context.is_valid and "trace_id" not in record.__dict__:
            record.trace_id = trace.format_trace_id(context.trace_id)
        return True


_process_tracing: Tracing | None = None


def process_tracing(settings: TracingSettings) -> Tracing:
    """This process's tracing, made on the first call: each server worker process calls
    the app factory, so each has its own provider and export thread. It is also the global
    tracer provider, and its trace ids go into the log records."""
    global _process_tracing
    if _process_tracing is None:
        _process_tracing = Tracing(settings)
        trace.set_tracer_provider(_process_tracing.provider)
        for handler in logging.getLogger().handlers:
            handler.addFilter(TraceIdFilter())
    return _process_tracing
