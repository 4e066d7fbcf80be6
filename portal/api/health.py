"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from portal.api.schemas import Health
from portal.storage import migrate

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is up."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
async def readyz(request: Request) -> JSONResponse:
    """The database answers and its schema is at the newest migration."""
    try:
        current, head = await migrate.revisions(request.app.state.engine)
    except Exception as exc:  # any failure to reach the database means "not ready"
        body = Health(status="unavailable", detail=f"database unreachable: {type(exc).__name__}")
        return JSONResponse(body.model_dump(), status_code=503)
    if current != head:
        body = Health(status="unavailable", detail=f"schema at {current}, expected {head}")
        return JSONResponse(body.model_dump(), status_code=503)
    return JSONResponse(Health(status="ok").model_dump())
