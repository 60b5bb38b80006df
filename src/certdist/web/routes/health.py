"""Liveness, readiness and metrics for load balancers, orchestrators and Prometheus."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Response
from fastapi.responses import JSONResponse

from certdist.errors import AuthenticationFailed, NotFound
from certdist.services.common import CONTENT_TYPE
from certdist.web.deps import ServicesDep

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="The database, Redis (when configured) and the outbox worker (when required) answer",
    responses={503: {"description": "Not ready: `checks` names each failing component"}},
)
def readyz(services: ServicesDep) -> Any:
    # A plain function on purpose: FastAPI runs it in a thread, so a database that hangs
    # until its deadline does not stall the event loop that answers /healthz.
    problems = services.operations.not_ready()
    if problems:
        return JSONResponse({"status": "not ready", "checks": problems}, status_code=503)
    return {"status": "ready"}


@router.get("/metrics", include_in_schema=False)
def metrics(
    services: ServicesDep, authorization: Annotated[str | None, Header()] = None
) -> Response:
    """Prometheus text format, for a bearer of the operator's metrics token only; absent
    (404) when no token is configured (docs/operations.md)."""
    operations = services.operations
    if not operations.metrics_exposed:
        raise NotFound("not found")
    if not operations.may_scrape(authorization):
        raise AuthenticationFailed("the metrics token is required")
    return Response(operations.exposition(), media_type=CONTENT_TYPE)
