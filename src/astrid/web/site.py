"""The web page's installation into the app: its routes, static files and error pages.

A page that needs a login redirects to ``/login`` (htmx requests get ``HX-Redirect``); an
HTTP error or invalid request (422) asked for by a browser on a page route is shown as a
page, with its headers (a 429's ``Retry-After``); API routes keep FastAPI's JSON errors.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request, Response
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from astrid.service.auth import Principal
from astrid.web.alerts_page import alerts_router
from astrid.web.object_list import object_list_router
from astrid.web.object_page import object_router
from astrid.web.pages import STATIC_DIR, LoginRequiredError, _render, router
from astrid.web.review_page import review_router

__all__ = ["install"]


def install(app: FastAPI) -> None:
    """Add the pages, the static files and the login redirect to ``app``."""
    app.include_router(router)
    app.include_router(object_list_router)
    app.include_router(object_router)
    app.include_router(review_router)
    app.include_router(alerts_router)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")

    @app.exception_handler(LoginRequiredError)
    async def login_required(request: Request, error: LoginRequiredError) -> Response:
        target = "/login?" + urlencode({"next": error.next_url})
        if request.headers.get("HX-Request") == "true":
            return Response(status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        if not _wants_page(request):
            return await http_exception_handler(request, error)
        page = _render(
            request,
            "error.html",
            _page_user(request),
            error.status_code,
            message=_message(error.detail),
            status_code=error.status_code,
        )
        page.headers.update(error.headers or {})  # Retry-After of a 429
        return page

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> Response:
        if not _wants_page(request):
            return await request_validation_exception_handler(request, error)
        return _render(
            request,
            "error.html",
            _page_user(request),
            422,
            message=_message(list(error.errors())),
            status_code=422,
        )


def _message(detail: Any) -> str:
    """An error's detail as a sentence: the text, or each invalid field and what is wrong."""
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list) and all(isinstance(e, dict) for e in detail):
        return "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()) if p not in ('query', 'body'))}: "
            f"{e.get('msg', 'invalid')}"
            for e in detail
        )
    return "invalid request"


def _wants_page(request: Request) -> bool:
    """Whether an error should be shown as a page (a page route, asked for by a browser)."""
    path = request.url.path
    api = path.startswith(("/api/", "/metrics", "/openapi.json", "/static/"))
    return not api and "text/html" in request.headers.get("accept", "")


def _page_user(request: Request) -> Principal | None:
    user = getattr(request.state, "web_user", None)
    return user if isinstance(user, Principal) else None
