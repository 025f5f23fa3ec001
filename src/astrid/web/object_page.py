"""The object page: summary, light curve, context, detections and links by position.

Its own router (``/objects/{name or id}``), installed by `astrid.web.site.install` next to
the other pages, with the same login and rendering (`astrid.web.pages`).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import HTMLResponse

from astrid.catalog import light_curves, object_labels_of, sky_object
from astrid.service.deps import ServiceDep
from astrid.web.lightcurve_chart import light_curve_chart
from astrid.web.pages import UserDep, _render, _sexagesimal

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


@object_router.get("/objects/{key}", response_class=HTMLResponse)
def object_page(
    key: ObjectKey, request: Request, service: ServiceDep, user: UserDep
) -> HTMLResponse:
    """One object: summary, light curve (detections and 5σ limits), context, links."""
    found = sky_object(service.catalog, int(key) if key.isdigit() else key)
    if found is None:
        raise HTTPException(status_code=404, detail=f"no object {key}")
    points = light_curves(service.catalog, [found.id])[found.id]
    context: dict[str, Any] = found.context or {}
    return _render(
        request,
        "object.html",
        user,
        o=found,
        position=_sexagesimal(found.ra, found.dec),
        chart=light_curve_chart(points),
        points=points,
        detections=[p for p in points if p.candidate_id is not None],
        matches=context.get("matches") or [],
        host=context.get("host"),
        labels=object_labels_of(service.catalog, found.id),
        links=external_links(found.ra, found.dec),
    )
