"""Security headers on every response: a strict Content-Security-Policy and friends.

The review page needs nothing but its own origin: htmx and the page's script are served
from ``/static`` (no CDN), there are no inline scripts, inline styles or event handlers
(htmx's indicator style is in ``astrid.css``, the base template turns off htmx's own
``<style>``), and cutouts are images of the same origin. So the policy allows ``'self'``
only, forbids plugins, ``<base>`` and framing (``frame-ancestors 'none'``, and
``X-Frame-Options: DENY`` for older browsers: the keyboard review page cannot be
clickjacked), and forms post only here. Responses are never MIME-sniffed and send no
referrer (candidate ids in addresses stay here).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CONTENT_SECURITY_POLICY", "SECURITY_HEADERS", "SecurityHeadersMiddleware"]

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}
_RAW = [(name.lower().encode(), value.encode()) for name, value in SECURITY_HEADERS.items()]


class SecurityHeadersMiddleware:
    """ASGI middleware adding `SECURITY_HEADERS` to every HTTP response (errors too)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(name, value) for name, value in _RAW if name not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)
