"""One settings object for the whole package (pydantic-settings, ``ASTRID_*`` variables).

No other module reads the environment: the CLI builds a `Settings` (flags override the
environment) and passes it, or the values it needs, down.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from astrid.observations.fits_reader import DEFAULT_MAX_PIXELS
from astrid.roles import Role

__all__ = ["MIN_SECRET_LENGTH", "Settings"]

MIN_SECRET_LENGTH = 32
# Secrets copied from examples and templates: never accepted outside local use.
_KNOWN_DEFAULT_SECRETS = frozenset(
    {"changethis", "change-me", "changeme", "secret", "jwt-secret", "your-secret-key"}
)


def _check_secret(secret: SecretStr | None) -> None:
    """Refuse a missing, known-default or short JWT secret (outside local use)."""
    if secret is None:
        raise ValueError(
            "jwt_secret (ASTRID_JWT_SECRET) must be set when environment is not 'local'"
        )
    value = secret.get_secret_value()
    if value.lower() in _KNOWN_DEFAULT_SECRETS:
        raise ValueError(
            "jwt_secret (ASTRID_JWT_SECRET) is a well-known default; set a random one, "
            "e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )
    if len(value) < MIN_SECRET_LENGTH:
        raise ValueError(
            f"jwt_secret (ASTRID_JWT_SECRET) must be at least {MIN_SECRET_LENGTH} characters "
            f"outside local use, got {len(value)}"
        )


class Settings(BaseSettings):
    """AstrID settings; every field can be set with an ``ASTRID_<NAME>`` variable."""

    model_config = SettingsConfigDict(env_prefix="ASTRID_", extra="ignore")

    data_dir: Path = Field(default=Path("./astrid-data"), description="SQLite file + store")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default sqlite:///<data_dir>/astrid.sqlite"
    )
    store_url: str | None = Field(
        default=None, description="fsspec URL of the object store; default <data_dir>/store"
    )
    threshold: float = Field(default=5.0, gt=0, description="|S_corr| detection threshold")
    workers: int = Field(default=0, ge=0, description="processes over science frames; 0 = cores")
    reference_cache_gb: float = Field(
        default=4.0,
        ge=0,
        description="astrid run keeps references' preparations (masks, background, stars) "
        "under <data_dir>/cache/prepared for later runs, at most this many GB (least "
        "recently used removed first); 0: not kept between runs",
    )
    detector: Literal["scorr", "unet"] = Field(
        default="scorr", description="candidates from |S_corr| peaks or the U-Net map"
    )
    max_image_pixels: int = Field(
        default=DEFAULT_MAX_PIXELS,
        gt=0,
        description="largest image read (pixels, as its header declares); larger ones are "
        "refused before their data are read or decompressed",
    )
    photometric_catalogue: Path | None = Field(
        default=None,
        description="reference stars (AB mags; CSV/FITS/parquet) that calibrate each science "
        "frame's zero point (docs/photometry.md); unset: zero points from headers",
    )
    run_lease_s: float = Field(
        default=120.0,
        gt=1,
        description="a run is claimed for this long, renewed every third of it while it "
        "computes; a dead process's runs are taken over after it",
    )
    scheduler_address: str | None = Field(
        default=None,
        description="a Dask distributed scheduler (tcp://host:8786) whose workers compute "
        "the frames, reading them from the store and putting their products there "
        "(docs/scaling.md); unset: local processes",
    )
    metrics_textfile: Path | None = Field(
        default=None,
        description="astrid run writes its frames' outcomes and stage durations here in "
        "Prometheus text format when it ends (node_exporter's textfile collector; "
        "docs/service.md); unset: not written",
    )
    photometric_service: Literal["ps1"] | None = Field(
        default=None,
        description="online survey whose stars calibrate zero points when no catalogue file "
        "is given (ps1: Pan-STARRS1 DR1 through VizieR TAP, cached per field); unset: none",
    )
    photometric_timeout_s: float = Field(
        default=60.0, gt=0, description="seconds allowed for one field's reference stars"
    )
    photometric_band: str | None = Field(
        default=None,
        description="the catalogue band to calibrate with (unset: each frame's filter)",
    )

    # -- service (astrid serve): docs/service.md ----------------------------------------
    template_survey: str | None = Field(
        default=None,
        description="astrid run without --reference: when no registered reference covers a "
        "frame, fetch a template from this archive survey (ps1, decaps or a HiPS ID "
        "through CDS hips2fits; ps1-cutout: PS1 stack pixels from STScI; legacy-cutout: "
        "Legacy Survey DR10 pixels from its viewer; skymapper-cutout: SkyMapper DR4 pixels "
        "from its SIAP) and register it; off by default (needs the network)",
    )
    template_server: str | None = Field(
        default=None,
        description="the template archive's endpoint (hips2fits's URL, the folder of "
        "PS1's ps1filenames.py, of the Legacy Survey viewer's fits-cutout, or of "
        "SkyMapper's SIAP query and get_image); default: the archive's own",
    )
    template_timeout_s: float = Field(
        default=60.0, gt=0, description="seconds to wait for a template from an archive"
    )
    environment: Literal["local", "production"] = Field(
        default="local", description="'production' refuses weak or missing secrets"
    )
    jwt_secret: SecretStr | None = Field(
        default=None,
        description="HS256 secret for bearer tokens and web sessions; local default: a "
        "random secret kept in <data_dir>/service-secret",
    )
    oidc_jwks_url: str | None = Field(
        default=None, description="JWKS URL of an OIDC provider: RS256 bearer tokens"
    )
    oidc_issuer: str | None = Field(default=None, description="required 'iss' of JWTs")
    oidc_audience: str | None = Field(default=None, description="required 'aud' of JWTs")
    jwt_role_claim: str = Field(
        default="role", description="claim (dotted path) holding viewer/curator/admin"
    )
    jwt_default_role: Role | None = Field(
        default=None, description="role of a valid JWT without a known role; none = 403"
    )
    session_hours: float = Field(default=12.0, gt=0, le=24 * 30, description="web login")
    rate_limit_per_minute: float = Field(
        default=600.0, gt=0, description="requests a minute per client IP and per credential"
    )
    login_free_failures: int = Field(
        default=10, ge=0, description="failed logins per IP / credential before the back-off"
    )
    login_backoff_max_seconds: float = Field(
        default=900.0, gt=0, description="longest login lock-out (it doubles from 1 s)"
    )
    upload_max_bytes: int = Field(
        default=1 << 30, gt=0, description="largest FITS upload accepted (bytes)"
    )
    review_claim_minutes: float = Field(
        default=15.0, gt=0, description="a review claim not labelled by then is released"
    )
    review_labels_wanted: int = Field(
        default=1, ge=1, description="labels (curators) after which a candidate leaves review"
    )
    job_lease_minutes: float = Field(
        default=2.0,
        gt=0,
        description="a running job's lease, renewed every third of it while it runs; a job "
        "whose lease lapsed (its worker died or hung) is requeued",
    )
    job_max_attempts: int = Field(
        default=3, ge=1, description="claims before a job whose worker keeps dying is failed"
    )
    serve_worker: bool = Field(
        default=True,
        description="astrid serve also runs queued jobs; false: it only enqueues them and "
        "`astrid worker` processes (any number, any host sharing catalog and store) run them",
    )
    export_max_rows: int = Field(default=200_000, gt=0, description="rows per export")
    neighbour_radius_arcsec: float = Field(
        default=2.0, gt=0, le=3600, description="candidates this close are 'the same position'"
    )
    association_radius_arcsec: float = Field(
        default=1.5, gt=0, le=60, description="a candidate joins the nearest object this close"
    )
    summary_rewriter: str | None = Field(
        default=None,
        description="'package.module:function' that rewrites alert summaries (e.g. with a "
        "language model); kept beside the summary only if its numbers are the summary's",
    )
    # -- survey alert streams in (astrid ingest-alerts --topic): docs/ingest.md -----------
    kafka_bootstrap_servers: str | None = Field(
        default=None, description="Kafka cluster of the alert streams read (host:port,...)"
    )
    kafka_group_id: str = Field(
        default="astrid-ingest", description="consumer group of ingest-alerts --topic"
    )
    kafka_options: dict[str, str] = Field(
        default={}, description="other librdkafka consumer settings (a JSON object)"
    )
    context_dir: Path | None = Field(
        default=None, description="offline context catalogues; default <data_dir>/context"
    )
    context_catalogues: list[str] | None = Field(
        default=None, description="installed catalogues to cross-match; None = all"
    )
    context_enabled: bool = Field(default=True, description="cross-match offline catalogues")
    # -- online context (off unless services are named): docs/context.md ------------------
    context_online: list[Literal["simbad", "ned", "vizier", "tns"]] = Field(
        default=[], description="online services to cone-search; empty = off (no network)"
    )
    context_online_radius_arcsec: float = Field(
        default=2.0, gt=0, le=60, description="cone radius of every online search"
    )
    context_online_timeout_s: float = Field(
        default=10.0, gt=0, description="seconds allowed for each online request"
    )
    context_online_ttl_hours: float = Field(
        default=168.0, gt=0, description="an online answer is reused this long (cache)"
    )
    context_vizier_tables: list[str] | None = Field(
        default=None,
        description="VizieR tables (names or TABLE:RA_COL:DEC_COL:NAME_COL); None = Gaia DR3 "
        "and PS1",
    )
    # Endpoints: None = the service's public one (astrid.context.online); tests point them
    # at a local server.
    context_simbad_url: str | None = Field(default=None, description="SIMBAD TAP base URL")
    context_ned_url: str | None = Field(default=None, description="NED TAP base URL")
    context_vizier_url: str | None = Field(default=None, description="VizieR TAP base URL")
    context_tns_url: str | None = Field(default=None, description="TNS bot API base URL")
    tns_api_key: SecretStr | None = Field(default=None, description="TNS bot API key")
    tns_bot_id: int | None = Field(default=None, description="TNS bot id")
    tns_bot_name: str | None = Field(default=None, description="TNS bot name")

    @model_validator(mode="after")
    def _fill_defaults(self) -> Settings:
        if self.database_url is None:
            self.database_url = f"sqlite:///{(self.data_dir / 'astrid.sqlite').resolve()}"
        if self.store_url is None:
            self.store_url = str((self.data_dir / "store").resolve())
        if self.context_dir is None:
            self.context_dir = self.data_dir / "context"
        if self.environment != "local":
            _check_secret(self.jwt_secret)
        return self

    @property
    def db_url(self) -> str:
        """The database URL (always set after validation)."""
        assert self.database_url is not None
        return self.database_url

    @property
    def store_root(self) -> str:
        """The object-store URL (always set after validation)."""
        assert self.store_url is not None
        return self.store_url
