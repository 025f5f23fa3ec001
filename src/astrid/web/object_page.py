"""The object page: summary, light curve, finder chart, context, links by position,
curators' classes and the cutout history of its detections.

Its own router (``/objects/{name or id}``, its ``finder.png`` and the class form's
``labels``), installed by `astrid.web.site.install` next to the other pages, with the
same login, rendering and anti-CSRF header for writes (`astrid.web.pages`).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Path, Request, Response
from fastapi.responses import HTMLResponse

from astrid.catalog import candidates_of_object, light_curves, object_labels_of
from astrid.catalog.alerts import latest_alert_of_object
from astrid.catalog.object_records import ObjectRecord
from astrid.curation.labels import OBJECT_CLASS_TITLES, OBJECT_CLASSES
from astrid.errors import StorageError
from astrid.service.deps import ServiceDep
from astrid.service.finder_chart import finder_chart, finder_png
from astrid.service.objects import find_object
from astrid.service.review import label_object
from astrid.service.state import Service
from astrid.web.lightcurve_chart import light_curve_chart
from astrid.web.pages import UserDep, _needs, _render, _sexagesimal

__all__ = ["external_links", "object_router"]

object_router = APIRouter(include_in_schema=False)

ObjectKey = Annotated[str, Path(pattern=r"^[A-Za-z0-9]{1,64}$")]


def external_links(ra: float, dec: float) -> list[tuple[str, str]]:
    """Archive and broker pages for a position (5″ where the service takes a radius)."""
    r, d = f"{ra:.6f}", f"{dec:.6f}"
    return [
        (
            "SIMBAD",
            f"https://simbad.cds.unistra.fr/simbad/sim-coo?Coord={r}+{quote(d)}"
            "&Radius=5&Radius.unit=arcsec",
        ),
        (
            "NED",
            "https://ned.ipac.caltech.edu/conesearch?search_type=Near%20Position%20Search"
            f"&coordinates={r}d%20{quote(d)}d&radius=0.0833",
        ),
        ("TNS", f"https://www.wis-tns.org/search?ra={r}&decl={d}&radius=5&coords_unit=arcsec"),
        (
            "Legacy Survey",
            f"https://www.legacysurvey.org/viewer?ra={r}&dec={d}&layer=ls-dr10&zoom=15"
            f"&mark={r},{d}",
        ),
        ("Aladin", f"https://aladin.cds.unistra.fr/AladinLite/?target={r}%20{quote(d)}&fov=0.05"),
        ("ALeRCE", f"https://alerce.online/?ra={r}&dec={d}&radius=5"),
        ("Fink", f"https://fink-portal.org/?query_type=Conesearch&ra={r}&dec={d}&radius=5"),
    ]


def _labels_context(service: Service, found: ObjectRecord) -> dict[str, Any]:
    return {
        "o": found,
        "object_labels": object_labels_of(service.catalog, found.id),
        "classes": OBJECT_CLASSES,
        "class_titles": OBJECT_CLASS_TITLES,
    }


@object_router.get("/objects/{key}", response_class=HTMLResponse)
def object_page(
    key: ObjectKey, request: Request, service: ServiceDep, user: UserDep
) -> HTMLResponse:
    """One object: its latest alert's plain-language summary, light curve (detections and
    5σ limits), finder chart, context, links, curators' classes and the cutouts of each
    detection (newest first)."""
    found = find_object(service, key)
    points = light_curves(service.catalog, [found.id])[found.id]
    detections = candidates_of_object(service.catalog, found.id)
    context: dict[str, Any] = found.context or {}
    latest = latest_alert_of_object(service.catalog, found.id)
    return _render(
        request,
        "object.html",
        user,
        position=_sexagesimal(found.ra, found.dec),
        chart=light_curve_chart(points),
        detections=detections,
        finder=finder_chart(service, found, detections),
        matches=context.get("matches") or [],
        host=context.get("host"),
        links=external_links(found.ra, found.dec),
        summary=None if latest is None else latest.fields.get("summary"),
        **_labels_context(service, found),
    )


@object_router.get("/objects/{key}/finder.png")
def finder_image(key: ObjectKey, service: ServiceDep, user: UserDep) -> Response:
    """The finder chart's image (the page draws the arrows, scale bar and marker over it).

    The page asks for it with ``?v=`` its `FinderChart.version`, so a browser may keep it:
    a new source or position is a new address.
    """
    found = find_object(service, key)
    chart = finder_chart(service, found, candidates_of_object(service.catalog, found.id))
    if chart is None:
        raise HTTPException(404, f"object {found.name} has no reference image or cutout")
    try:
        image = finder_png(service, chart)
    except StorageError as e:
        raise HTTPException(404, f"the finder chart's image is missing: {e}") from e
    return Response(
        image, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"}
    )


@object_router.post("/objects/{key}/labels", response_class=HTMLResponse)
def class_from_page(
    key: ObjectKey,
    request: Request,
    service: ServiceDep,
    user: UserDep,
    label: Annotated[str, Form(max_length=32)],
    comment: Annotated[str, Form(max_length=2000)] = "",
) -> HTMLResponse:
    """Class the object as the logged-in curator; answers with the updated class history."""
    _needs(user, "curator")
    found = find_object(service, key)
    label_object(service, user, found, label, comment.strip() or None)
    return _render(request, "_object_labels.html", user, **_labels_context(service, found))
