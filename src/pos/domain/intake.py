"""Accepting an order: everything the API answers and stores is decided here, before any I/O.

The order id, event id and creation time are chosen by the caller and passed in, so the
201 body, the stored replay and the `order.created` event are complete, identical bytes
before the database is touched, and the intake can be written in one statement.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from pos.domain.events import encode_order_created
from pos.domain.fingerprint import fingerprint
from pos.domain.orders import Item, Order, items_document, order_document
from pos.domain.status import OrderStatus


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A validated `POST /orders` body."""

    store_id: str
    device_id: str
    currency: str
    items: tuple[Item, ...]

    def document(self) -> dict[str, Any]:
        """The body as the till meant it (camelCase), the input of the fingerprint."""
        return {
            "storeId": self.store_id,
            "deviceId": self.device_id,
            "currency": self.currency,
            "items": items_document(self.items),
        }

    def fingerprint(self) -> bytes:
        return fingerprint(self.document())


@dataclass(frozen=True, slots=True)
class AcceptedOrder:
    order: Order
    event_id: uuid.UUID
    fingerprint: bytes
    #: Exactly the body of the 201 answer; replays send these bytes again.
    response_body: bytes
    #: The `order.created` event, relayed to Kafka byte for byte.
    event_payload: bytes


def accept(
    request: OrderRequest, *, order_id: uuid.UUID, event_id: uuid.UUID, created_at: datetime
) -> AcceptedOrder:
    order = Order(
        id=order_id,
        store_id=request.store_id,
        device_id=request.device_id,
        currency=request.currency,
        items=request.items,
        status=OrderStatus.PENDING,
        created_at=created_at,
    )
    document = order_document(order)
    return AcceptedOrder(
        order=order,
        event_id=event_id,
        fingerprint=request.fingerprint(),
        response_body=orjson.dumps(document),
        event_payload=encode_order_created(event_id, created_at, document),
    )
