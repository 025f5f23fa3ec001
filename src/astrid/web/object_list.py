"""The objects list: filters (context class, detections, last detection, magnitude) and
paging like the candidate list (a "More" row that htmx swaps for the next rows).

Its own router (``/objects``), installed by `astrid.web.site.install`; the filters are the
API's (`astrid.service.params.object_filters`), so both refuse the same input with a 422.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from astrid.catalog import context_classes, count_objects, list_objects
from astrid.catalog.object_records import ObjectFilters
from astrid.service.deps import ServiceDep
from astrid.service.params import MAX_ID, object_filters
from astrid.web.pages import PAGE_SIZE, UserDep, _is_htmx, _render, query_form

__all__ = ["object_list_router"]

object_list_router = APIRouter(include_in_schema=False)


class _ObjectForm(BaseModel):
    """The objects list's query string; empty fields (a blank form input) mean "any"."""

    model_config = ConfigDict(extra="ignore")

    context_class: str | None = Field(default=None, max_length=32)
    min_detections: int | None = Field(default=None, ge=0, le=MAX_ID)
    last_mjd_min: float | None = Field(default=None, allow_inf_nan=False)
    last_mjd_max: float | None = Field(default=None, allow_inf_nan=False)
    peak_mag_min: float | None = Field(default=None, allow_inf_nan=False)
    peak_mag_max: float | None = Field(default=None, allow_inf_nan=False)
    moving: bool | None = None
    before: int | None = Field(default=None, ge=1, le=MAX_ID)


def _object_form(request: Request) -> _ObjectForm:
    return query_form(_ObjectForm, request)


def _filter_query(filters: ObjectFilters) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in ObjectFilters.__dataclass_fields__:
        value = getattr(filters, name)
        if value is not None:
            out[name] = str(value).lower() if isinstance(value, bool) else str(value)
    return out


@object_list_router.get("/objects", response_class=HTMLResponse)
def object_list(
    request: Request,
    service: ServiceDep,
    user: UserDep,
    form: Annotated[_ObjectForm, Depends(_object_form)],
) -> HTMLResponse:
    """Objects newest first, filtered; htmx swaps the results (or appends the next rows)."""
    filters = object_filters(**form.model_dump(exclude={"before"}))
    # one more than the page: a full last page then offers no "More"
    found = list_objects(service.catalog, filters, before_id=form.before, limit=PAGE_SIZE + 1)
    items = found[:PAGE_SIZE]
    next_url = None
    if len(found) > PAGE_SIZE:
        next_url = "/objects?" + urlencode({**_filter_query(filters), "before": items[-1].id})
    context: dict[str, Any] = {
        "items": items,
        "filters": filters,
        "classes": context_classes(service.catalog),
        "count": count_objects(service.catalog, filters),
        "next_url": next_url,
        "appending": form.before is not None,
    }
    if _is_htmx(request):
        name = "_object_rows.html" if form.before is not None else "_object_results.html"
        return _render(request, name, user, **context)
    return _render(request, "objects.html", user, **context)
