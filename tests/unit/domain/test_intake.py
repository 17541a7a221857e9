"""Accepting an order: the 201 body, the event and the fingerprint, decided before any I/O."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import orjson

from pos.domain.events import decode_event
from pos.domain.intake import OrderRequest, accept
from pos.domain.orders import Item

REQUEST = OrderRequest(
    store_id="store-1",
    device_id="till-7",
    currency="EUR",
    items=(Item("LATTE-L", "Latte", 2, 450), Item("CROISSANT", "Croissant", 1, 250)),
)
CREATED = datetime(2026, 11, 25, 12, 30, 0, 123456, tzinfo=UTC)


def test_response_body_is_the_pending_order_with_a_server_total() -> None:
    accepted = accept(
        REQUEST, order_id=uuid.UUID(int=1), event_id=uuid.UUID(int=2), created_at=CREATED
    )
    body = orjson.loads(accepted.response_body)
    assert body == {
        "id": str(uuid.UUID(int=1)),
        "storeId": "store-1",
        "deviceId": "till-7",
        "currency": "EUR",
        "items": [
            {"sku": "LATTE-L", "name": "Latte", "quantity": 2, "unitPrice": 450},
            {"sku": "CROISSANT", "name": "Croissant", "quantity": 1, "unitPrice": 250},
        ],
        "totalAmount": 1150,
        "status": "PENDING",
        "createdAt": "2026-11-25T12:30:00.123Z",
        "processedAt": None,
    }


def test_event_carries_the_same_order_document() -> None:
    accepted = accept(
        REQUEST, order_id=uuid.UUID(int=1), event_id=uuid.UUID(int=2), created_at=CREATED
    )
    event = decode_event(accepted.event_payload)
    assert event.event_id == uuid.UUID(int=2)
    assert event.type == "order.created"
    assert event.order == orjson.loads(accepted.response_body)


def test_fingerprint_depends_on_the_request_only() -> None:
    first = accept(REQUEST, order_id=uuid.uuid4(), event_id=uuid.uuid4(), created_at=CREATED)
    again = accept(
        REQUEST, order_id=uuid.uuid4(), event_id=uuid.uuid4(), created_at=datetime.now(UTC)
    )
    assert first.fingerprint == again.fingerprint == REQUEST.fingerprint()
    other = OrderRequest("store-1", "till-7", "EUR", REQUEST.items[:1])
    assert other.fingerprint() != REQUEST.fingerprint()
