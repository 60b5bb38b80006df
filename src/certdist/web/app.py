"""``create_app(settings)``: the FastAPI application, built once with all its services."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, cast

from fastapi import FastAPI
from starlette.types import ASGIApp

from certdist import __version__
from certdist.config import TRACING_EXTRA_MISSING, Settings, TracingSettings, load_settings
from certdist.errors import ConfigurationError
from certdist.observability import configure_logging
from certdist.web.api_docs import install_api_docs
from certdist.web.errors import install_error_handlers
from certdist.web.fast_reads import FastReads
from certdist.web.i18n import Catalogs
from certdist.web.middleware import BodyLimit, OpenCors, RequestLog, ResponseHeaders, hsts_value
from certdist.web.openapi import install_openapi
from certdist.web.routes import dev as dev_routes
from certdist.web.routes import digilocker as digilocker_routes
from certdist.web.routes import distribution, health, issuance
from certdist.web.routes import facility as facility_routes
from certdist.web.routes import health_links as health_link_routes
from certdist.web.routes import openid4vci as openid4vci_routes
from certdist.web.routes import partner as partner_routes
from certdist.web.routes import portal as portal_routes
from certdist.web.routes import printing as printing_routes
from certdist.web.routes import share as share_routes
from certdist.web.routes import trust as trust_routes
from certdist.web.routes import verify as verify_routes
from certdist.web.routes import wallet as wallet_routes
from certdist.web.static_assets import StaticAssets
from certdist.web.templating import (
    STATIC_DIR,
    STATIC_PREFIX,
    Templates,
    language_router,
    secure_cookies,
)
from certdist.wiring import Services, build_services

if TYPE_CHECKING:
    from certdist.tracing import Tracing

log = logging.getLogger(__name__)

_UPLOAD_PATHS = ("/divoc/api/v1/bulkCertify", "/divoc/api/v1/test/bulkCertify")
_DIGILOCKER_PATHS = ("/cert/api/pullUriRequest", "/cert/api/pullDocRequest")


def create_app(
    settings: Settings,
    *,
    services: Services | None = None,
    embedded_worker: bool = False,
    tracing: Tracing | None = None,
) -> FastAPI:
    """The application. ``services`` lets tests inject their own (clock, ids, database);
    ``embedded_worker`` runs the outbox worker in this process (the server does by default in
    development, see ``Messaging.embedded_worker``); ``tracing`` lets tests collect spans
    (otherwise the settings' ``tracing`` decides)."""
    built = services or build_services(settings)
    tracing = tracing or start_tracing(settings.tracing)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runner = built.facility.start_print_jobs()
        uploads = built.issuance.start_upload_jobs()
        outbox = built.messaging.start_outbox_worker() if embedded_worker else None
        yield
        if outbox is not None:
            outbox.stop()  # a message in flight keeps its lease and is retried elsewhere
        if runner is not None:
            runner.stop()  # an unfinished job goes back to the queue
        uploads.stop()  # an unfinished upload is given back, to resume from its cursor
        # Graceful shutdown: the server has stopped taking requests and drained the open
        # ones; release the database pool.
        built.close()
        if tracing is not None:
            tracing.flush()

    app = FastAPI(
        title="certdist",
        version=__version__,
        description="Distribution of signed health certificates, wire-compatible with DIVOC.",
        lifespan=lifespan,
        docs_url=None,  # served from the package instead (web/api_docs.py)
        redoc_url=None,
        # FastAPI's own OpenTelemetry support would ask the providers on every request
        # whether one is configured (measured: 2.8 us per request); certdist's request log
        # is its own, and its tracing (the setting ``tracing``, certdist/tracing.py) uses
        # the OpenTelemetry instrumentation, since FastAPI's lowest supported release has
        # no tracing of its own.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    install_api_docs(app, title="certdist")
    install_openapi(app)
    app.state.services = built
    # HTML pages: one Jinja2 environment, every catalog compiled once (web/templating.py).
    app.state.templates = Templates(
        Catalogs(), secure_cookies=secure_cookies(settings), time_zone=settings.site.time_zone
    )
    install_error_handlers(app)
    app.mount(STATIC_PREFIX, StaticAssets(directory=STATIC_DIR), name="static")
    app.include_router(language_router)
    app.include_router(portal_routes.router)
    app.include_router(share_routes.router)
    app.include_router(facility_routes.router)
    app.include_router(dev_routes.router)
    app.include_router(health.router)
    app.include_router(issuance.router)
    app.include_router(distribution.router)
    app.include_router(printing_routes.router)
    app.include_router(health_link_routes.api)
    app.include_router(health_link_routes.receiver)
    app.include_router(digilocker_routes.router)
    app.include_router(partner_routes.router)
    app.include_router(verify_routes.router)
    app.include_router(verify_routes.pages)
    app.include_router(wallet_routes.router)
    app.include_router(wallet_routes.well_known)
    app.include_router(openid4vci_routes.protocol)
    app.include_router(openid4vci_routes.pages)
    app.include_router(trust_routes.router)

    def limit_for(path: str) -> int:
        if path in _DIGILOCKER_PATHS:
            return settings.digilocker.max_body_bytes
        if path in verify_routes.UPLOAD_PATHS:
            return settings.verifier.max_image_bytes + verify_routes.MULTIPART_OVERHEAD
        return settings.max_upload_bytes if path in _UPLOAD_PATHS else settings.max_body_bytes

    app.add_middleware(BodyLimit, limit_for=limit_for)
    app.add_middleware(FastReads, services=built)
    if tracing is not None:
        from certdist.tracing import SpanRequestId

        app.add_middleware(SpanRequestId)  # inside RequestLog, which sets the id
    app.add_middleware(
        RequestLog, metrics=built.infrastructure.metrics, log_lines=settings.access_log
    )
    app.add_middleware(OpenCors)  # the SMART Health Link receiver's /shl/…, errors included
    hsts = hsts_value(settings.public_url, settings.hsts_max_age_seconds, settings.hsts_subdomains)
    app.add_middleware(ResponseHeaders, hsts=hsts)
    if tracing is not None:
        # Last: the server span covers every middleware, the fast read path included.
        tracing.instrument(app, built.database)
    return app


def start_tracing(settings: TracingSettings) -> Tracing | None:
    """This process's tracing when the settings turn it on (made once per process: each
    server worker calls the app factory), else None, and nothing of OpenTelemetry is
    imported."""
    if not settings.enabled:
        return None
    try:
        from certdist import tracing
    except ImportError as exc:
        # Settings.check() found the packages; one of their own imports is missing.
        raise ConfigurationError(TRACING_EXTRA_MISSING.format(exc.name or exc)) from exc
    return tracing.process_tracing(settings)


def app_from_environment() -> ASGIApp:
    """The factory server workers call (``uvicorn --factory``, granian's ``--factory``):
    settings from the environment; the parent process ran the migrations already."""
    settings = load_settings()
    configure_logging(settings.log_level, json_lines=settings.log_json)
    services = build_services(settings, migrate=False)
    app = create_app(
        settings, services=services, embedded_worker=services.messaging.embedded_worker
    )
    return behind_proxies(app, settings.forwarded_allow_ips)


def behind_proxies(app: ASGIApp, trusted: list[str]) -> ASGIApp:
    """``app`` taking the client address and scheme from ``X-Forwarded-For`` / ``-Proto``
    when the peer is one of the ``trusted`` proxies (the per-IP limits then count the
    citizen, not the proxy). Done here rather than by the server, so that uvicorn and
    granian, which has no such option, behave alike."""
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    # uvicorn types ASGI apps more narrowly than Starlette; the protocol is the same.
    return cast(ASGIApp, ProxyHeadersMiddleware(cast(Any, app), trusted_hosts=trusted))
