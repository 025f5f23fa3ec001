"""The running service's state: settings, catalog, store, authentication, metrics, worker.

One `Service` per app, built by `open_service` and reached by routes through
`astrid.api.deps`. No module-level globals: tests build as many as they like.
"""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from astrid.api.auth import Authenticator
from astrid.api.cutout_images import CutoutRenderer
from astrid.api.jwks import Fetcher, JwksCache
from astrid.api.metrics import Metrics
from astrid.api.worker import JobWorker
from astrid.catalog import Catalog, connect
from astrid.catalog.access import count_api_keys, create_api_key
from astrid.config import Settings
from astrid.errors import ConfigurationError
from astrid.pipeline.config import PipelineConfig
from astrid.store import ObjectStore

__all__ = ["Service", "bootstrap_admin_key", "open_service", "service_secret"]

logger = logging.getLogger(__name__)

SECRET_FILE = "service-secret"


@dataclass
class Service:
    """Everything a request handler may need."""

    settings: Settings
    catalog: Catalog
    store: ObjectStore
    auth: Authenticator
    metrics: Metrics
    worker: JobWorker
    incoming_dir: Path
    cutouts: CutoutRenderer

    @property
    def claim_timeout(self) -> timedelta:
        """How long a review claim holds."""
        return timedelta(minutes=self.settings.review_claim_minutes)

    def close(self) -> None:
        """Stop the worker and release the database."""
        self.worker.stop()
        self.catalog.close()


def service_secret(settings: Settings) -> str:
    """The HS256 secret: the configured one, or (local use) one kept in the data dir.

    The local secret is random, created on first start with owner-only permissions, so
    web sessions survive restarts and nobody can forge tokens from a published default.

    Raises
    ------
    ConfigurationError
        When the secret file cannot be read or written.
    """
    if settings.jwt_secret is not None:
        return settings.jwt_secret.get_secret_value()
    path = settings.data_dir / SECRET_FILE
    try:
        if not path.exists():
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
        secret = path.read_text().strip()
    except FileExistsError:
        secret = path.read_text().strip()
    except OSError as e:
        raise ConfigurationError(f"cannot keep the service secret in {path}: {e}") from e
    if len(secret) < 32:
        raise ConfigurationError(f"{path} holds a secret shorter than 32 characters")
    return secret


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
    work_dir = settings.data_dir / "jobs"
    worker = JobWorker(
        catalog,
        store,
        PipelineConfig.from_settings(settings),
        work_dir=work_dir,
        metrics=metrics,
        lease=timedelta(minutes=settings.job_lease_minutes),
    )
    return Service(
        settings=settings,
        catalog=catalog,
        store=store,
        auth=auth,
        metrics=metrics,
        worker=worker,
        incoming_dir=settings.data_dir / "uploads",
        cutouts=CutoutRenderer(store),
    )


def bootstrap_admin_key(catalog: Catalog) -> str | None:
    """On first start (no key ever created), create an admin key and return it; else None."""
    if count_api_keys(catalog) > 0:
        return None
    key, record = create_api_key(catalog, name="admin", role="admin", actor="astrid serve")
    logger.info("created the first admin API key %s (id %d)", record.prefix, record.id)
    return key
