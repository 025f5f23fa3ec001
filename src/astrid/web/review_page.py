"""Review mode: one candidate at a time, the one that most needs this curator; keys label
and advance. Beside the triplet, the history of the candidate's object (a small light
curve, detections and non-detections, a link to its page).

Its own router (``/review``), installed by `astrid.web.site.install`, with the login,
rendering and anti-CSRF header of the other pages (`astrid.web.pages`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse

from astrid.catalog import light_curves, sky_object
from astrid.catalog.curation import labels_of, release_claim
from astrid.service.auth import Principal
from astrid.service.deps import ServiceDep
from astrid.service.params import MAX_ID, Id
from astrid.service.review import label_candidate, next_for_review
from astrid.service.state import Service
from astrid.web.lightcurve_chart import light_curve_chart
from astrid.web.pages import UserDep, _candidate_context, _is_htmx, _needs, _render

__all__ = ["SKIP_KEY", "review_router"]

review_router = APIRouter(include_in_schema=False)
SKIP_KEY = "ArrowRight"


def _object_history(service: Service, object_id: int | None) -> dict[str, Any]:
    """The shown candidate's object and a small chart of its light curve (none without one)."""
    found = None if object_id is None else sky_object(service.catalog, object_id)
    if found is None:
        return {"obj": None}
    points = light_curves(service.catalog, [found.id])[found.id]
    return {"obj": found, "obj_chart": light_curve_chart(points, width=360, height=150)}


def _review_card(
    request: Request, service: Service, user: Principal, skip: list[int]
) -> HTMLResponse:
    turn = next_for_review(service, user, skip)
    context: dict[str, Any] = {"progress": turn.progress, "skip": skip, "skip_key": SKIP_KEY}
    if turn.candidate is not None:
        context.update(_candidate_context(service, turn.candidate))
        context.update(_object_history(service, turn.candidate.record.object_id))
    template = "_review_card.html" if _is_htmx(request) else "review.html"
    return _render(request, template, user, **context)


_SkipList = Annotated[list[Annotated[int, Query(ge=1, le=MAX_ID)]], Query(max_length=500)]


@review_router.get("/review", response_class=HTMLResponse)
def review(
    request: Request,
    service: ServiceDep,
    user: UserDep,
    skip: _SkipList = [],  # noqa: B006
) -> HTMLResponse:
    """One candidate at a time, the one that most needs a human; keys label and advance."""
    _needs(user, "curator")
    return _review_card(request, service, user, skip)


@review_router.post("/review/{candidate_id}/label", response_class=HTMLResponse)
def review_label(
    candidate_id: Id,
    request: Request,
    service: ServiceDep,
    user: UserDep,
    label: Annotated[str, Form()],
    skip: Annotated[str, Form(max_length=20000, pattern=r"^[0-9,]*$")] = "",
) -> HTMLResponse:
    """Label the shown candidate and answer with the next one."""
    _needs(user, "curator")
    mine = labels_of(service.catalog, [candidate_id]).get(candidate_id, [])
    # A repeated key press for a candidate already labelled must not label it twice.
    if not any(lbl.curator == user.name for lbl in mine):
        label_candidate(service, user, candidate_id, label, None)
    return _review_card(request, service, user, _ids(skip))


@review_router.post("/review/{candidate_id}/skip", response_class=HTMLResponse)
def review_skip(
    candidate_id: Id,
    request: Request,
    service: ServiceDep,
    user: UserDep,
    skip: Annotated[str, Form(max_length=20000, pattern=r"^[0-9,]*$")] = "",
) -> HTMLResponse:
    """Give the shown candidate back to the queue and show the next one."""
    _needs(user, "curator")
    release_claim(service.catalog, candidate_id=candidate_id, curator=user.name)
    return _review_card(request, service, user, [*_ids(skip), candidate_id])


def _ids(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part and int(part) <= MAX_ID][-500:]
