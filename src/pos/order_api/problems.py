"""RFC 9457 problem details: the one shape of every error the API answers.

Each kind of error has a stable ``type`` URI that clients can branch on; ``detail`` is for
people. A problem never carries a stack trace, SQL or the offending input: the request id
(``requestId``, also in the ``X-Request-ID`` header) is what links it to the server's logs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.responses import Response
from starlette.types import Send

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "https://pos.example.com/problems/"


@dataclass(frozen=True, slots=True)
class ProblemType:
    slug: str
    title: str
    status: int

    @property
    def uri(self) -> str:
        return PROBLEM_BASE + self.slug


BAD_REQUEST = ProblemType("bad-request", "Malformed HTTP request", 400)
INVALID_IDEMPOTENCY_KEY = ProblemType("invalid-idempotency-key", "Invalid Idempotency-Key", 400)
MALFORMED_JSON = ProblemType("malformed-json", "Malformed JSON body", 400)
INVALID_CURSOR = ProblemType("invalid-cursor", "Invalid pagination cursor", 400)
UNAUTHORIZED = ProblemType("unauthorized", "Missing or invalid device key", 401)
DEVICE_MISMATCH = ProblemType("device-mismatch", "Order of another device", 403)
NOT_FOUND = ProblemType("not-found", "Not found", 404)
METHOD_NOT_ALLOWED = ProblemType("method-not-allowed", "Method not allowed", 405)
KEY_IN_FLIGHT = ProblemType("idempotency-key-in-flight", "Request with this key in progress", 409)
KEY_EXPIRED = ProblemType("idempotency-key-expired", "Idempotency-Key already used", 409)
PAYLOAD_TOO_LARGE = ProblemType("payload-too-large", "Request body too large", 413)
UNSUPPORTED_MEDIA_TYPE = ProblemType("unsupported-media-type", "Body is not JSON", 415)
VALIDATION_ERROR = ProblemType("validation-error", "Invalid request", 422)
KEY_REUSED = ProblemType("idempotency-key-reused", "Idempotency-Key reused with another body", 422)
RATE_LIMITED = ProblemType("rate-limited", "Too many requests from this device", 429)
INTERNAL_ERROR = ProblemType("internal-error", "Internal server error", 500)
NOT_READY = ProblemType("not-ready", "Service not ready", 503)
DATABASE_UNAVAILABLE = ProblemType("database-unavailable", "Database unavailable", 503)

ALL_TYPES: tuple[ProblemType, ...] = (
    BAD_REQUEST,
    INVALID_IDEMPOTENCY_KEY,
    MALFORMED_JSON,
    INVALID_CURSOR,
    UNAUTHORIZED,
    DEVICE_MISMATCH,
    NOT_FOUND,
    METHOD_NOT_ALLOWED,
    KEY_IN_FLIGHT,
    KEY_EXPIRED,
    PAYLOAD_TOO_LARGE,
    UNSUPPORTED_MEDIA_TYPE,
    VALIDATION_ERROR,
    KEY_REUSED,
    RATE_LIMITED,
    INTERNAL_ERROR,
    NOT_READY,
    DATABASE_UNAVAILABLE,
)


_BY_FRAMEWORK_STATUS = {t.status: t for t in (NOT_FOUND, METHOD_NOT_ALLOWED, PAYLOAD_TOO_LARGE)}


def http_problem(status: int, title: str) -> ProblemType:
    """The problem type of an HTTP error raised by the framework rather than by our code."""
    return _BY_FRAMEWORK_STATUS.get(status) or ProblemType(f"http-{status}", title, status)


class ProblemError(Exception):
    """Raised by routes and services to answer with a problem; rendered by a handler."""

    def __init__(
        self,
        problem: ProblemType,
        detail: str,
        *,
        extras: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.problem = problem
        self.detail = detail
        self.extras = dict(extras or {})
        self.headers = dict(headers or {})


def problem_body(
    problem: ProblemType,
    detail: str,
    *,
    instance: str,
    request_id: str | None,
    extras: Mapping[str, Any] | None = None,
) -> bytes:
    document: dict[str, Any] = {
        "type": problem.uri,
        "title": problem.title,
        "status": problem.status,
        "detail": detail,
        "instance": instance,
    }
    if request_id is not None:
        document["requestId"] = request_id
    if extras:
        document.update(extras)
    return orjson.dumps(document)


def problem_response(error: ProblemError, *, instance: str, request_id: str | None) -> Response:
    body = problem_body(
        error.problem,
        error.detail,
        instance=instance,
        request_id=request_id,
        extras=error.extras,
    )
    return Response(
        body, status_code=error.problem.status, headers=error.headers, media_type=PROBLEM_MEDIA_TYPE
    )


async def send_problem(
    send: Send,
    problem: ProblemType,
    detail: str,
    *,
    instance: str,
    request_id: str | None,
) -> None:
    """Answer straight from an ASGI middleware, where no Response machinery runs."""
    body = problem_body(problem, detail, instance=instance, request_id=request_id)
    await send(
        {
            "type": "http.response.start",
            "status": problem.status,
            "headers": [
                (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
