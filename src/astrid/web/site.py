"""The web page's installation into the app: its routes, static files and error pages.

A page that needs a login redirects to ``/login`` (htmx requests get ``HX-Redirect``); an
HTTP error asked for by a browser on a page route is shown as a page, with its headers
(a 429's ``Retry-After``); API routes keep FastAPI's JSON errors.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from astrid.service.auth import Principal
from astrid.web.object_page import object_router
from astrid.web.pages import STATIC_DIR, LoginRequiredError, _render, router

__all__ = ["install"]


def install(app: FastAPI) -> None:
    """Add the pages, the static files and the login redirect to ``app``."""
    app.include_router(router)
    app.include_router(object_router)
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
        message = error.detail if isinstance(error.detail, str) else "invalid request"
        page = _render(
            request,
            "error.html",
            _page_user(request),
            error.status_code,
            message=message,
            status_code=error.status_code,
        )
        page.headers.update(error.headers or {})  # Retry-After of a 429
        return page


def _wants_page(request: Request) -> bool:
    """Whether an error should be shown as a page (a page route, asked for by a browser)."""
    path = request.url.path
    api = path.startswith(("/api/", "/metrics", "/openapi.json", "/static/"))
    return not api and "text/html" in request.headers.get("accept", "")


def _page_user(request: Request) -> Principal | None:
    user = getattr(request.state, "web_user", None)
    return user if isinstance(user, Principal) else None
