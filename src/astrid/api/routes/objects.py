"""Objects: filtered pages newest first, one object, its light curve, cone searches, classes.

An object is addressed by its id or its public name (``ASTRID2026a``).
"""

from __future__ import annotations

import csv
import io
import math
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response

from astrid.api.deps import CuratorDep, ViewerDep
from astrid.api.object_schemas import (
    LightCurvePointPublic,
    LightCurvePublic,
    ObjectConeMatchPublic,
    ObjectLabelCreate,
    ObjectLabelPublic,
    ObjectLabelsPublic,
    ObjectPagePublic,
    ObjectPublic,
)
from astrid.catalog.lightcurves import LightCurvePointRecord, light_curves
from astrid.catalog.object_records import (
    ObjectRecord,
    list_objects,
    object_cone_search,
    object_labels_of,
)
from astrid.catalog.query_params import InvalidQueryError
from astrid.service.deps import ServiceDep
from astrid.service.objects import find_object
from astrid.service.params import ObjectFiltersDep, OptionalId, query_error
from astrid.service.review import label_object

router = APIRouter(tags=["objects"])

_Limit = Annotated[int, Query(ge=1, le=1000)]
ObjectKey = Annotated[
    str,
    Path(
        pattern=r"^[A-Za-z0-9]{1,64}$",
        description="the object's id, or its public name (ASTRID2026a)",
    ),
]
#: Columns of the CSV light curve, in order.
CSV_COLUMNS = (
    "object_id",
    "mjd",
    "band",
    "flux",
    "flux_err",
    "mag",
    "mag_err",
    "upper_limit_mag",
    "detected",
    "candidate_id",
)
_LN10_FACTOR = 2.5 / math.log(10.0)  # 1.0857: magnitude error per unit relative flux error
_UPPER_LIMIT_SIGMA = 5.0


def _public(record: ObjectRecord) -> ObjectPublic:
    return ObjectPublic.model_validate(record)


def _magnitudes(
    point: LightCurvePointRecord,
) -> tuple[float | None, float | None, float | None]:
    """(mag, mag_err, upper_limit_mag) of a point; None where they do not apply.

    A detection with a positive flux has mag = zp - 2.5 log10(flux) and
    mag_err = 1.0857 flux_err / flux; a non-detection has the limit
    zp - 2.5 log10(5 flux_err). Without a zero point all three are None.
    """
    zp, flux, err = point.zero_point, point.flux, point.flux_err
    if zp is None or not math.isfinite(zp):
        return None, None, None
    if point.detected:
        if flux is None or not math.isfinite(flux) or flux <= 0:
            return None, None, None
        mag = zp - 2.5 * math.log10(flux)
        ok = err is not None and math.isfinite(err) and err >= 0
        return mag, (_LN10_FACTOR * err / flux if ok and err is not None else None), None
    if err is None or not math.isfinite(err) or err <= 0:
        return None, None, None
    return None, None, zp - 2.5 * math.log10(_UPPER_LIMIT_SIGMA * err)


def _point(point: LightCurvePointRecord) -> LightCurvePointPublic:
    mag, mag_err, limit = _magnitudes(point)
    return LightCurvePointPublic(
        object_id=point.object_id,
        run_id=point.run_id,
        candidate_id=point.candidate_id,
        mjd=point.mjd,
        band=point.band,
        flux=point.flux,
        flux_err=point.flux_err,
        zero_point=point.zero_point,
        detected=point.detected,
        mag=mag,
        mag_err=mag_err,
        upper_limit_mag=limit,
    )


def _csv(points: list[LightCurvePointPublic]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for p in points:
        row = p.model_dump()
        writer.writerow(["" if row[c] is None else row[c] for c in CSV_COLUMNS])
    return buffer.getvalue()


@router.get("/objects", response_model=ObjectPagePublic)
def get_objects(
    service: ServiceDep,
    _: ViewerDep,
    filters: ObjectFiltersDep,
    before: Annotated[OptionalId, Query(description="the last id seen: the next page")] = None,
    limit: _Limit = 50,
) -> ObjectPagePublic:
    """Objects matching the filters, newest first; pass ``next_before`` back as ``before``."""
    # one more than the page: a full last page then says so (next_before null)
    records = list_objects(service.catalog, filters, before_id=before, limit=limit + 1)
    page = records[:limit]
    more = len(records) > limit
    return ObjectPagePublic(
        items=[_public(r) for r in page], next_before=page[-1].id if more else None
    )


@router.get("/objects/cone", response_model=list[ObjectConeMatchPublic])
def get_objects_cone(
    service: ServiceDep,
    _: ViewerDep,
    ra: Annotated[float, Query(ge=0, lt=360, allow_inf_nan=False, description="degrees")],
    dec: Annotated[float, Query(ge=-90, le=90, allow_inf_nan=False, description="degrees")],
    radius: Annotated[float, Query(gt=0, le=36000, allow_inf_nan=False, description="arcseconds")],
    limit: _Limit = 100,
) -> list[ObjectConeMatchPublic]:
    """Objects within ``radius`` arcsec of (``ra``, ``dec``), nearest first (HEALPix)."""
    try:
        found = object_cone_search(
            service.catalog, ra=ra, dec=dec, radius_deg=radius / 3600.0, limit=limit
        )
    except InvalidQueryError as e:
        raise query_error(e) from e
    return [
        ObjectConeMatchPublic(separation_arcsec=m.separation_arcsec, object=_public(m.object))
        for m in found
    ]


@router.get("/objects/{key}", response_model=ObjectPublic)
def get_object(key: ObjectKey, service: ServiceDep, _: ViewerDep) -> ObjectPublic:
    """One object: position, detections, light-curve features, context."""
    return _public(find_object(service, key))


@router.get(
    "/objects/{key}/lightcurve",
    response_model=LightCurvePublic,
    responses={200: {"content": {"text/csv": {}}}},
)
def get_lightcurve(
    key: ObjectKey,
    service: ServiceDep,
    _: ViewerDep,
    format: Literal["json", "csv"] = "json",
) -> LightCurvePublic | Response:
    """An object's forced-photometry points by MJD, with magnitudes and 5σ upper limits.

    ``format=csv`` gives the columns object_id, mjd, band, flux, flux_err, mag, mag_err,
    upper_limit_mag, detected, candidate_id (empty cells for null).
    """
    record = find_object(service, key)
    points = [_point(p) for p in light_curves(service.catalog, [record.id])[record.id]]
    if format == "csv":
        return Response(
            _csv(points),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{record.name}.csv"'},
        )
    return LightCurvePublic(object_id=record.id, name=record.name, points=points)


@router.get("/objects/{key}/labels", response_model=ObjectLabelsPublic)
def get_object_labels(key: ObjectKey, service: ServiceDep, _: ViewerDep) -> ObjectLabelsPublic:
    """Curators' classes of an object, oldest first."""
    record = find_object(service, key)
    labels = object_labels_of(service.catalog, record.id)
    return ObjectLabelsPublic(
        object_id=record.id, labels=[ObjectLabelPublic.model_validate(x) for x in labels]
    )


@router.post("/objects/{key}/labels", status_code=201, response_model=ObjectLabelPublic)
def post_object_label(
    key: ObjectKey, body: ObjectLabelCreate, service: ServiceDep, caller: CuratorDep
) -> ObjectLabelPublic:
    """Class an object as the calling curator (sn_ia, agn, variable_star, ...)."""
    record = find_object(service, key)
    label = label_object(service, caller, record, body.label, body.comment)
    return ObjectLabelPublic.model_validate(label)
