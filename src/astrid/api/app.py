"""The FastAPI application: the API under ``/api/v1``, the web page at ``/``, ``/metrics``.

`create_app` builds one app around one `Service` (catalog, store, auth, worker); the
worker thread runs while the app's lifespan does (``astrid serve``, or a test client used
as a context manager).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from astrid import __version__
from astrid.api.jwks import Fetcher
from astrid.api.metrics import MetricsMiddleware
from astrid.api.params import query_error
from astrid.api.presenters import API_PREFIX
from astrid.api.routes import admin, candidates, exports, health, labels, models, observations, runs
from astrid.api.service import Service, open_service
from astrid.catalog.queries import InvalidQueryError
from astrid.config import Settings

__all__ = ["create_app"]

logger = logging.getLogger(__name__)

_DESCRIPTION = """\
Results of AstrID: observations, processing runs, transient candidates with their
real/bogus and out-of-distribution scores, cutouts, cone searches, curators' labels and
their consensus, exports, model versions.

Authenticate with an API key (`X-API-Key: astrid_...` or `Authorization: Bearer astrid_...`)
or a JWT bearer token. Roles: viewer (read), curator (read, label), admin (everything).
"""


def create_app(
    settings: Settings | None = None,
    *,
    service: Service | None = None,
    jwks_fetcher: Fetcher | None = None,
    run_worker: bool = True,
) -> FastAPI:
    """Build the service's application.

    Parameters
    ----------
    settings : Settings, optional
        Defaults to the environment (``ASTRID_*``).
    service : Service, optional
        An already opened service (``settings`` and ``jwks_fetcher`` are then ignored).
    jwks_fetcher : callable, optional
        Fetches the OIDC JWKS document; tests inject one.
    run_worker : bool
        Start the job worker thread with the app (off in tests that drive it by hand).

    Returns
    -------
    fastapi.FastAPI
    """
    from astrid.web.pages import install as install_web

    if service is None:
        service = open_service(settings or Settings(), jwks_fetcher=jwks_fetcher)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if run_worker:
            service.worker.start()
        try:
            yield
        finally:
            service.close()

    app = FastAPI(
        title="AstrID",
        version=__version__,
        description=_DESCRIPTION,
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.service = service
    prefixed: dict[int, str] = {}
    for module in (health, observations, runs, candidates, labels, exports, models, admin):
        app.include_router(module.router, prefix=API_PREFIX)
        for route in module.router.routes:
            path = getattr(route, "path", None)
            if isinstance(path, str):
                prefixed[id(route)] = API_PREFIX + path
    app.include_router(health.metrics_router)

    @app.exception_handler(InvalidQueryError)
    async def invalid_query(_: Request, error: InvalidQueryError) -> JSONResponse:
        http = query_error(error)
        return JSONResponse({"detail": http.detail}, status_code=http.status_code)

    install_web(app)
    app.add_middleware(MetricsMiddleware, metrics=service.metrics, prefixed=prefixed)
    return app
