"""The `order.created` event envelope: ``{"eventId", "type", "occurredAt", "order": {...}}``.

Encoded once, when the order is accepted, and stored in the outbox as bytes: the relay
sends exactly those bytes, so what the consumer reads is what the API committed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from pos.domain.orders import Order, order_document

ORDER_CREATED = "order.created"


@dataclass(frozen=True, slots=True)
class OrderEvent:
    event_id: uuid.UUID
    type: str
    occurred_at: str
    order: dict[str, Any]

    @property
    def order_id(self) -> uuid.UUID:
        return uuid.UUID(self.order["id"])


def encode_order_created(
    event_id: uuid.UUID, occurred_at: datetime, order: dict[str, Any]
) -> bytes:
    return orjson.dumps(
        {
            "eventId": str(event_id),
            "type": ORDER_CREATED,
            "occurredAt": occurred_at.isoformat().replace("+00:00", "Z"),
            "order": order,
        }
    )


def reissue_order_created(order: Order, event_id: uuid.UUID) -> bytes:
    """The `order.created` event of an order accepted earlier, under a new event id.

    Rendered by the same two functions as the API's event, with the order's own creation
    time as ``occurredAt``: for a PENDING order the bytes differ from the first event only
    in ``eventId``, so a consumer cannot tell a re-issued event from a redelivered one.
    """
    return encode_order_created(event_id, order.created_at, order_document(order))


class MalformedEventError(ValueError):
    """An event that cannot be understood: it goes to the dead-letter topic, not retried."""


def decode_event(raw: bytes | None) -> OrderEvent:
    if not raw:
        raise MalformedEventError("empty message")
    try:
        data = orjson.loads(raw)
        event = OrderEvent(
            event_id=uuid.UUID(data["eventId"]),
            type=str(data["type"]),
            occurred_at=str(data["occurredAt"]),
            order=dict(data["order"]),
        )
        _ = event.order_id
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise MalformedEventError(f"cannot decode event: {exc}") from None
    return event
