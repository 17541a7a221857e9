"""What the OpenAPI document says about errors and the Idempotency-Key header.

Routes declare which problem types they can answer; this module turns that into response
entries (one per status, naming every problem type behind it) and, since FastAPI files
every response model under ``application/json``, moves error bodies to
``application/problem+json`` where they belong.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from pos.domain.idempotency import MAX_KEY_LENGTH
from pos.order_api import problems as p
from pos.order_api.problems import PROBLEM_MEDIA_TYPE, ProblemType
from pos.order_api.schemas import (
    KeyExpiredProblem,
    OrderIn,
    Problem,
    ReadinessProblem,
    ValidationProblem,
)

_MODELS: dict[ProblemType, type[BaseModel]] = {
    p.VALIDATION_ERROR: ValidationProblem,
    p.KEY_EXPIRED: KeyExpiredProblem,
    p.NOT_READY: ReadinessProblem,
}

REQUEST_ID_HEADER = {
    "description": "The request id (the caller's X-Request-ID when sane, else generated).",
    "schema": {"type": "string"},
}

RETRY_AFTER_HEADER = {
    "description": "Seconds to wait before retrying (idempotency-key-in-flight, rate-limited)",
    "schema": {"type": "integer"},
}

WWW_AUTHENTICATE_HEADER = {
    "description": "`Bearer` (RFC 6750): the scheme the order routes expect",
    "schema": {"type": "string"},
}

ORDER_REQUEST_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/OrderIn"}}},
}

IDEMPOTENCY_PARAMETERS: list[dict[str, Any]] = [
    {
        "name": "Idempotency-Key",
        "in": "header",
        "required": True,
        "description": (
            "Chosen by the client, unique per order (a UUID is a good choice). A retry with "
            "the same key and body replays the first answer; with another body it is "
            "refused (422). The key is never accepted for a second order, even after its "
            "stored answer expired (409 idempotency-key-expired)."
        ),
        "schema": {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_KEY_LENGTH,
            "pattern": "^[\\x20-\\x7E]+$",
        },
    },
    {
        "name": "traceparent",
        "in": "header",
        "required": False,
        "description": "W3C trace context; carried to the order.created event.",
        "schema": {"type": "string"},
    },
]


def problem_responses(*types: ProblemType) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` entries of a route that can answer these problem types."""
    by_status: dict[int, list[ProblemType]] = defaultdict(list)
    for problem in (*types, p.INTERNAL_ERROR):
        by_status[problem.status].append(problem)
    responses: dict[int | str, dict[str, Any]] = {}
    for status, kinds in sorted(by_status.items()):
        models = {_MODELS.get(kind, Problem) for kind in kinds}
        headers = {"X-Request-ID": REQUEST_ID_HEADER}
        if {p.KEY_IN_FLIGHT, p.RATE_LIMITED, p.DATABASE_UNAVAILABLE} & set(kinds):
            headers["Retry-After"] = RETRY_AFTER_HEADER
        if p.UNAUTHORIZED in kinds:
            headers["WWW-Authenticate"] = WWW_AUTHENTICATE_HEADER
        responses[status] = {
            "model": models.pop() if len(models) == 1 else Problem,
            "description": "; ".join(f"{k.title} (`{k.uri}`)" for k in kinds),
            "headers": headers,
        }
    return responses


def install(app: FastAPI) -> None:
    """Generate the document once, with problem bodies under their own media type."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            # The order body is parsed by the route itself (see create_order), so FastAPI
            # does not collect its schema: add it with the models it refers to.
            body_schema = OrderIn.model_json_schema(ref_template="#/components/schemas/{model}")
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(body_schema.pop("$defs", {}), OrderIn=body_schema)
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    # FastAPI's default 422 (HTTPValidationError) on routes that declare
                    # none: this API never answers in that shape, and these routes cannot
                    # fail validation (their only parameter is a path string).
                    default_422 = operation.get("responses", {}).get("422", {})
                    if "HTTPValidationError" in str(default_422):
                        del operation["responses"]["422"]
                    for status, response in operation.get("responses", {}).items():
                        content = response.get("content", {})
                        if status[0] in "45" and "application/json" in content:
                            content[PROBLEM_MEDIA_TYPE] = content.pop("application/json")
            for unused in ("HTTPValidationError", "ValidationError"):
                components.pop(unused, None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
