"""Orders as the API commits them (order, items, outbox row), at any point of their life.

The payloads come from the API's own domain code (``pos.domain.intake.accept``), so a
re-issued event can be compared with the event the API wrote, byte for byte.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson
import psycopg

from pos.domain.intake import AcceptedOrder, OrderRequest, accept
from pos.domain.orders import Item
from pos.domain.status import OrderStatus

Db = psycopg.Connection[tuple[object, ...]]


@dataclass(frozen=True)
class Event:
    """The outbox row an order got: ``published_ago`` None = still waiting; parked or not."""

    published_ago: float | None = None
    parked: bool = False


def insert_order(
    db: Db,
    topic: str,
    *,
    status: OrderStatus = OrderStatus.PENDING,
    created_ago: float = 0.0,
    events: tuple[Event, ...] = (Event(),),
) -> AcceptedOrder:
    created_at = datetime.now(UTC) - timedelta(seconds=created_ago)
    request = OrderRequest(
        "store-1", "till-1", "EUR", (Item("LATTE-L", "Latte", 2, 450), Item("CROI", "Cr", 1, 250))
    )
    accepted = accept(request, order_id=uuid.uuid4(), event_id=uuid.uuid4(), created_at=created_at)
    order = accepted.order
    request_id = f"req-{uuid.uuid4().hex[:12]}"
    db.execute(
        "INSERT INTO orders (id, store_id, device_id, currency, total_amount, status,"
        " idempotency_scope, idempotency_key, request_id, created_at, updated_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, 'test', %s, %s, %s, %s)",
        (
            order.id,
            order.store_id,
            order.device_id,
            order.currency,
            order.total_amount,
            str(status),
            uuid.uuid4().hex,
            request_id,
            created_at,
            created_at,
        ),
    )
    for line, item in enumerate(order.items, start=1):
        db.execute(
            "INSERT INTO order_items (order_id, line_no, sku, name, quantity, unit_price)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            (order.id, line, item.sku, item.name, item.quantity, item.unit_price),
        )
    headers = orjson.dumps(
        {"request-id": request_id, "traceparent": f"00-{'a' * 32}-{'b' * 16}-01"}
    )
    for i, event in enumerate(events):
        db.execute(
            "INSERT INTO outbox (event_id, aggregate_id, event_type, topic, payload, headers,"
            " created_at, published, published_at, parked_at)"
            " VALUES (%s, %s, 'order.created', %s, %s, %s::jsonb, %s, %s,"
            " now() - make_interval(secs => %s), CASE WHEN %s THEN now() END)",
            (
                accepted.event_id if i == 0 else uuid.uuid4(),
                order.id,
                topic,
                accepted.event_payload,
                headers.decode(),
                created_at,
                event.published_ago is not None,
                event.published_ago,
                event.parked,
            ),
        )
    return accepted


def outbox_rows(db: Db, order_id: uuid.UUID) -> list[tuple[object, ...]]:
    """(event_id, topic, payload, headers, published) of an order's rows, oldest first."""
    return db.execute(
        "SELECT event_id, topic, payload, headers, published FROM outbox"
        " WHERE aggregate_id = %s ORDER BY id",
        (order_id,),
    ).fetchall()
