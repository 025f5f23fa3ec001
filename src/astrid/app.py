"""The service's application: the JSON API and the review web page side by side.

`open_service` wires a `Service` (catalog, store, authentication, metrics, job worker)
from the settings, after recovering what a killed process left behind
(`astrid.pipeline.recovery`); `create_app` builds one FastAPI app around it with the API under
``/api/v1`` (`astrid.api`), the web page at ``/`` (`astrid.web`) and ``/metrics``, every
response with the security headers of `astrid.service.security_headers`. Both
front ends call the same use cases (`astrid.service`); neither imports the other. The
worker thread runs while the app's lifespan does (``astrid serve``, or a test client used
as a context manager).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI

from astrid import __version__
from astrid.api import router as api_router
from astrid.api.worker import JobWorker
from astrid.catalog import Catalog, connect
from astrid.catalog.queue_stats import queue_stats
from astrid.config import Settings
from astrid.pipeline.config import PipelineConfig
from astrid.pipeline.object_context import ContextSources
from astrid.pipeline.recovery import recover
from astrid.service.auth import Authenticator
from astrid.service.cutout_images import CutoutRenderer
from astrid.service.jwks import Fetcher, JwksCache
from astrid.service.metrics import Metrics, MetricsMiddleware
from astrid.service.rate_limit import LoginBackoff, RateLimiter, RateLimitMiddleware
from astrid.service.security_headers import SecurityHeadersMiddleware
from astrid.service.state import Service, service_secret
from astrid.store import ObjectStore
from astrid.web import site as web_site

__all__ = ["create_app", "job_worker", "open_service"]


def job_worker(
    settings: Settings, catalog: Catalog, store: ObjectStore, metrics: Metrics
) -> JobWorker:
    """The job worker the settings describe (science config, lease, attempts, work dir,
    context catalogues): the thread of ``astrid serve`` or the loop of ``astrid worker``."""
    return JobWorker(
        catalog,
        store,
        PipelineConfig.from_settings(settings),
        work_dir=settings.data_dir / "jobs",
        metrics=metrics,
        lease=timedelta(minutes=settings.job_lease_minutes),
        max_attempts=settings.job_max_attempts,
        context=ContextSources.from_settings(settings),
        scheduler=settings.scheduler_address,
        reference_cache=settings.data_dir / "cache" / "prepared",
        reference_cache_bytes=int(settings.reference_cache_gb * 1e9),
    )


def open_service(settings: Settings, *, jwks_fetcher: Fetcher | None = None) -> Service:
    """Connect the catalog and store of ``settings`` and build the service around them.

    Parameters
    ----------
    settings : Settings
    jwks_fetcher : callable, optional
        Fetches the OIDC JWKS document (tests inject one); default: HTTP GET.
    """
    catalog = connect(settings.db_url)
    store = ObjectStore(settings.store_root)
    # What a killed process left: runs still marked running, half-written objects.
    recover(catalog, store)
    jwks = (
        JwksCache(settings.oidc_jwks_url, fetcher=jwks_fetcher) if settings.oidc_jwks_url else None
    )
    auth = Authenticator(
        catalog,
        secret=service_secret(settings),
        jwks=jwks,
        issuer=settings.oidc_issuer,
        audience=settings.oidc_audience,
        role_claim=settings.jwt_role_claim,
        default_role=settings.jwt_default_role,
        session_seconds=settings.session_hours * 3600.0,
    )
    metrics = Metrics()
    metrics.watch_queues(lambda: queue_stats(catalog))
    worker = job_worker(settings, catalog, store, metrics)
    return Service(
        settings=settings,
        catalog=catalog,
        store=store,
        auth=auth,
        metrics=metrics,
        worker=worker,
        incoming_dir=settings.data_dir / "uploads",
        cutouts=CutoutRenderer(store),
        limiter=RateLimiter(settings.rate_limit_per_minute),
        backoff=LoginBackoff(
            free_failures=settings.login_free_failures,
            max_seconds=settings.login_backoff_max_seconds,
        ),
    )


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
        Start the job worker thread with the app (off in tests that drive it by hand, and
        in ``astrid serve`` when ``ASTRID_SERVE_WORKER`` is false: `astrid worker`
        processes then run the jobs).

    Returns
    -------
    fastapi.FastAPI
    """
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
        description=api_router.DESCRIPTION,
        lifespan=lifespan,
        openapi_url="/openapi.json",
        # Swagger UI would load its script and styles from a CDN, which the page's CSP
        # forbids, and no installed package ships them: the schema is served, the page not.
        docs_url=None,
        redoc_url=None,
    )
    app.state.service = service
    prefixed = api_router.install(app)
    web_site.install(app)
    app.add_middleware(RateLimitMiddleware, limiter=service.limiter)
    app.add_middleware(MetricsMiddleware, metrics=service.metrics, prefixed=prefixed)
    app.add_middleware(SecurityHeadersMiddleware)
    return app
