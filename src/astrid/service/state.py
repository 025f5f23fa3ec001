"""The running service's state: settings, catalog, store, authentication, metrics, worker.

One `Service` per app, built by `astrid.app.open_service` and reached by the API's and the
web page's routes through `astrid.service.deps`. No module-level globals: tests build as
many as they like.
"""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Protocol

from astrid.catalog import Catalog
from astrid.catalog.access import count_api_keys, create_api_key
from astrid.config import Settings
from astrid.errors import ConfigurationError
from astrid.service.auth import Authenticator
from astrid.service.cutout_images import CutoutRenderer
from astrid.service.metrics import Metrics
from astrid.service.rate_limit import LoginBackoff, RateLimiter
from astrid.store import ObjectStore

__all__ = ["Service", "Worker", "bootstrap_admin_key", "service_secret"]

logger = logging.getLogger(__name__)

SECRET_FILE = "service-secret"


class Worker(Protocol):
    """The job worker running beside the app (`astrid.api.worker.JobWorker`)."""

    def start(self) -> None:
        """Start working in the background."""

    def wake(self) -> None:
        """Look for jobs now."""

    def stop(self) -> None:
        """Stop after the current job."""

    def run_once(self) -> bool:
        """Do one job if one is waiting; whether one was."""


@dataclass
class Service:
    """Everything a request handler may need."""

    settings: Settings
    catalog: Catalog
    store: ObjectStore
    auth: Authenticator
    metrics: Metrics
    worker: Worker
    incoming_dir: Path
    cutouts: CutoutRenderer
    limiter: RateLimiter
    backoff: LoginBackoff

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


def bootstrap_admin_key(catalog: Catalog) -> str | None:
    """On first start (no key ever created), create an admin key and return it; else None."""
    if count_api_keys(catalog) > 0:
        return None
    key, record = create_api_key(catalog, name="admin", role="admin", actor="astrid serve")
    logger.info("created the first admin API key %s (id %d)", record.prefix, record.id)
    return key
