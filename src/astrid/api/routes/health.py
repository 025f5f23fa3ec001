"""Liveness, readiness, the caller's identity and the Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from astrid import __version__
from astrid.api.deps import ViewerDep
from astrid.api.schemas import Health, Me, Readiness
from astrid.errors import ConfigurationError, StorageError
from astrid.pipeline.dask_frames import scheduler_workers
from astrid.service.deps import ServiceDep
from astrid.service.metrics import CONTENT_TYPE_LATEST

router = APIRouter(tags=["health"])
metrics_router = APIRouter(tags=["health"])

_STORE_PROBE = b"astrid readiness probe\n"


@router.get("/health", response_model=Health)
def health() -> Health:
    """Liveness: the process answers (no authentication, no dependencies checked)."""
    return Health(status="ok", version=__version__)


@router.get(
    "/ready",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "a dependency is down"}},
)
def ready(service: ServiceDep) -> Response:
    """Readiness: the database answers a query, the object store writes and reads back, and
    the Dask scheduler (when frames run on one) answers and has workers."""
    checks: dict[str, str] = {}
    try:
        with service.catalog.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except SQLAlchemyError as e:
        checks["database"] = f"error: {type(e).__name__}"
    try:
        # content-addressed, so the probe is written once and then only read back
        key = service.store.put_bytes(_STORE_PROBE, suffix=".probe")
        if service.store.get_bytes(key) != _STORE_PROBE:
            raise StorageError(f"store probe {key} read back different bytes")
        checks["store"] = "ok"
    except (StorageError, OSError) as e:
        checks["store"] = f"error: {type(e).__name__}"
    address = service.settings.scheduler_address
    if address:  # frames run on a Dask cluster: it must answer and have workers
        try:
            n = scheduler_workers(address)
            checks["scheduler"] = "ok" if n > 0 else "error: the scheduler has no workers"
        except ConfigurationError:
            checks["scheduler"] = "error: unreachable"
    ok = all(v == "ok" for v in checks.values())
    body = Readiness(status="ready" if ok else "not ready", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)


@router.get("/me", response_model=Me)
def me(caller: ViewerDep) -> Me:
    """Who the credentials belong to, and their role."""
    return Me(name=caller.name, role=caller.role, method=caller.method, subject=caller.subject)


@metrics_router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
)
def metrics(service: ServiceDep) -> Response:
    """Prometheus metrics: requests, latencies, pipeline stage durations, candidates."""
    return Response(service.metrics.render(), media_type=CONTENT_TYPE_LATEST)
