"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

from fastapi import APIRouter

from certdist.web.deps import ServicesDep

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz", summary="The database answers", responses={503: {"description": "Not ready"}}
)
def readyz(services: ServicesDep) -> dict[str, str]:
    # A plain function on purpose: FastAPI runs it in a thread, so a database that hangs
    # until its deadline does not stall the event loop that answers /healthz.
    services.database.certificates().ping()  # StorageUnavailable → 503
    return {"status": "ready"}
