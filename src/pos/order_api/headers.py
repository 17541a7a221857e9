"""Security headers on every answer, as a pure ASGI layer (no per-request task or stream).

The API answers JSON to tills, so a browser should never sniff, frame or cache it: order
answers carry personal-ish sales data and `Cache-Control: no-store` keeps them out of any
shared cache. Only the Swagger UI at ``/docs`` is HTML; its policy lets it load FastAPI's
bundle from the CDN it comes from, and nothing else.
"""

from __future__ import annotations

from starlette.types import Message, Receive, Scope, Send

from pos.order_api.middleware import HttpMiddleware

_ALWAYS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
_API_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
_DOCS_CSP = (
    b"content-security-policy",
    b"default-src 'none'; script-src 'unsafe-inline' https://cdn.jsdelivr.net; "
    b"style-src https://cdn.jsdelivr.net; img-src https://fastapi.tiangolo.com data:; "
    b"connect-src 'self'; frame-ancestors 'none'",
)
_NO_STORE = (b"cache-control", b"no-store")
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})


class SecurityHeadersMiddleware(HttpMiddleware):
    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        extra = [*_ALWAYS, _DOCS_CSP if path in DOCS_PATHS else _API_CSP]
        if path == "/orders" or path.startswith("/orders/"):
            extra.append(_NO_STORE)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)
