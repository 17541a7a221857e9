"""``POST /orders`` (idempotent intake), ``GET /orders/{id}``, ``GET /orders``."""

from __future__ import annotations

import uuid
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response

from pos.domain.devices import Device
from pos.domain.idempotency import (
    FingerprintMismatch,
    InvalidIdempotencyKeyError,
    KeyExpired,
    Replay,
    parse_idempotency_key,
)
from pos.domain.intake import OrderRequest
from pos.domain.status import OrderStatus
from pos.order_api import metrics
from pos.order_api import problems as p
from pos.order_api.auth import authenticated_device
from pos.order_api.dependencies import components_of, request_context
from pos.order_api.idempotency import Created, IntakeOutcome, KeyInFlight
from pos.order_api.jsonbody import reject_duplicate_members, require_json
from pos.order_api.openapi import (
    IDEMPOTENCY_PARAMETERS,
    ORDER_REQUEST_BODY,
    REQUEST_ID_HEADER,
    problem_responses,
)
from pos.order_api.pagination import InvalidCursorError
from pos.order_api.problems import ProblemError
from pos.order_api.schemas import OrderDetails, OrderOut, OrderPage, parse_order

# Every order route needs a device key; the dependency also documents the scheme in the
# OpenAPI. It runs before anything else of the request is looked at.
router = APIRouter(tags=["orders"])
AuthenticatedDevice = Annotated[Device, Depends(authenticated_device)]
AUTH_PROBLEMS = (p.UNAUTHORIZED, p.RATE_LIMITED)

JSON = "application/json"
RETRY_AFTER_SECONDS = "1"


def idempotency_key(request: Request) -> str:
    """The request's Idempotency-Key, or a 400 problem."""
    given = request.headers.getlist("idempotency-key")
    if len(given) > 1:
        # Proxies and clients disagree on which of several counts: refuse, never guess.
        raise ProblemError(
            p.INVALID_IDEMPOTENCY_KEY, f"Send one Idempotency-Key header, not {len(given)}."
        )
    try:
        return parse_idempotency_key(given[0] if given else None)
    except InvalidIdempotencyKeyError as exc:
        raise ProblemError(p.INVALID_IDEMPOTENCY_KEY, str(exc)) from None


def check_ownership(order: OrderRequest, device: Device) -> None:
    """A till orders for itself: the body's store and device must be the key's (else 403)."""
    if (order.store_id, order.device_id) != (device.store_id, device.device_id):
        raise ProblemError(
            p.DEVICE_MISMATCH,
            f"This key belongs to device {device.idempotency_scope}; the order names "
            f"{order.store_id}/{order.device_id}.",
        )


@router.post(
    "/orders",
    status_code=201,
    operation_id="createOrder",
    summary="Create an order (idempotent)",
    response_model=OrderOut,
    responses={
        201: {
            "description": "Created; a replay of the first answer carries Idempotent-Replayed",
            "headers": {
                "Location": {"schema": {"type": "string"}, "description": "/orders/{id}"},
                "Idempotent-Replayed": {
                    "schema": {"type": "string", "enum": ["true"]},
                    "description": "Present on a replayed answer",
                },
                "X-Request-ID": REQUEST_ID_HEADER,
            },
        },
        **problem_responses(
            *AUTH_PROBLEMS,
            p.DEVICE_MISMATCH,
            p.INVALID_IDEMPOTENCY_KEY,
            p.MALFORMED_JSON,
            p.KEY_IN_FLIGHT,
            p.KEY_EXPIRED,
            p.PAYLOAD_TOO_LARGE,
            p.UNSUPPORTED_MEDIA_TYPE,
            p.VALIDATION_ERROR,
            p.KEY_REUSED,
            p.DATABASE_UNAVAILABLE,
        ),
    },
    openapi_extra={"parameters": IDEMPOTENCY_PARAMETERS, "requestBody": ORDER_REQUEST_BODY},
)
async def create_order(request: Request, device: AuthenticatedDevice) -> Response:
    # The body is parsed here rather than by a FastAPI body parameter: the key is judged
    # first (a till that sends none learns that whatever else is wrong), and pydantic
    # parses the JSON itself, in one pass, for a fraction of FastAPI's per-request cost.
    key = idempotency_key(request)
    require_json(request.headers.get("content-type"))
    raw = await request.body()
    reject_duplicate_members(raw)
    order = parse_order(raw)
    check_ownership(order, device)
    # Keys are scoped per device: two tills may pick the same key and get two orders, and
    # neither can ever be answered with the other's stored response.
    outcome = await components_of(request).intake.place(
        order, scope=device.idempotency_scope, key=key, context=request_context(request)
    )
    return _answer(outcome)


def _answer(outcome: IntakeOutcome) -> Response:
    match outcome:
        case Created(accepted):
            metrics.ORDERS_CREATED.inc()
            return Response(
                accepted.response_body,
                status_code=201,
                headers={"Location": f"/orders/{accepted.order.id}"},
                media_type=JSON,
            )
        case Replay(stored):
            metrics.REPLAYS.inc()
            return Response(
                stored.body,
                status_code=stored.status_code,
                headers={"Location": f"/orders/{stored.order_id}", "Idempotent-Replayed": "true"},
                media_type=JSON,
            )
        case FingerprintMismatch():
            metrics.CONFLICTS.labels("body_mismatch").inc()
            raise ProblemError(
                p.KEY_REUSED,
                "This Idempotency-Key was first used with a different request body; "
                "use a new key for a new order.",
            )
        case KeyExpired(order_id):
            metrics.CONFLICTS.labels("expired").inc()
            raise ProblemError(
                p.KEY_EXPIRED,
                f"This Idempotency-Key created order {order_id}; its stored answer has "
                "expired, and a key never creates a second order.",
                extras={"orderId": str(order_id)},
            )
        case KeyInFlight():
            metrics.CONFLICTS.labels("in_flight").inc()
            raise ProblemError(
                p.KEY_IN_FLIGHT,
                "A request with this Idempotency-Key is still being processed; retry later.",
                headers={"Retry-After": RETRY_AFTER_SECONDS},
            )


@router.get(
    "/orders/{order_id}",
    operation_id="getOrder",
    summary="One order",
    response_model=OrderDetails,
    responses=problem_responses(*AUTH_PROBLEMS, p.NOT_FOUND),
)
async def get_order(order_id: str, request: Request, device: AuthenticatedDevice) -> Response:
    try:
        parsed = uuid.UUID(order_id)
    except ValueError:
        parsed = None
    reader = components_of(request).reader
    found = await reader.get(parsed, store_id=device.store_id) if parsed is not None else None
    if found is None:
        raise ProblemError(p.NOT_FOUND, f"There is no order {order_id}.")
    return Response(orjson.dumps(found), media_type=JSON)


@router.get(
    "/orders",
    operation_id="listOrders",
    summary="Orders, newest first, keyset-paginated",
    response_model=OrderPage,
    responses=problem_responses(*AUTH_PROBLEMS, p.INVALID_CURSOR, p.VALIDATION_ERROR),
)
async def list_orders(
    request: Request,
    device: AuthenticatedDevice,
    status: Annotated[OrderStatus | None, Query(description="Only orders in this status")] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="Page size")] = 50,
    cursor: Annotated[
        str | None, Query(max_length=512, description="`nextCursor` of the previous page")
    ] = None,
) -> Response:
    found = components_of(request)
    try:
        after = found.cursors.decode(cursor) if cursor is not None else None
    except InvalidCursorError as exc:
        raise ProblemError(p.INVALID_CURSOR, str(exc)) from None
    items, following = await found.reader.page(
        store_id=device.store_id, status=status, limit=limit, after=after
    )
    next_cursor = found.cursors.encode(following) if following is not None else None
    return Response(orjson.dumps({"items": items, "nextCursor": next_cursor}), media_type=JSON)
