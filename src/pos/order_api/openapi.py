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

_EXAMPLE_DETAILS: dict[ProblemType, str] = {
    p.VALIDATION_ERROR: "The request is invalid: items[0].quantity: Input should be "
    "greater than or equal to 1.",
    p.KEY_EXPIRED: "This Idempotency-Key created order 0b7f3c1e-2d4a-4f8e-9c61-5a0d2e7b9f13; "
    "its stored answer has expired, and a key never creates a second order.",
    p.DEVICE_MISMATCH: "This key belongs to device store-1/till-7; the order names store-2/till-1.",
}
_EXAMPLE_EXTRAS: dict[ProblemType, dict[str, Any]] = {
    p.VALIDATION_ERROR: {
        "errors": [
            {
                "field": "items[0].quantity",
                "location": "body",
                "message": "Input should be greater than or equal to 1",
                "type": "greater_than_equal",
            }
        ]
    },
    p.KEY_EXPIRED: {"orderId": "0b7f3c1e-2d4a-4f8e-9c61-5a0d2e7b9f13"},
    p.NOT_READY: {"checks": {"database": "ok", "kafka": "timed out after 1.0 s"}},
}

REQUEST_ID_HEADER = {
    "description": "The request id (the caller's X-Request-ID when sane, else generated).",
    "schema": {"type": "string"},
}

RETRY_AFTER_HEADER = {
    "description": "Seconds to wait before retrying (idempotency-key-in-flight, rate-limited)",
    "schema": {"type": "integer"},
}

ACCEPT_POST_HEADER = {
    "description": "The media type POST /orders accepts: application/json",
    "schema": {"type": "string"},
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
            # Printable ASCII; no space at either end, which HTTP strips from a value.
            "pattern": "^[\\x21-\\x7E]([\\x20-\\x7E]*[\\x21-\\x7E])?$",
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


def problem_schema_name(problem: ProblemType) -> str:
    """``invalid-cursor`` -> ``InvalidCursorProblem``: one component per problem type."""
    return "".join(part.capitalize() for part in problem.slug.split("-")) + "Problem"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _example(problem: ProblemType) -> dict[str, Any]:
    document: dict[str, Any] = {
        "type": problem.uri,
        "title": problem.title,
        "status": problem.status,
        "detail": _EXAMPLE_DETAILS.get(problem, problem.title + "."),
        "instance": "/orders",
        "requestId": "3f6c1a52b7e94d0c",
    }
    document.update(_EXAMPLE_EXTRAS.get(problem, {}))
    return document


def problem_responses(*types: ProblemType) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` entries of a route that can answer these problem types: per
    status, the schema of the one type, or a ``oneOf`` told apart by ``type``."""
    by_status: dict[int, list[ProblemType]] = defaultdict(list)
    for problem in (*types, p.INTERNAL_ERROR):
        if problem not in by_status[problem.status]:
            by_status[problem.status].append(problem)
    responses: dict[int | str, dict[str, Any]] = {}
    for status, kinds in sorted(by_status.items()):
        headers = {"X-Request-ID": REQUEST_ID_HEADER}
        if {p.KEY_IN_FLIGHT, p.RATE_LIMITED, p.DATABASE_UNAVAILABLE} & set(kinds):
            headers["Retry-After"] = RETRY_AFTER_HEADER
        if p.UNAUTHORIZED in kinds:
            headers["WWW-Authenticate"] = WWW_AUTHENTICATE_HEADER
        if p.UNSUPPORTED_MEDIA_TYPE in kinds:
            headers["Accept-Post"] = ACCEPT_POST_HEADER
        names = [problem_schema_name(kind) for kind in kinds]
        schema: dict[str, Any] = (
            _ref(names[0])
            if len(kinds) == 1
            else {
                "oneOf": [_ref(name) for name in names],
                "discriminator": {
                    "propertyName": "type",
                    "mapping": {
                        kind.uri: f"#/components/schemas/{name}"
                        for kind, name in zip(kinds, names, strict=True)
                    },
                },
            }
        )
        responses[status] = {
            "description": "; ".join(f"{k.title} (`{k.uri}`)" for k in kinds),
            "headers": headers,
            "content": {
                PROBLEM_MEDIA_TYPE: {
                    "schema": schema,
                    "examples": {kind.slug: {"value": _example(kind)} for kind in kinds},
                }
            },
        }
    return responses


def _problem_components() -> dict[str, Any]:
    """The base shapes, the enum of every problem type, and one schema per type."""
    components: dict[str, Any] = {
        "ProblemType": {
            "type": "string",
            "format": "uri",
            "enum": [kind.uri for kind in p.ALL_TYPES],
            "description": "Stable identifier of a kind of error: branch on this.",
        }
    }
    bases: list[type[BaseModel]] = [Problem, *_MODELS.values()]
    for model in bases:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(schema.pop("$defs", {}))
        schema["properties"]["type"] = _ref("ProblemType")
        components[model.__name__] = schema
    for kind in p.ALL_TYPES:
        components[problem_schema_name(kind)] = {
            "title": problem_schema_name(kind),
            "description": kind.title,
            "allOf": [
                _ref(_MODELS.get(kind, Problem).__name__),
                {
                    "type": "object",
                    "properties": {
                        # One-value enums rather than const: code generators combine
                        # them with the ProblemType enum of the base shape.
                        "type": {"type": "string", "enum": [kind.uri]},
                        "status": {"type": "integer", "enum": [kind.status]},
                    },
                },
            ],
        }
    return components


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
            components.update(_problem_components())
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
