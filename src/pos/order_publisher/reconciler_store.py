"""The reconciler's SQL (asyncpg): find orders left PENDING after their event, enqueue again.

One round is one transaction that first takes a transaction-scoped advisory lock with
``pg_try_advisory_xact_lock``: publishers that reconcile at the same moment do not queue,
the second one simply skips its round. The lock is released by the commit that makes the
new outbox rows visible, so the next reconciler to get it sees those rows unpublished and
leaves their orders alone: no order is re-enqueued twice for one interval.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence

import asyncpg
import orjson

from pos.db.orders import items_of, order_from_row
from pos.domain.events import ORDER_CREATED
from pos.domain.orders import Item
from pos.domain.status import OrderStatus
from pos.order_publisher.reconciler_model import Redelivery, StalePending

# Any constant shared by every publisher: the key of "one reconciler at a time".
ADVISORY_LOCK_KEY = 0x706F_7372_6563_6F6E  # "posrecon"

TRY_LOCK_SQL = "SELECT pg_try_advisory_xact_lock($1)"

# PENDING orders older than the interval (through ix_orders_status_created_at_id) that
# have no outbox row still waiting (unpublished, parked included: a parked row waits for
# an operator) and none published within the interval (through ix_outbox_aggregate_id).
# An order whose rows were all deleted by the outbox retention qualifies too. The newest
# surviving row's traceparent keeps the order's trace.
STALE_PENDING_SQL = """
SELECT o.id, o.store_id, o.device_id, o.currency, o.created_at, o.request_id,
       (SELECT b.headers ->> 'traceparent' FROM outbox b
         WHERE b.aggregate_id = o.id ORDER BY b.id DESC LIMIT 1) AS traceparent
FROM orders o
WHERE o.status = 'PENDING'
  AND o.created_at < now() - make_interval(secs => $1)
  AND NOT EXISTS (
      SELECT FROM outbox b
      WHERE b.aggregate_id = o.id
        AND (NOT b.published OR b.published_at > now() - make_interval(secs => $1))
  )
ORDER BY o.created_at, o.id
LIMIT $2
"""

# The join re-checks PENDING at insert time: an order a consumer finished meanwhile gets
# no new event (one that slipped through would only be acknowledged as already final).
ENQUEUE_SQL = """
INSERT INTO outbox (event_id, aggregate_id, event_type, topic, payload, headers)
SELECT e.event_id, e.order_id, $5, $6, e.payload, e.headers::jsonb
FROM unnest($1::uuid[], $2::uuid[], $3::bytea[], $4::text[])
     AS e(event_id, order_id, payload, headers)
JOIN orders o ON o.id = e.order_id AND o.status = 'PENDING'
RETURNING aggregate_id
"""

Plan = Callable[[Sequence[StalePending]], Sequence[Redelivery]]


class ReconcilerStore:
    def __init__(self, pool: asyncpg.Pool, topic: str) -> None:
        self._pool = pool
        self._topic = topic

    async def redeliver(
        self, after_seconds: float, limit: int, plan: Plan
    ) -> list[uuid.UUID] | None:
        """Enqueue new events for up to ``limit`` stale PENDING orders, as ``plan`` builds
        them; the ids of the orders re-enqueued, or None when another publisher holds the
        round's lock."""
        async with self._pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval(TRY_LOCK_SQL, ADVISORY_LOCK_KEY):
                return None
            rows = await conn.fetch(STALE_PENDING_SQL, after_seconds, limit)
            if not rows:
                return []
            items = await items_of(conn, [row["id"] for row in rows])
            stale = [_stale(row, items[row["id"]]) for row in rows]
            return await _enqueue(conn, plan(stale), self._topic)


def _stale(row: asyncpg.Record, items: list[Item]) -> StalePending:
    order = order_from_row(row, items, OrderStatus.PENDING)
    return StalePending(order, row["request_id"], row["traceparent"])


async def _enqueue(
    conn: asyncpg.Connection, redeliveries: Sequence[Redelivery], topic: str
) -> list[uuid.UUID]:
    rs = redeliveries
    inserted = await conn.fetch(
        ENQUEUE_SQL,
        [r.event_id for r in rs],
        [r.order_id for r in rs],
        [r.payload for r in rs],
        [orjson.dumps(r.headers).decode() for r in rs],
        ORDER_CREATED,
        topic,
    )
    return [row["aggregate_id"] for row in inserted]
