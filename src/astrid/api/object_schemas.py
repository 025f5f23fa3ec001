"""Request and response bodies of the objects API (pydantic).

Like `astrid.api.schemas`, responses are built from catalog records field by field: a
stored field reaches a client only when a schema here names it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from astrid.curation.labels import ObjectClassName

__all__ = [
    "LightCurvePointPublic",
    "LightCurvePublic",
    "ObjectConeMatchPublic",
    "ObjectLabelCreate",
    "ObjectLabelPublic",
    "ObjectLabelsPublic",
    "ObjectPagePublic",
    "ObjectPublic",
]


class _Public(BaseModel):
    model_config = ConfigDict(from_attributes=True, extra="forbid")


class ObjectPublic(_Public):
    id: int
    name: str = Field(description="public name, e.g. ASTRID2026a")
    ra: float = Field(description="degrees ICRS, flux-weighted mean of the detections")
    dec: float = Field(description="degrees ICRS")
    n_detections: int
    n_nondetections: int
    first_mjd: float | None
    last_mjd: float | None
    peak_mjd: float | None
    peak_mag: float | None
    peak_flux: float | None
    peak_band: str | None
    rise_rate: float | None = Field(description="mag per day")
    decline_rate: float | None = Field(description="mag per day")
    context_class: str | None
    context_reason: str | None
    xmatch_catalog: str | None
    xmatch_name: str | None
    xmatch_type: str | None
    xmatch_sep_arcsec: float | None
    host_name: str | None
    host_sep_arcsec: float | None
    host_dlr: float | None = Field(description="separation in directional light radii")
    host_distance_mpc: float | None
    moving: bool
    features: dict[str, Any]
    context: dict[str, Any]


class ObjectPagePublic(_Public):
    items: list[ObjectPublic]
    next_before: int | None = Field(
        description="pass as ``before`` for the next page; null on the last page"
    )


class ObjectConeMatchPublic(_Public):
    separation_arcsec: float
    object: ObjectPublic


class LightCurvePointPublic(_Public):
    object_id: int
    run_id: int
    candidate_id: int | None = Field(description="the detection at this point, if any")
    mjd: float | None
    band: str | None
    flux: float | None = Field(description="difference-image flux, counts")
    flux_err: float | None
    zero_point: float | None
    detected: bool
    mag: float | None = Field(description="zero_point - 2.5 log10(flux); detections with flux > 0")
    mag_err: float | None
    upper_limit_mag: float | None = Field(description="5-sigma limit of a non-detection")


class LightCurvePublic(_Public):
    object_id: int
    name: str
    points: list[LightCurvePointPublic]


class ObjectLabelCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: ObjectClassName
    comment: str | None = Field(default=None, max_length=2000)


class ObjectLabelPublic(_Public):
    id: int
    object_id: int
    curator: str
    label: str
    comment: str | None
    created_at: datetime


class ObjectLabelsPublic(_Public):
    object_id: int
    labels: list[ObjectLabelPublic]
