"""Request parameters of the API and the web page: bounded ids, the candidate and object
filters."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, HTTPException, Path, Query

from astrid.catalog.object_records import ObjectFilters
from astrid.catalog.query_params import (
    SORT_KEYS,
    CandidateFilters,
    FeatureBound,
    InvalidQueryError,
)
from astrid.curation.labels import LabelName

__all__ = [
    "MAX_ID",
    "CandidateFiltersDep",
    "Id",
    "ObjectFiltersDep",
    "OptionalId",
    "SortDep",
    "SortName",
    "candidate_filters",
    "object_filters",
    "query_error",
]

MAX_ID = 2**62
"""Ids above this are refused (422) before they reach the database's 64-bit integers."""

Id = Annotated[int, Path(ge=1, le=MAX_ID)]
OptionalId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
_Score = Annotated[float | None, Query(allow_inf_nan=False)]
SortName = Literal[SORT_KEYS]  # type: ignore[valid-type]


def query_error(error: InvalidQueryError) -> HTTPException:
    """A 422 in FastAPI's validation-error shape, naming the query parameter."""
    field = str(error.details.get("field", "query"))
    return HTTPException(
        status_code=422,
        detail=[{"loc": ["query", field], "msg": str(error), "type": "value_error"}],
    )


def candidate_filters(
    run_id: OptionalId = None,
    observation_id: OptionalId = None,
    model_version_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="scored by this model version")
    ] = None,
    mjd_min: Annotated[float | None, Query(allow_inf_nan=False, description="MJD (UTC)")] = None,
    mjd_max: Annotated[float | None, Query(allow_inf_nan=False, description="MJD (UTC)")] = None,
    rb_min: _Score = None,
    rb_max: _Score = None,
    ood_min: _Score = None,
    ood_max: _Score = None,
    # an int range, not Literal[-1, 1]: a query string "-1" does not validate as a literal
    sign: Annotated[int | None, Query(ge=-1, le=1, description="+1 brighter, -1 fainter")] = None,
    label: Annotated[LabelName | None, Query(description="labelled so by any curator")] = None,
    reviewed: Annotated[bool | None, Query(description="has any label")] = None,
    feature: Annotated[
        list[str] | None,
        Query(
            max_length=100,
            description="a stored feature compared with a number, e.g. psf_fwhm>2.5 "
            "(repeatable; all must hold; a candidate without the feature does not match)",
        ),
    ] = None,
) -> CandidateFilters:
    """The candidate filters of a request (422 for contradictory ranges or a bad feature)."""
    try:
        if len(feature or []) > 10:
            raise InvalidQueryError("at most 10 feature filters", field="feature")
        return CandidateFilters(
            run_id=run_id,
            observation_id=observation_id,
            model_version_id=model_version_id,
            mjd_min=mjd_min,
            mjd_max=mjd_max,
            rb_min=rb_min,
            rb_max=rb_max,
            ood_min=ood_min,
            ood_max=ood_max,
            sign=sign,
            label=label,
            reviewed=reviewed,
            features=tuple(FeatureBound.parse(text) for text in feature or []),
        )
    except InvalidQueryError as e:
        raise query_error(e) from e


CandidateFiltersDep = Annotated[CandidateFilters, Depends(candidate_filters)]
SortDep = Annotated[SortName, Query(description="sort key; NULLs last")]


def object_filters(
    context_class: Annotated[str | None, Query(max_length=32)] = None,
    min_detections: Annotated[int | None, Query(ge=0, le=2**31 - 1)] = None,
    last_mjd_min: Annotated[float | None, Query(allow_inf_nan=False, description="MJD")] = None,
    last_mjd_max: Annotated[float | None, Query(allow_inf_nan=False, description="MJD")] = None,
    peak_mag_min: _Score = None,
    peak_mag_max: _Score = None,
    moving: Annotated[bool | None, Query(description="a solar-system mover")] = None,
) -> ObjectFilters:
    """The object filters of a request (422 for a bad or contradictory range)."""
    for low, high, name in (
        (last_mjd_min, last_mjd_max, "last_mjd_min"),
        (peak_mag_min, peak_mag_max, "peak_mag_min"),
    ):
        if low is not None and high is not None and low > high:
            raise query_error(
                InvalidQueryError(f"{name} is above its maximum", field=name, value=low)
            )
    try:
        return ObjectFilters(
            context_class=context_class,
            min_detections=min_detections,
            last_mjd_min=last_mjd_min,
            last_mjd_max=last_mjd_max,
            peak_mag_min=peak_mag_min,
            peak_mag_max=peak_mag_max,
            moving=moving,
        )
    except InvalidQueryError as e:
        raise query_error(e) from e


ObjectFiltersDep = Annotated[ObjectFilters, Depends(object_filters)]
