"""The web page's routes: login, dashboard, candidate list and page, run and model pages,
admin (review mode, objects: their own modules beside this one).

Pages authenticate with the session cookie set at login (or the API's headers). A page
that needs a login redirects to ``/login``; htmx requests get ``HX-Redirect`` instead, so
the whole page moves. Writes go through htmx with the session's anti-CSRF header (set on
``<body>`` by the base template). Each role sees what it may use: viewers browse, curators
also label and review, admins also manage keys and read the audit log.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from astrid import __version__
from astrid.catalog.access import (
    audit_log,
    create_api_key,
    list_api_keys,
    record,
)
from astrid.catalog.candidates import count_candidates
from astrid.catalog.model_registry import list_models, model_by_id
from astrid.catalog.query_params import SORT_KEYS, CandidateFilters
from astrid.curation.labels import ARTIFACT_LABELS, LABELS, LabelName
from astrid.roles import ROLES
from astrid.service import candidates
from astrid.service.auth import SESSION_COOKIE, AuthError, Principal
from astrid.service.candidates import LabelledCandidate
from astrid.service.deps import ServiceDep, authenticate, checked_credential
from astrid.service.keys import revoke_key
from astrid.service.model_versions import model_detail
from astrid.service.params import (
    MAX_ID,
    Id,
    SortName,
    candidate_filters,
)
from astrid.service.rate_limit import retry_after_header
from astrid.service.review import label_candidate
from astrid.service.runs import run_with_inputs
from astrid.service.state import Service
from astrid.web.charts import bar_chart
from astrid.web.dashboard import build_dashboard

__all__ = ["LABEL_KEYS", "PAGE_SIZE", "STATIC_DIR", "LoginRequiredError", "query_form", "router"]

logger = logging.getLogger(__name__)

_HERE = Path(__file__).resolve().parent
STATIC_DIR = _HERE / "static"
templates = Jinja2Templates(directory=str(_HERE / "templates"))
router = APIRouter(include_in_schema=False)

_SHORTCUTS = {
    "real": "r",
    "bogus": "b",
    "variable": "v",
    "cosmic_ray": "c",
    "hot_pixel": "h",
    "bad_column": "l",
    "saturated_star": "s",
    "bleed_trail": "t",
    "dipole": "d",
    "psf_ring": "p",
    "satellite_trail": "a",
    "noise": "n",
    "unsure": "u",
}
#: Keyboard shortcut of each label in review mode (and on the candidate page), in the
#: vocabulary's order; a label added to the vocabulary without a key fails here at import.
LABEL_KEYS = {label: _SHORTCUTS[label] for label in LABELS}
PAGE_SIZE = 50
#: The list opens most significant first: |S_corr| is known for every candidate, while rb
#: is missing until a model has scored them (and sorting by rb would then bury the rest).
DEFAULT_SORT = "abs_scorr"
_SORT_TITLES = {
    "id": "id",
    "scorr": "S_corr",
    "abs_scorr": "|S_corr|",
    "snr": "SNR",
    "rb": "rb",
    "ood": "ood",
    "mag": "mag",
    "mjd": "MJD",
}


FormT = TypeVar("FormT", bound=BaseModel)


class LoginRequiredError(Exception):
    """A page was asked for without a valid login."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def _is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true" and not request.headers.get(
        "HX-History-Restore-Request"
    )


def web_user(request: Request, service: ServiceDep) -> Principal:
    """The logged-in caller of a page (redirects to the login page otherwise)."""
    try:
        user = authenticate(request, service.auth, service.backoff)
    except AuthError as e:
        if e.status == 401:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise LoginRequiredError(target) from e
        headers = None
        if e.retry_after is not None:
            headers = {"Retry-After": retry_after_header(e.retry_after)}
        raise HTTPException(e.status, e.message, headers=headers) from e
    request.state.web_user = user
    return user


UserDep = Annotated[Principal, Depends(web_user)]


def _needs(user: Principal, role: str) -> None:
    if not user.allows(role):
        raise HTTPException(403, f"this page needs the {role} role; you are {user.role}")


def _render(
    request: Request,
    name: str,
    user: Principal | None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        name,
        {"user": user, "version": __version__, "label_keys": LABEL_KEYS, **context},
        status_code=status,
    )


def _safe_next(value: str | None) -> str:
    """A local path to go to after login (never another site)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


# -- login --------------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_page(
    request: Request, next: Annotated[str | None, Query(max_length=2000)] = None
) -> HTMLResponse:
    """The login form: an API key or a bearer token."""
    return _render(request, "login.html", None, next=_safe_next(next), error=None)


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    service: ServiceDep,
    credential: Annotated[str, Form(max_length=8192)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Check the credential, set the session cookie and go on to ``next``."""
    presented = credential.strip()
    try:
        user = checked_credential(
            request, service.backoff, presented, lambda: service.auth.from_bearer(presented)
        )
    except AuthError as e:
        page = _render(
            request, "login.html", None, e.status, next=_safe_next(next), error=e.message
        )
        if e.retry_after is not None:
            page.headers["Retry-After"] = retry_after_header(e.retry_after)
        return page
    try:
        session = service.auth.issue_session(user)
    except AuthError as e:
        return _render(
            request, "login.html", None, e.status, next=_safe_next(next), error=e.message
        )
    record(service.catalog, actor=user.actor, action="session.login", detail={"via": user.method})
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session.token,
        max_age=session.max_age,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/logout")
def logout(service: ServiceDep, user: UserDep) -> Response:
    """End the session server-side (htmx follows ``HX-Redirect`` to the login page)."""
    service.auth.end_session(user)
    if user.session_id is not None:
        record(service.catalog, actor=user.actor, action="session.logout")
    response = Response(status_code=204, headers={"HX-Redirect": "/login"})
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# -- dashboard ----------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request, service: ServiceDep, user: UserDep) -> HTMLResponse:
    """Recent runs, candidates per night, score histograms, throughput."""
    return _render(request, "dashboard.html", user, dash=build_dashboard(service.catalog))


# -- candidates ---------------------------------------------------------------------------


def _filter_query(filters: CandidateFilters) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in CandidateFilters.__dataclass_fields__:
        value = getattr(filters, name)
        if value is not None and not isinstance(value, tuple):  # features: not on the page
            out[name] = str(value).lower() if isinstance(value, bool) else str(value)
    return out


class _ListForm(BaseModel):
    """The candidate list's query string; empty fields (a blank form input) mean "any"."""

    model_config = ConfigDict(extra="ignore")

    run_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    observation_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    model_version_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    mjd_min: float | None = Field(default=None, allow_inf_nan=False)
    mjd_max: float | None = Field(default=None, allow_inf_nan=False)
    rb_min: float | None = Field(default=None, allow_inf_nan=False)
    rb_max: float | None = Field(default=None, allow_inf_nan=False)
    ood_min: float | None = Field(default=None, allow_inf_nan=False)
    ood_max: float | None = Field(default=None, allow_inf_nan=False)
    sign: int | None = Field(default=None, ge=-1, le=1)  # 0 refused by CandidateFilters
    label: LabelName | None = None
    reviewed: bool | None = None
    sort: SortName = DEFAULT_SORT
    order: Literal["asc", "desc"] = "desc"
    cursor: str | None = Field(default=None, max_length=500)


def query_form(model: type[FormT], request: Request) -> FormT:
    """The query string as ``model``; blank fields (an empty form input) are left out."""
    given = {k: v for k, v in request.query_params.items() if v.strip() != ""}
    try:
        return model.model_validate(given)
    except ValidationError as e:
        raise RequestValidationError(e.errors(include_url=False)) from e


def _list_form(request: Request) -> _ListForm:
    return query_form(_ListForm, request)


@router.get("/candidates", response_class=HTMLResponse)
def candidate_list(
    request: Request,
    service: ServiceDep,
    user: UserDep,
    form: Annotated[_ListForm, Depends(_list_form)],
) -> HTMLResponse:
    """Filterable, sortable candidate table with thumbnails; htmx swaps the results only."""
    sort, order, cursor = form.sort, form.order, form.cursor
    filters = candidate_filters(**form.model_dump(exclude={"sort", "order", "cursor"}))
    listing = candidates.candidate_listing(
        service, filters, sort=sort, descending=order == "desc", limit=PAGE_SIZE, cursor=cursor
    )
    page = listing.page
    base = _filter_query(filters)
    next_url = None
    if page.next_cursor:
        next_url = "/candidates?" + urlencode(
            {**base, "sort": sort, "order": order, "cursor": page.next_cursor}
        )

    def sort_url(key: str) -> str:
        flip = "asc" if (key == sort and order == "desc") else "desc"
        return "/candidates?" + urlencode({**base, "sort": key, "order": flip})

    context = {
        "page": page,
        "agreed": listing.agreed,
        "filters": filters,
        "sort": sort,
        "order": order,
        "sort_url": sort_url,
        "sortable": SORT_KEYS,
        "sort_titles": _SORT_TITLES,
        "models": {m.id: m for m in list_models(service.catalog)},
        "filter_model": (
            model_by_id(service.catalog, filters.model_version_id)
            if filters.model_version_id is not None
            else None
        ),
        "next_url": next_url,
        "appending": cursor is not None,
        "count": count_candidates(service.catalog, filters=filters),
        "labels": LABELS,
    }
    if _is_htmx(request):
        name = "_candidate_rows.html" if cursor is not None else "_candidate_results.html"
        return _render(request, name, user, **context)
    return _render(request, "candidates.html", user, **context)


def _candidate_context(service: Service, labelled: LabelledCandidate) -> dict[str, Any]:
    found = labelled.record
    model = (
        model_by_id(service.catalog, found.model_version_id)
        if found.model_version_id is not None
        else None
    )
    return {
        "c": found,
        "labels": labelled.labels,
        "agreed": labelled.consensus,
        "neighbours": candidates.nearby_candidates(service, found),
        "marks": candidates.cutout_marks(service, found),
        "model": model,
        "sexagesimal": _sexagesimal(found.ra, found.dec),
        "artifact_labels": ARTIFACT_LABELS,
        "all_labels": LABELS,
    }


def _sexagesimal(ra: float, dec: float) -> str:
    from astropy.coordinates import SkyCoord

    coord = SkyCoord(ra=ra, dec=dec, unit="deg", frame="icrs")
    text: str = coord.to_string("hmsdms", sep=":", precision=2)
    return text


@router.get("/candidates/{candidate_id}", response_class=HTMLResponse)
def candidate_page(
    candidate_id: Id, request: Request, service: ServiceDep, user: UserDep
) -> HTMLResponse:
    """Cutout triplet, scores with OOD components, features, position, neighbours, labels."""
    labelled = candidates.labelled_candidate(service, candidate_id)
    return _render(request, "candidate.html", user, **_candidate_context(service, labelled))


@router.post("/candidates/{candidate_id}/labels", response_class=HTMLResponse)
def label_from_page(
    candidate_id: Id,
    request: Request,
    service: ServiceDep,
    user: UserDep,
    label: Annotated[str, Form()],
    comment: Annotated[str, Form(max_length=2000)] = "",
) -> HTMLResponse:
    """Label from the candidate page; answers with the updated label history."""
    _needs(user, "curator")
    label_candidate(service, user, candidate_id, label, comment.strip() or None)
    labelled = candidates.labelled_candidate(service, candidate_id)
    return _render(request, "_label_history.html", user, **_candidate_context(service, labelled))


# -- runs and models ----------------------------------------------------------------------


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(run_id: Id, request: Request, service: ServiceDep, user: UserDep) -> HTMLResponse:
    """Status, files, stage timings, candidates, models and the error of a failed run."""
    detail = run_with_inputs(service, run_id)
    timings = detail.run.timings
    chart = (
        bar_chart(
            [float(v) for v in timings.values()],
            list(timings),
            title="seconds per stage",
            x_label="stage",
            y_label="seconds",
            every=1,
        )
        if timings
        else None
    )
    return _render(request, "run.html", user, d=detail, r=detail.run, chart=chart)


@router.get("/models/{model_id}", response_class=HTMLResponse)
def model_page(model_id: Id, request: Request, service: ServiceDep, user: UserDep) -> HTMLResponse:
    """A model version: its card, metrics, training-data digest and what it scored."""
    detail = model_detail(service, model_id)
    return _render(request, "model.html", user, d=detail, m=detail.model)


# -- admin --------------------------------------------------------------------------------


@router.get("/admin", response_class=HTMLResponse)
def admin(request: Request, service: ServiceDep, user: UserDep) -> HTMLResponse:
    """API keys and the latest audit entries."""
    _needs(user, "admin")
    return _render(request, "admin.html", user, **_admin_context(service, new_key=None))


def _admin_context(service: Service, new_key: str | None) -> dict[str, Any]:
    return {
        "keys": list_api_keys(service.catalog),
        "audit": audit_log(service.catalog, limit=50),
        "new_key": new_key,
        "roles": ROLES,
    }


@router.post("/admin/keys", response_class=HTMLResponse)
def admin_create_key(
    request: Request,
    service: ServiceDep,
    user: UserDep,
    name: Annotated[str, Form(min_length=1, max_length=100)],
    role: Annotated[str, Form(pattern=f"^({'|'.join(ROLES)})$")],
) -> HTMLResponse:
    """Create a key and show it once."""
    _needs(user, "admin")
    key, _ = create_api_key(service.catalog, name=name, role=role, actor=user.actor)
    return _render(request, "_admin_body.html", user, **_admin_context(service, new_key=key))


@router.post("/admin/keys/{key_id}/revoke", response_class=HTMLResponse)
def admin_revoke_key(
    key_id: Id, request: Request, service: ServiceDep, user: UserDep
) -> HTMLResponse:
    """Revoke a key."""
    _needs(user, "admin")
    revoke_key(service, user, key_id)
    return _render(request, "_admin_body.html", user, **_admin_context(service, new_key=None))


# -- wiring -------------------------------------------------------------------------------


def _format(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:.{digits}f}"


@dataclass(frozen=True)
class _Entry:
    """One row of a nested mapping shown flat: ``test · auc`` = 0.997."""

    key: str
    text: str
    detail: str | None  # JSON of a structure too big for one cell, shown on request


def _flat(value: Any, prefix: str = "") -> list[_Entry]:
    """A model card or metrics mapping as rows: nested keys joined, long lists folded."""
    if isinstance(value, Mapping):
        rows: list[_Entry] = []
        for key in sorted(value, key=str):
            rows += _flat(value[key], f"{prefix} · {key}" if prefix else str(key))
        return rows
    if isinstance(value, list | tuple):
        if all(not isinstance(v, Mapping | list | tuple) for v in value) and len(value) <= 20:
            return [_Entry(prefix, ", ".join(_scalar(v) for v in value), None)]
        return [_Entry(prefix, f"{len(value)} entries", json.dumps(value, indent=1))]
    return [_Entry(prefix, _scalar(value), None)]


def _scalar(value: Any) -> str:
    """A number as a person reads it: whole floats without decimals, tiny ones in e-notation."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, float):
        return _format(value, 4) if abs(value) >= 1e-3 or value == 0 else f"{value:.3g}"
    return str(value)


def _ra_hms(ra: float) -> str:
    """Right ascension as ``hh:mm:ss.ss`` (rounded once, so 59.999 s carries over)."""
    total = round((ra % 360.0) / 15.0 * 3600.0 * 100) % (24 * 3600 * 100)
    seconds, centi = divmod(total, 100)
    minutes, sec = divmod(seconds, 60)
    hours, mins = divmod(minutes, 60)
    return f"{hours:02d}:{mins:02d}:{sec:02d}.{centi:02d}"


def _dec_dms(dec: float) -> str:
    """Declination as ``±dd:mm:ss.s``."""
    sign = "-" if dec < 0 else "+"
    total = round(abs(dec) * 3600.0 * 10)
    seconds, tenth = divmod(total, 10)
    minutes, sec = divmod(seconds, 60)
    degrees, mins = divmod(minutes, 60)
    return f"{sign}{degrees:02d}:{mins:02d}:{sec:02d}.{tenth}"


templates.env.filters["num"] = _format
templates.env.filters["ra_hms"] = _ra_hms
templates.env.filters["flat"] = _flat
templates.env.filters["brief"] = _scalar
templates.env.filters["dec_dms"] = _dec_dms
templates.env.filters["urlquote"] = quote
