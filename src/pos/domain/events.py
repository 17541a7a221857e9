"""The `order.created` event envelope:
``{"eventId", "type", "schemaVersion", "occurredAt", "order": {...}}``.

Encoded once, when the order is accepted, and stored in the outbox as bytes: the relay
sends exactly those bytes, so what the consumer reads is what the API committed.

``schemaVersion`` names the version of the published JSON Schema the event follows
(``src/pos/messaging/schemas/order.created.schema.json``). It rises only for a change a
reader could misread; added optional fields keep it. Events written before the field
existed are version 1, so readers treat a missing ``schemaVersion`` as 1.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from pos.domain.orders import Order, iso_utc, order_document

ORDER_CREATED = "order.created"
SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class OrderEvent:
    event_id: uuid.UUID
    type: str
    occurred_at: str
    order: dict[str, Any]
    schema_version: int = SCHEMA_VERSION

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
            "schemaVersion": SCHEMA_VERSION,
            # The same RFC 3339 form as every timestamp of the API: UTC, milliseconds, Z.
            "occurredAt": iso_utc(occurred_at),
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
        version = data.get("schemaVersion", SCHEMA_VERSION)
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise ValueError(f"schemaVersion {version!r} is not a positive integer")
        event = OrderEvent(
            event_id=uuid.UUID(data["eventId"]),
            type=str(data["type"]),
            occurred_at=str(data["occurredAt"]),
            order=dict(data["order"]),
            schema_version=version,
        )
        _ = event.order_id
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise MalformedEventError(f"cannot decode event: {exc}") from None
    return event
