"""``create_app(settings)``: the FastAPI application, built once with all its services."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from certdist import __version__
from certdist.config import Settings, load_settings
from certdist.observability import configure_logging
from certdist.services.container import Services, build_services
from certdist.web.errors import install_error_handlers
from certdist.web.fast_reads import FastReads
from certdist.web.middleware import BodyLimit, RequestLog
from certdist.web.routes import distribution, health, issuance

log = logging.getLogger(__name__)

_UPLOAD_PATHS = ("/divoc/api/v1/bulkCertify", "/divoc/api/v1/test/bulkCertify")


def create_app(settings: Settings, *, services: Services | None = None) -> FastAPI:
    """The application. ``services`` lets tests inject their own (clock, ids, database)."""
    built = services or build_services(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        # Graceful shutdown: the server has stopped taking requests and drained the open
        # ones; release the database pool.
        built.close()

    app = FastAPI(
        title="certdist",
        version=__version__,
        description="Distribution of signed health certificates, wire-compatible with DIVOC.",
        lifespan=lifespan,
    )
    app.state.services = built
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(issuance.router)
    app.include_router(distribution.router)

    def limit_for(path: str) -> int:
        return settings.max_upload_bytes if path in _UPLOAD_PATHS else settings.max_body_bytes

    app.add_middleware(BodyLimit, limit_for=limit_for)
    app.add_middleware(FastReads, services=built)
    if settings.access_log:
        app.add_middleware(RequestLog)
    return app


def app_from_environment() -> FastAPI:
    """The factory server workers call (``uvicorn --factory``): settings from the environment;
    the parent process ran the migrations already."""
    settings = load_settings()
    configure_logging(settings.log_level, json_lines=settings.log_json)
    return create_app(settings, services=build_services(settings, migrate=False))
