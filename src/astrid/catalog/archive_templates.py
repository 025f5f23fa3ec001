"""The index of templates fetched from survey archives, kept in the object store.

The object store is content-addressed, so the catalog says which object answers which
request: one row per request digest (`astrid.archives.ArchiveRequest.digest`: survey, band,
position and size, all that determines the answer) with the store key of the FITS file
and, for people and queries, the survey, band, centre (``ra``, ``dec``: degrees ICRS),
shape and when it was fetched (UTC).

Two processes that fetch the same template at once both store the same bytes (the same
key); the first row written stays and the second insert is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Float, Integer, String
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from astrid.catalog.models import Base, utcnow
from astrid.catalog.repository import Catalog, catalog_errors
from astrid.errors import StorageError

__all__ = [
    "ArchiveTemplate",
    "ArchiveTemplateRecord",
    "archive_template",
    "record_archive_template",
]


class ArchiveTemplate(Base):
    """A template fetched from a survey archive: its request digest and its store key."""

    __tablename__ = "archive_templates"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    survey: Mapped[str] = mapped_column(String(255))
    band: Mapped[str | None] = mapped_column(String(32))
    ra: Mapped[float] = mapped_column(Float)
    dec: Mapped[float] = mapped_column(Float)
    shape_y: Mapped[int] = mapped_column(Integer)
    shape_x: Mapped[int] = mapped_column(Integer)
    store_key: Mapped[str] = mapped_column(String(255))
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)


@dataclass(frozen=True)
class ArchiveTemplateRecord:
    """One row of the index, read back."""

    digest: str
    survey: str
    band: str | None
    ra: float
    dec: float
    shape: tuple[int, int]
    store_key: str
    fetched_at: datetime


def _record(row: ArchiveTemplate) -> ArchiveTemplateRecord:
    return ArchiveTemplateRecord(
        digest=row.digest,
        survey=row.survey,
        band=row.band,
        ra=row.ra,
        dec=row.dec,
        shape=(row.shape_y, row.shape_x),
        store_key=row.store_key,
        fetched_at=row.fetched_at,
    )


def archive_template(catalog: Catalog, digest: str) -> ArchiveTemplateRecord | None:
    """The template recorded for the request ``digest``, or None."""
    with catalog_errors("look up an archive template", digest=digest), catalog.session() as s:
        row = s.get(ArchiveTemplate, digest)
        return None if row is None else _record(row)


def record_archive_template(
    catalog: Catalog,
    *,
    digest: str,
    survey: str,
    band: str | None,
    ra: float,
    dec: float,
    shape: tuple[int, int],
    store_key: str,
    replace: bool = False,
) -> ArchiveTemplateRecord:
    """Record that ``store_key`` answers the request ``digest``, and return the row now in
    the index: another process's when it recorded the same request first, unless
    ``replace`` (the recorded object was lost from the store and fetched again)."""
    row = ArchiveTemplate(
        digest=digest,
        survey=survey[:255],
        band=band,
        ra=ra,
        dec=dec,
        shape_y=shape[0],
        shape_x=shape[1],
        store_key=store_key,
        fetched_at=utcnow(),
    )
    with catalog_errors("record an archive template", digest=digest), catalog.session() as s:
        try:
            with s.begin():
                if replace:
                    s.merge(row)
                else:
                    s.add(row)
        except IntegrityError:  # recorded at the same time by another process: keep its row
            pass
    found = archive_template(catalog, digest)
    if found is None:
        raise StorageError(f"archive template {digest}: recorded but not found", digest=digest)
    return found
