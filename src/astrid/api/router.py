"""The JSON API: every resource's router under ``/api/v1``, and ``/metrics``.

`install` adds them to the app `astrid.app.create_app` builds, with the handler that turns
an invalid query into FastAPI's 422 validation-error shape.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from astrid.api.presenters import API_PREFIX
from astrid.api.routes import (
    admin,
    alerts,
    candidates,
    exports,
    health,
    labels,
    models,
    objects,
    observations,
    runs,
)
from astrid.catalog.query_params import InvalidQueryError
from astrid.service.params import query_error

__all__ = ["DESCRIPTION", "install"]

DESCRIPTION = """\
Results of AstrID: observations, processing runs, transient candidates with their
real/bogus and out-of-distribution scores, cutouts, cone searches, curators' labels and
their consensus, exports, model versions; alert packets, alert filters, subscriptions
and their deliveries.

Authenticate with an API key (`X-API-Key: astrid_...` or `Authorization: Bearer astrid_...`)
or a JWT bearer token. Roles: viewer (read), curator (read, label), admin (everything).
"""


def install(app: FastAPI) -> dict[int, str]:
    """Add the API's routes to ``app``.

    Returns
    -------
    dict of int to str
        The full path template of each route included under the prefix, by ``id(route)``
        (for `astrid.service.metrics.MetricsMiddleware`).
    """
    prefixed: dict[int, str] = {}
    for module in (
        health,
        observations,
        runs,
        candidates,
        objects,
        alerts,
        labels,
        exports,
        models,
        admin,
    ):
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

    return prefixed
