"""OpenTelemetry tracing (``certdist.tracing``, the setting ``tracing``): server spans named by
route templates with SQL spans beneath, and nothing personal in any of them."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import certdist
from certdist.config import Settings, TracingSettings
from certdist.errors import ConfigurationError
from certdist.tracing import REQUEST_ID, ScrubbingExporter, TraceIdFilter, Tracing
from certdist.web.app import create_app, start_tracing
from tests.support.clients import bearer
from tests.support.request_bodies import vaccination_request_body
from tests.support.services import ServicesFactory

CODE = "TRACE4711"
NAME = "Tarini Spandana"
MOBILE = "9123456780"
PDF_ROUTE = "/certificate/api/certificatePDF/{preEnrollmentCode}"


@pytest.fixture
def spans() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracing(spans: InMemorySpanExporter) -> Iterator[Tracing]:
    made = Tracing(TracingSettings(enabled=True), exporter=spans)
    yield made
    made.close()


def _finished(tracing: Tracing, spans: InMemorySpanExporter) -> list[ReadableSpan]:
    tracing.flush()
    return list(spans.get_finished_spans())


def _status(span: ReadableSpan) -> object:
    attributes = span.attributes or {}
    return attributes.get("http.status_code", attributes.get("http.response.status_code"))


def _everything_recorded(span: ReadableSpan) -> str:
    """Every text of a span an exporter sends, but the resource (service name, SDK)."""
    events = [(e.name, dict(e.attributes or {})) for e in span.events]
    return json.dumps(
        [span.name, dict(span.attributes or {}), events, span.status.description], default=str
    )


def test_a_download_is_a_server_span_named_by_its_route_with_sql_spans_beneath(
    make_services: ServicesFactory, tracing: Tracing, spans: InMemorySpanExporter
) -> None:
    services = make_services()
    issuer = bearer(services, "certificate-issuer", "certificate-api")
    token = issuer["Authorization"].removeprefix("Bearer ")
    with TestClient(create_app(services.settings, services=services, tracing=tracing)) as client:
        body = vaccination_request_body(CODE, name=NAME, mobile=MOBILE)
        assert client.post("/divoc/api/v1/certify", json=[body], headers=issuer).status_code == 200
        path = f"/certificate/api/certificatePDF/{CODE}?mobile={MOBILE}&token={token}"
        headers = {**issuer, "X-Request-ID": "trace-test-1"}
        assert client.get(path, headers=headers).status_code == 200  # rendered by the route
        assert client.get(path, headers=issuer).status_code == 200  # the fast read path
        assert client.get("/healthz").status_code == 200
        assert client.get(f"/no/such/route/{CODE}", headers=issuer).status_code == 404
        finished = _finished(tracing, spans)

    servers = [s for s in finished if s.kind is SpanKind.SERVER]
    assert [s.name for s in servers] == [
        "POST /divoc/api/v1/certify",
        f"GET {PDF_ROUTE}",
        f"GET {PDF_ROUTE}",
        "GET",  # no route: the method alone, never the path
    ]  # /healthz is not traced
    download = servers[1]
    assert download.attributes is not None
    assert download.attributes["http.route"] == PDF_ROUTE
    assert _status(download) == 200
    assert download.attributes[REQUEST_ID] == "trace-test-1"
    assert REQUEST_ID in (servers[2].attributes or {})  # generated when the caller sent none

    dialect = services.database.dialect
    for server in servers[:3]:
        assert server.context is not None
        below = [
            s
            for s in finished
            if s.parent is not None and s.parent.span_id == server.context.span_id
        ]
        statements = [str((s.attributes or {}).get("db.statement", "")) for s in below]
        assert below, f"no SQL span beneath {server.name}"
        assert all(s.kind is SpanKind.CLIENT for s in below)
        assert all((s.attributes or {}).get("db.system") == dialect for s in below)
        assert any(st.lstrip().upper().startswith(("SELECT", "INSERT")) for st in statements)

    for span in finished:
        recorded = _everything_recorded(span)
        for secret in (CODE, NAME, MOBILE, token, "Tarini", "9880414889"):
            assert secret not in recorded, f"{span.name} records {secret!r}: {recorded}"


def test_a_sample_ratio_of_zero_keeps_no_trace(make_sqlite_services: ServicesFactory) -> None:
    spans = InMemorySpanExporter()
    tracing = Tracing(TracingSettings(enabled=True, sample_ratio=0.0), exporter=spans)
    services = make_sqlite_services()
    try:
        app = create_app(services.settings, services=services, tracing=tracing)
        with TestClient(app) as client:
            assert client.get("/certificate/api/certificatePDF/NOBODY").status_code == 401
        assert _finished(tracing, spans) == []
    finally:
        tracing.close()


def test_the_exporter_gets_only_the_attributes_kept() -> None:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(ScrubbingExporter(spans)))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("GET /things/{id}", kind=SpanKind.SERVER) as span:
        span.set_attributes(
            {
                "http.route": "/things/{id}",
                "url.path": f"/things/{CODE}",
                "url.query": f"mobile={MOBILE}",
                "http.target": f"/things/{CODE}?mobile={MOBILE}",
                "client.address": "203.0.113.9",
                "http.request.header.authorization": ("Bearer secret",),
            }
        )
        span.record_exception(ValueError(f"no certificate for {NAME}"))
        span.set_status(StatusCode.ERROR, f"ValueError: no certificate for {NAME}")
    (exported,) = spans.get_finished_spans()
    assert dict(exported.attributes or {}) == {"http.route": "/things/{id}"}
    assert [dict(e.attributes or {}) for e in exported.events] == [
        {"exception.type": "ValueError", "exception.escaped": "False"}
    ]
    assert exported.status.status_code is StatusCode.ERROR
    assert exported.status.description is None


def test_log_records_within_a_span_carry_its_trace_id() -> None:
    tracer = TracerProvider().get_tracer("test")
    record = logging.LogRecord("certdist.test", logging.INFO, __file__, 1, "hello", (), None)
    with tracer.start_as_current_span("work") as span:
        assert TraceIdFilter().filter(record)
    assert record.trace_id == f"{span.get_span_context().trace_id:032x}"
    outside = logging.LogRecord("certdist.test", logging.INFO, __file__, 1, "hello", (), None)
    assert TraceIdFilter().filter(outside)
    assert "trace_id" not in outside.__dict__


def test_tracing_is_off_by_default_and_then_nothing_is_instrumented(
    make_sqlite_services: ServicesFactory,
) -> None:
    services = make_sqlite_services()
    assert services.settings.tracing.enabled is False
    assert start_tracing(services.settings.tracing) is None
    app = create_app(services.settings, services=services)
    assert not getattr(app, "_is_instrumented_by_opentelemetry", False)
    assert services.database.transactions.read_observer is None
    assert not isinstance(trace.get_tracer_provider(), TracerProvider)


def test_tracing_off_imports_nothing_of_the_sdk(tmp_path: Path) -> None:
    """In a process of its own: other tests in this one import the SDK."""
    program = (
        "import sys\n"
        "from certdist.config import Settings\n"
        "from certdist.web.app import create_app\n"
        f"settings = Settings(data_dir={str(tmp_path)!r}, log_json=False)\n"
        "create_app(settings)\n"
        "print(sorted(m for m in sys.modules if m.startswith"
        "(('opentelemetry.sdk', 'opentelemetry.instrumentation', 'certdist.tracing'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "module",
    ["opentelemetry.sdk", "opentelemetry.instrumentation.fastapi"],
)
def test_tracing_on_without_the_extra_stops_at_start_naming_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, module: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # as if not installed
    with pytest.raises(ConfigurationError, match=r"pip install 'certdist\[tracing\]'") as found:
        Settings(data_dir=tmp_path, tracing={"enabled": True}).check()
    assert module in str(found.value)
    Settings(data_dir=tmp_path, tracing={"enabled": False}).check()


def test_a_package_missing_behind_the_extra_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Settings.check() looks for the extra's modules; should one of their own imports be
    missing, starting the tracing says so the same way."""
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace.export", None)
    monkeypatch.delitem(sys.modules, "certdist.tracing")
    monkeypatch.delattr(certdist, "tracing")
    with pytest.raises(ConfigurationError, match=r"opentelemetry\.sdk\.trace\.export.*\[tracing\]"):
        start_tracing(TracingSettings(enabled=True))
