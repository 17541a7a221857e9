"""FAILED orders for operators: list them, and redrive them once the cause is fixed.

A redrive is one transaction: the order goes back to PENDING and a NEW outbox event is
written beside it, so the publisher re-publishes it like any new order and the consumer
delivers it again. Either both happen or neither; no event is produced from here
directly, which could be lost or sent for a transaction that then rolled back.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from pos.db.orders import items_of, order_from_row
from pos.domain.events import ORDER_CREATED, encode_order_created
from pos.domain.orders import Item, Order, order_document
from pos.domain.status import OrderStatus

_LIST = """
SELECT id, attempts, last_error, updated_at FROM orders
 WHERE status = 'FAILED' ORDER BY updated_at DESC, id LIMIT $1
"""

_REOPEN = """
UPDATE orders
   SET status = 'PENDING', attempts = 0, last_error = NULL, receipt_ref = NULL,
       processed_at = NULL, updated_at = now()
 WHERE status = 'FAILED' AND ($1::uuid[] IS NULL OR id = ANY($1::uuid[]))
RETURNING id, store_id, device_id, currency, created_at
"""

_ENQUEUE = """
INSERT INTO outbox (event_id, aggregate_id, event_type, topic, payload)
SELECT e.event_id, e.order_id, $3, $4, e.payload
  FROM unnest($1::uuid[], $2::bytea[], $5::uuid[]) AS e(event_id, payload, order_id)
"""


@dataclass(frozen=True, slots=True)
class FailedOrder:
    id: uuid.UUID
    attempts: int
    last_error: str | None
    failed_at: datetime


async def list_failed(pool: asyncpg.Pool, limit: int) -> list[FailedOrder]:
    rows = await pool.fetch(_LIST, limit)
    return [FailedOrder(r["id"], r["attempts"], r["last_error"], r["updated_at"]) for r in rows]


async def redrive(
    pool: asyncpg.Pool, topic: str, order_ids: Sequence[uuid.UUID] | None = None
) -> list[uuid.UUID]:
    """Reopen the FAILED orders among ``order_ids`` (all when None); returns those reopened.

    Orders that are not FAILED are left alone: redriving twice does nothing the second time.
    """
    async with pool.acquire() as conn, conn.transaction():
        reopened = await conn.fetch(_REOPEN, list(order_ids) if order_ids is not None else None)
        if not reopened:
            return []
        ids = [row["id"] for row in reopened]
        items = await items_of(conn, ids)
        now = datetime.now(UTC)
        event_ids = [uuid.uuid4() for _ in ids]
        payloads = [
            encode_order_created(event_id, now, order_document(_order(row, items[row["id"]])))
            for event_id, row in zip(event_ids, reopened, strict=True)
        ]
        await conn.execute(_ENQUEUE, event_ids, payloads, ORDER_CREATED, topic, ids)
        return ids


def _order(row: asyncpg.Record, items: list[Item]) -> Order:
    """The order as it is now (PENDING again), for the re-published event."""
    return order_from_row(row, items, OrderStatus.PENDING)
