"""SQLAlchemy models of the catalog: observations, processing runs, candidates, events.

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
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = [
    "HEALPIX_NSIDE",
    "OBSERVATION_ROLES",
    "OBSERVATION_STATUSES",
    "RUN_STATUSES",
    "Base",
    "Candidate",
    "Event",
    "Observation",
    "ProcessingRun",
    "UTCDateTime",
    "utcnow",
]

HEALPIX_NSIDE = 2**16
OBSERVATION_ROLES = ("science", "reference")
OBSERVATION_STATUSES = ("registered", "failed", "processed")
RUN_STATUSES = ("running", "done", "failed")

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


class Observation(Base):
    """One registered image (science or reference), keyed by the SHA-256 of its file."""

    __tablename__ = "observations"
    __table_args__ = (
        CheckConstraint(_in("role", OBSERVATION_ROLES), name="role"),
        CheckConstraint(_in("status", OBSERVATION_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
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


class ProcessingRun(Base):
    """One difference-imaging run of a science image against a reference.

    ``key`` is the idempotency key (input hashes + config hash + code version): a finished
    run with the same key is not repeated.
    """

    __tablename__ = "processing_runs"
    __table_args__ = (CheckConstraint(_in("status", RUN_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    science_id: Mapped[int] = mapped_column(ForeignKey("observations.id"), index=True)
    reference_id: Mapped[int | None] = mapped_column(ForeignKey("observations.id"))
    status: Mapped[str] = mapped_column(String(16), default="running")
    failed_stage: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    config_json: Mapped[str] = mapped_column(Text)
    code_version: Mapped[str] = mapped_column(String(64))
    n_candidates: Mapped[int] = mapped_column(Integer, default=0)
    stats_json: Mapped[str | None] = mapped_column(Text)
    timings_json: Mapped[str | None] = mapped_column(Text)
    products_json: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()


class Candidate(Base):
    """One S_corr peak of a run's difference image, with its measurements.

    Measurements that a fit may fail to produce (``snr``, ``flux``, ``flux_err``, ``mag``,
    ``fwhm``, ...) are nullable; position, significance and sign are not.
    """

    __tablename__ = "candidates"
    __table_args__ = (
        UniqueConstraint("run_id", "number"),
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
    features_json: Mapped[str | None] = mapped_column(Text)
    cutout_science_key: Mapped[str | None] = mapped_column(String(255))
    cutout_reference_key: Mapped[str | None] = mapped_column(String(255))
    cutout_difference_key: Mapped[str | None] = mapped_column(String(255))


class Event(Base):
    """One entry of the append-only event log (ObservationIngested, CandidatesFound, ...)."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    type: Mapped[str] = mapped_column(String(64), index=True)
    payload_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
