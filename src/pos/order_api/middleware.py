"""Pure ASGI middleware: request context, metrics, last-resort errors, and the body limit.

Written against raw ASGI rather than Starlette's BaseHTTPMiddleware, which wraps every
request in extra tasks and streams and costs a large share of a small request's time.
"""

from __future__ import annotations

import time

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pos.logging import get_logger
from pos.order_api import metrics
from pos.order_api.context import request_id_from, traceparent_from
from pos.order_api.problems import INTERNAL_ERROR, PAYLOAD_TOO_LARGE, send_problem

log = get_logger(__name__)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


class HttpMiddleware:
    """A pure ASGI layer over HTTP requests: every other scope (lifespan) goes straight
    through to the application, and ``handle`` sees only HTTP requests."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.handle(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


def request_id_of(scope: Scope) -> str | None:
    state = scope.get("state") or {}
    value = state.get("request_id")
    return str(value) if value is not None else None


class RequestContextMiddleware(HttpMiddleware):
    """Outermost layer: every answer gets ``X-Request-ID``, is counted, and never leaks.

    The request id and trace context go into ``scope["state"]`` (what ``request.state``
    reads) and into the structlog context, so every log line of the request carries them.
    An exception that escapes the application is logged here with its traceback and
    answered with a generic 500 problem, so no stack trace reaches a client.
    """

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started_at = time.perf_counter()
        request_id = request_id_from(_header(scope, b"x-request-id"))
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["traceparent"] = traceparent_from(_header(scope, b"traceparent"))
        request_id_header = (b"x-request-id", request_id.encode())
        status = 500
        response_started = False

        async def send_with_request_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                message["headers"] = [*message.get("headers", ()), request_id_header]
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_request_id)
            except Exception:
                log.exception("request failed", method=scope["method"], path=scope["path"])
                if not response_started:
                    await send_problem(
                        send_with_request_id,
                        INTERNAL_ERROR,
                        "The server failed to answer this request; it has been logged.",
                        instance=scope["path"],
                        request_id=request_id,
                    )
            finally:
                route = scope.get("route")
                template = getattr(route, "path", None) or metrics.UNMATCHED_ROUTE
                metrics.observe(scope["method"], template, status, time.perf_counter() - started_at)


class _BodyTooLargeError(Exception):
    pass


class BodyLimitMiddleware(HttpMiddleware):
    """Refuse bodies above ``max_bytes`` with 413 before anything parses them.

    A declared Content-Length is judged before a byte is read; a chunked body (no length)
    is read into memory only up to the limit. The body, once accepted, is handed to the
    application as one message: it would be read whole for JSON parsing anyway.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        super().__init__(app)
        self.max_bytes = max_bytes

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared = _header(scope, b"content-length")
        try:
            if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
                raise _BodyTooLargeError
            body = await self._read_body(receive)
        except _BodyTooLargeError:
            await send_problem(
                send,
                PAYLOAD_TOO_LARGE,
                f"The request body exceeds the limit of {self.max_bytes} bytes.",
                instance=scope["path"],
                request_id=request_id_of(scope),
            )
            return
        if body is None:
            return  # the client went away mid-body: nobody is left to answer
        delivered = False

        async def replay_body() -> Message:
            nonlocal delivered
            if delivered:
                # Past the body, receive() only reports a disconnect: pass it through.
                return await receive()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay_body, send)

    async def _read_body(self, receive: Receive) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                raise _BodyTooLargeError
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)
