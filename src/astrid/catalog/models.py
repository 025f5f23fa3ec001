"""SQLAlchemy models of the catalog.

Observations, processing runs, candidates (with their real/bogus and OOD scores), events,
model versions, and the curation/service tables: labels, review claims, API keys, the audit
log and the upload job queue.

Conventions: pixel positions ``x``, ``y`` are 0-based in the science image; ``ra``, ``dec``
are degrees ICRS; ``healpix`` is the nested HEALPix index at ``nside = 2**16``
(`HEALPIX_NSIDE`, about 3.2 arcsec pixels) for cone searches; fluxes are in the science
image's units; datetimes are timezone-aware UTC. JSON columns (``*_json``) hold text that
`json.loads` reads back. The Alembic migrations in ``migrations/versions`` must produce
exactly this schema (a test compares them).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from astrid.catalog.json_columns import JsonText
from astrid.curation.labels import LABELS, OBJECT_CLASSES
from astrid.roles import ROLES

__all__ = [
    "HEALPIX_NSIDE",
    "JOB_STATUSES",
    "OBJECTS_STATUSES",
    "OBSERVATION_ROLES",
    "OBSERVATION_STATUSES",
    "PHOTOMETRY_COLUMNS",
    "RUN_STATUSES",
    "Alert",
    "ApiKey",
    "AuditEntry",
    "Base",
    "Candidate",
    "Event",
    "Job",
    "Label",
    "LightCurvePoint",
    "ModelVersion",
    "ObjectLabel",
    "ObjectNameCounter",
    "Observation",
    "ProcessingRun",
    "ReviewClaim",
    "SkyObject",
    "UTCDateTime",
    "WebSession",
    "utcnow",
]

HEALPIX_NSIDE = 2**16
OBSERVATION_ROLES = ("science", "reference")
OBSERVATION_STATUSES = ("registered", "failed", "processed")
RUN_STATUSES = ("queued", "running", "done", "failed")
#: The objects stage of a finished run (light curves, context): None before it applies.
OBJECTS_STATUSES = ("pending", "done", "failed")
JOB_STATUSES = ("queued", "running", "done", "failed")

# Constraint names must be deterministic so Alembic batch migrations (SQLite) can find them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A datetime stored as UTC and always read back timezone-aware (SQLite drops zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the catalog stores timezone-aware UTC")
        value = value.astimezone(UTC)
        # SQLite's DATETIME text format cannot hold a zone; it is implied UTC.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    allowed = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({allowed})"


# SQLite only auto-increments INTEGER PRIMARY KEY; elsewhere big tables get 64-bit ids.
_BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Declarative base holding the catalog's metadata."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


#: The photometric calibration a finished run writes on its science observation.
PHOTOMETRY_COLUMNS = (
    "zero_point",
    "zero_point_error",
    "zero_point_stars",
    "zero_point_source",
    "limiting_mag",
)


class Observation(Base):
    """One registered image (science or reference), keyed by the SHA-256 of its file."""

    __tablename__ = "observations"
    __table_args__ = (
        CheckConstraint(_in("role", OBSERVATION_ROLES), name="role"),
        CheckConstraint(_in("status", OBSERVATION_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    content_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    path: Mapped[str] = mapped_column(Text)
    store_key: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    mjd: Mapped[float | None] = mapped_column(Float)
    filter: Mapped[str | None] = mapped_column(String(32))
    exptime: Mapped[float] = mapped_column(Float)
    gain: Mapped[float] = mapped_column(Float)
    shape_y: Mapped[int] = mapped_column(Integer)
    shape_x: Mapped[int] = mapped_column(Integer)
    wcs_header: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="registered")
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # photometric calibration of a processed science frame (AB mag of one flux unit)
    zero_point: Mapped[float | None] = mapped_column(Float)
    zero_point_error: Mapped[float | None] = mapped_column(Float)
    zero_point_stars: Mapped[int | None] = mapped_column(Integer)
    zero_point_source: Mapped[str | None] = mapped_column(String(32))
    limiting_mag: Mapped[float | None] = mapped_column(Float)
    # a stack's latest input (header MJD-END); a reference precedes a frame when this does
    mjd_end: Mapped[float | None] = mapped_column(Float)
    stack_json: Mapped[str | None] = mapped_column(JsonText)


class ProcessingRun(Base):
    """One difference-imaging run of a science image against a reference.

    ``key`` is the idempotency key (input hashes + config hash + code version): a finished
    run with the same key is not repeated.
    """

    __tablename__ = "processing_runs"
    __table_args__ = (
        CheckConstraint(_in("status", RUN_STATUSES), name="status"),
        CheckConstraint(_in("objects_status", OBJECTS_STATUSES), name="objects_status"),
    )

    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    science_id: Mapped[int] = mapped_column(ForeignKey("observations.id"), index=True)
    reference_id: Mapped[int | None] = mapped_column(ForeignKey("observations.id"))
    status: Mapped[str] = mapped_column(String(16), default="running")
    failed_stage: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    config_json: Mapped[str] = mapped_column(JsonText)
    code_version: Mapped[str] = mapped_column(String(64))
    n_candidates: Mapped[int] = mapped_column(Integer, default=0)
    stats_json: Mapped[str | None] = mapped_column(JsonText)
    timings_json: Mapped[str | None] = mapped_column(JsonText)
    products_json: Mapped[str | None] = mapped_column(JsonText)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()
    # The process that queued or runs it, "host:pid:start" (astrid.pipeline.recovery).
    owner: Mapped[str | None] = mapped_column(String(255))
    # The objects stage after the run is done: forced photometry on its difference image
    # for every object it covers, then features and context of the objects it touched.
    objects_status: Mapped[str | None] = mapped_column(String(16), index=True)
    objects_error: Mapped[str | None] = mapped_column(Text)
    # The difference image's footprint on the sky: a circle around its centre (degrees),
    # to find the runs that cover a position before the exact WCS test.
    footprint_ra: Mapped[float | None] = mapped_column(Float)
    footprint_dec: Mapped[float | None] = mapped_column(Float, index=True)
    footprint_radius: Mapped[float | None] = mapped_column(Float)
    # The claim on a queued or running run (astrid.catalog.claims): the owner holds it
    # until lease_expires_at (renewed by heartbeat); fence counts the claims, and a write
    # of the result carrying an older fence is refused (a stale worker's).
    lease_expires_at: Mapped[datetime | None] = mapped_column()
    fence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Candidate(Base):
    """One S_corr peak of a run's difference image, with its measurements.

    Measurements that a fit may fail to produce (``snr``, ``flux``, ``flux_err``, ``mag``,
    ``fwhm``, ...) are nullable; position, significance and sign are not.
    """

    __tablename__ = "candidates"
    __table_args__ = (
        UniqueConstraint("run_id", "number"),
        UniqueConstraint("survey", "source_id"),
        CheckConstraint("sign IN (-1, 1)", name="sign"),
        Index("ix_candidates_ra_dec", "ra", "dec"),
    )

    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("processing_runs.id", ondelete="CASCADE"), index=True
    )
    observation_id: Mapped[int] = mapped_column(ForeignKey("observations.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    x: Mapped[float] = mapped_column(Float)
    y: Mapped[float] = mapped_column(Float)
    ra: Mapped[float] = mapped_column(Float)
    dec: Mapped[float] = mapped_column(Float)
    healpix: Mapped[int] = mapped_column(BigInteger, index=True)
    sign: Mapped[int] = mapped_column(Integer)
    scorr: Mapped[float] = mapped_column(Float)
    snr: Mapped[float | None] = mapped_column(Float)
    flux: Mapped[float | None] = mapped_column(Float)
    flux_err: Mapped[float | None] = mapped_column(Float)
    mag: Mapped[float | None] = mapped_column(Float)
    mag_err: Mapped[float | None] = mapped_column(Float)
    fwhm: Mapped[float | None] = mapped_column(Float)
    elongation: Mapped[float | None] = mapped_column(Float)
    n_bad_pixels: Mapped[int] = mapped_column(Integer, default=0)
    dist_nearest_ref_source_arcsec: Mapped[float | None] = mapped_column(Float)
    features_json: Mapped[str | None] = mapped_column(JsonText)
    cutout_science_key: Mapped[str | None] = mapped_column(String(255))
    cutout_reference_key: Mapped[str | None] = mapped_column(String(255))
    cutout_difference_key: Mapped[str | None] = mapped_column(String(255))
    # scores of the model version that last scored this candidate (null until scored)
    rb: Mapped[float | None] = mapped_column(Float, index=True)
    ood: Mapped[float | None] = mapped_column(Float)
    ood_msp: Mapped[float | None] = mapped_column(Float)
    ood_energy: Mapped[float | None] = mapped_column(Float)
    ood_mahalanobis: Mapped[float | None] = mapped_column(Float)
    model_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("model_versions.id"), index=True
    )
    # the object (source) this detection belongs to; one column, so never two objects
    object_id: Mapped[int | None] = mapped_column(
        _BigId, ForeignKey("objects.id", ondelete="SET NULL"), index=True
    )
    # provenance of a candidate ingested from a survey's alert packet (null for AstrID's
    # own): the survey, its detection id (unique per survey), packet id and schema version,
    # and the survey's own real/bogus score
    survey: Mapped[str | None] = mapped_column(String(16))
    source_id: Mapped[int | None] = mapped_column(BigInteger)
    packet_id: Mapped[str | None] = mapped_column(String(64))
    schema_version: Mapped[str | None] = mapped_column(String(16))
    survey_score: Mapped[float | None] = mapped_column(Float)


class SkyObject(Base):
    """One astrophysical source: the candidates of many frames that lie within the radius.

    ``ra``/``dec`` are the flux-weighted mean of its detections; ``name`` is the public
    name (``ASTRID`` + ``year`` + the letters of ``year_sequence``), never reused.
    """

    __tablename__ = "objects"
    __table_args__ = (UniqueConstraint("year", "year_sequence"),)

    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)
    ra: Mapped[float] = mapped_column(Float)
    dec: Mapped[float] = mapped_column(Float)
    healpix: Mapped[int] = mapped_column(BigInteger, index=True)
    n_detections: Mapped[int] = mapped_column(Integer)
    first_mjd: Mapped[float | None] = mapped_column(Float)
    last_mjd: Mapped[float | None] = mapped_column(Float)
    year: Mapped[int] = mapped_column(Integer)
    year_sequence: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # light-curve features (astrid.objects.features), from the forced photometry
    n_nondetections: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    peak_mjd: Mapped[float | None] = mapped_column(Float)
    peak_mag: Mapped[float | None] = mapped_column(Float, index=True)
    peak_flux: Mapped[float | None] = mapped_column(Float)
    peak_band: Mapped[str | None] = mapped_column(String(32))
    rise_rate: Mapped[float | None] = mapped_column(Float)
    decline_rate: Mapped[float | None] = mapped_column(Float)
    features_json: Mapped[str | None] = mapped_column(JsonText)
    # context (astrid.context): the class, why, the deciding match and the host
    context_class: Mapped[str | None] = mapped_column(String(32), index=True)
    context_reason: Mapped[str | None] = mapped_column(Text)
    context_json: Mapped[str | None] = mapped_column(JsonText)
    xmatch_catalog: Mapped[str | None] = mapped_column(String(64))
    xmatch_name: Mapped[str | None] = mapped_column(String(128))
    xmatch_type: Mapped[str | None] = mapped_column(String(64))
    xmatch_sep_arcsec: Mapped[float | None] = mapped_column(Float)
    host_name: Mapped[str | None] = mapped_column(String(128))
    host_sep_arcsec: Mapped[float | None] = mapped_column(Float)
    host_dlr: Mapped[float | None] = mapped_column(Float)
    host_distance_mpc: Mapped[float | None] = mapped_column(Float)
    # a possible solar-system object (astrid.objects.moving): not a stationary source
    moving: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    updated_at: Mapped[datetime | None] = mapped_column()


class LightCurvePoint(Base):
    """Forced PSF photometry of one object on one run's difference image.

    One row per (object, run): re-running or re-measuring replaces it. ``flux`` and
    ``flux_err`` are difference fluxes in the science image's units, measured at the
    object's position whether or not it was detected; ``detected`` says a candidate of the
    object came from this run (``candidate_id``). ``zero_point`` is the science frame's,
    when known (magnitudes are derived from it, never stored apart).
    """

    __tablename__ = "lightcurve_points"
    __table_args__ = (UniqueConstraint("object_id", "run_id"),)

    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    object_id: Mapped[int] = mapped_column(
        _BigId, ForeignKey("objects.id", ondelete="CASCADE"), index=True
    )
    run_id: Mapped[int] = mapped_column(
        ForeignKey("processing_runs.id", ondelete="CASCADE"), index=True
    )
    observation_id: Mapped[int] = mapped_column(ForeignKey("observations.id"))
    candidate_id: Mapped[int | None] = mapped_column(
        _BigId, ForeignKey("candidates.id", ondelete="SET NULL")
    )
    mjd: Mapped[float | None] = mapped_column(Float)
    band: Mapped[str | None] = mapped_column(String(32))
    x: Mapped[float] = mapped_column(Float)
    y: Mapped[float] = mapped_column(Float)
    flux: Mapped[float | None] = mapped_column(Float)
    flux_err: Mapped[float | None] = mapped_column(Float)
    zero_point: Mapped[float | None] = mapped_column(Float)
    detected: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Alert(Base):
    """One published alert: AstrID's alert id for one detection of one object.

    A detection is ``(run_id, candidate_number)``: the candidate's place in its run, which a
    retried run keeps when its candidate rows (and ids) are replaced. The unique pair makes
    the alert id one per detection, so a repeated run never makes a second alert.
    ``sent_at`` is set once the packet has been written (``schema_version`` says which Rubin
    schema it follows); ``error`` holds why the last attempt to build it failed;
    ``avro_key`` and ``sidecar_key`` are the packet's store keys, ``fields_json`` its filter
    fields (`astrid.alerts.alert_fields`).
    """

    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("run_id", "candidate_number"),)

    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("processing_runs.id", ondelete="CASCADE"), index=True
    )
    candidate_number: Mapped[int] = mapped_column(Integer)
    candidate_id: Mapped[int | None] = mapped_column(
        _BigId, ForeignKey("candidates.id", ondelete="SET NULL")
    )
    object_id: Mapped[int | None] = mapped_column(
        _BigId, ForeignKey("objects.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()
    schema_version: Mapped[str | None] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    avro_key: Mapped[str | None] = mapped_column(String(255))
    sidecar_key: Mapped[str | None] = mapped_column(String(255))
    fields_json: Mapped[str | None] = mapped_column(JsonText)


class ObjectLabel(Base):
    """One curator's class of one object (`astrid.curation.labels.OBJECT_CLASSES`)."""

    __tablename__ = "object_labels"
    __table_args__ = (CheckConstraint(_in("label", OBJECT_CLASSES), name="label"),)

    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    object_id: Mapped[int] = mapped_column(
        _BigId, ForeignKey("objects.id", ondelete="CASCADE"), index=True
    )
    curator: Mapped[str] = mapped_column(String(255))
    label: Mapped[str] = mapped_column(String(32))
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ObjectNameCounter(Base):
    """The last name sequence number handed out per year (so a deleted name is not reused)."""

    __tablename__ = "object_name_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_sequence: Mapped[int] = mapped_column(Integer)


class ModelVersion(Base):
    """One registered detection model: an ONNX file in the object store plus its metrics.

    ``name`` is the model family (``"realbogus"``, ``"unet"``); ``version`` counts up per
    name; at most one version per name is ``active`` (enforced by the repository).
    """

    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    file_key: Mapped[str] = mapped_column(String(255))
    data_hash: Mapped[str] = mapped_column(String(64))
    metrics_json: Mapped[str] = mapped_column(JsonText)
    card_json: Mapped[str | None] = mapped_column(JsonText)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Label(Base):
    """One curator's label of one candidate; several curators may label the same one."""

    __tablename__ = "labels"
    __table_args__ = (CheckConstraint(_in("label", LABELS), name="label"),)

    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    candidate_id: Mapped[int] = mapped_column(
        ForeignKey("candidates.id", ondelete="CASCADE"), index=True
    )
    curator: Mapped[str] = mapped_column(String(255))
    label: Mapped[str] = mapped_column(String(32))
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReviewClaim(Base):
    """A candidate handed to one curator in review mode, so no other curator gets it."""

    __tablename__ = "review_claims"

    candidate_id: Mapped[int] = mapped_column(
        ForeignKey("candidates.id", ondelete="CASCADE"), primary_key=True
    )
    curator: Mapped[str] = mapped_column(String(255), index=True)
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    """An API key: only its SHA-256 is stored; ``prefix`` identifies it in listings."""

    __tablename__ = "api_keys"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="role"),)

    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    key_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


class AuditEntry(Base):
    """One write through the service: who did what to what, when."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    actor: Mapped[str] = mapped_column(String(255), index=True)
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(255))
    detail_json: Mapped[str | None] = mapped_column(JsonText)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Job(Base):
    """A queued unit of work (e.g. processing an uploaded observation)."""

    __tablename__ = "jobs"
    __table_args__ = (CheckConstraint(_in("status", JOB_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    payload_json: Mapped[str] = mapped_column(JsonText)
    observation_id: Mapped[int | None] = mapped_column(ForeignKey("observations.id"))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("processing_runs.id"))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    # Claims so far; a job whose worker died (lease expired) this often is given up. The
    # attempt number is also the claim's fencing token: only its holder finishes the job.
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Until when the worker holds it (renewed by heartbeat while the job runs).
    lease_expires_at: Mapped[datetime | None] = mapped_column()


class WebSession(Base):
    """A web login: the session cookie names it, logout (or a revoked key) ends it here."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the cookie token's jti
    subject: Mapped[str] = mapped_column(String(255), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    revoked_at: Mapped[datetime | None] = mapped_column()


class Event(Base):
    """One entry of the append-only event log (ObservationIngested, CandidatesFound, ...)."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    type: Mapped[str] = mapped_column(String(64), index=True)
    payload_json: Mapped[str] = mapped_column(JsonText)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
