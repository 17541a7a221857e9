"""The intake's database adapter: one statement per order, and the idempotency records.

Why one statement: a data-modifying CTE runs as one atomic unit in one round trip. The
idempotency record is inserted first with ``ON CONFLICT DO NOTHING``; the order, its
items, the outbox event and nothing else hang off its ``RETURNING``, so a repeated key
writes nothing at all, and a process killed mid-statement leaves nothing behind (an
uncommitted statement is rolled back as a whole). A racing request with the same key
blocks on the unique index until the first one commits, then finds the key taken and
replays; ``lock_timeout`` bounds that wait (then: 409).
"""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg
import orjson

from pos.domain.idempotency import StoredResponse
from pos.domain.intake import AcceptedOrder


class KeyLockedError(Exception):
    """Another request holding the same key did not finish within ``lock_timeout``."""


class KeySpentError(Exception):
    """The key belongs to an existing order whose idempotency record is gone (expired)."""


# The last SELECT answers a retry in the same round trip: when the key was already taken
# by a committed request, its stored answer is returned instead of the new order. (A key
# taken by a request that committed while this statement waited is not in this
# statement's snapshot: then no row comes back and `stored_response` reads it afresh.)
INTAKE_SQL = """
WITH claimed AS (
    INSERT INTO idempotency_keys
        (scope, key, fingerprint, order_id, status_code, response_body, created_at, expires_at)
    VALUES ($1, $2, $3, $4, 201, $5, $6, $7)
    ON CONFLICT (scope, key) DO NOTHING
    RETURNING order_id
), new_order AS (
    INSERT INTO orders
        (id, store_id, device_id, currency, total_amount, status,
         idempotency_scope, idempotency_key, request_id, created_at, updated_at)
    SELECT order_id, $8, $9, $10, $11, 'PENDING', $1, $2, $12, $6, $6 FROM claimed
    RETURNING id
), new_items AS (
    INSERT INTO order_items (order_id, line_no, sku, name, quantity, unit_price)
    SELECT new_order.id, item.line_no, item.sku, item.name, item.quantity, item.unit_price
    FROM new_order,
         unnest($13::text[], $14::text[], $15::int[], $16::bigint[])
             WITH ORDINALITY AS item(sku, name, quantity, unit_price, line_no)
), new_event AS (
    INSERT INTO outbox (event_id, aggregate_id, event_type, topic, payload, headers, created_at)
    SELECT $17, new_order.id, 'order.created', $18, $19, $20::jsonb, $6 FROM new_order
)
SELECT true AS created, NULL::bytea AS fingerprint, NULL::smallint AS status_code,
       NULL::bytea AS response_body, NULL::uuid AS order_id, NULL::timestamptz AS expires_at
FROM new_order
UNION ALL
SELECT false, fingerprint, status_code, response_body, order_id, expires_at
FROM idempotency_keys
WHERE scope = $1 AND key = $2 AND NOT EXISTS (SELECT FROM claimed)
"""

STORED_RESPONSE_SQL = """
SELECT false AS created, fingerprint, status_code, response_body, order_id, expires_at
FROM idempotency_keys WHERE scope = $1 AND key = $2
"""

ORDER_OF_KEY_SQL = """
SELECT id FROM orders WHERE idempotency_scope = $1 AND idempotency_key = $2
"""

# SKIP LOCKED: when several API processes sweep at once, each takes other rows instead
# of queueing behind the first; LIMIT keeps each statement (and its locks and WAL) short.
DELETE_EXPIRED_SQL = """
DELETE FROM idempotency_keys
WHERE (scope, key) IN (
    SELECT scope, key FROM idempotency_keys
    WHERE expires_at <= now()
    ORDER BY expires_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED
)
"""

_ORDERS_KEY_CONSTRAINT = "uq_orders_idempotency"


class Inserted:
    """The order was written: this request owns the key."""


INSERTED = Inserted()


def _outcome(row: asyncpg.Record | None) -> Inserted | StoredResponse | None:
    if row is None:
        return None
    if row["created"]:
        return INSERTED
    return StoredResponse(
        fingerprint=bytes(row["fingerprint"]),
        status_code=row["status_code"],
        body=bytes(row["response_body"]),
        order_id=row["order_id"],
        expires_at=row["expires_at"],
    )


class IntakeStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def insert(
        self,
        accepted: AcceptedOrder,
        *,
        scope: str,
        key: str,
        expires_at: datetime,
        topic: str,
        request_id: str,
        event_headers: dict[str, str],
    ) -> Inserted | StoredResponse | None:
        """Write the order with its key, or say who has the key: its stored answer if
        visible, None if it was committed while this statement waited (read it again)."""
        order = accepted.order
        items = order.items
        try:
            row = await self._pool.fetchrow(
                INTAKE_SQL,
                scope,
                key,
                accepted.fingerprint,
                order.id,
                accepted.response_body,
                order.created_at,
                expires_at,
                order.store_id,
                order.device_id,
                order.currency,
                order.total_amount,
                request_id,
                [i.sku for i in items],
                [i.name for i in items],
                [i.quantity for i in items],
                [i.unit_price for i in items],
                accepted.event_id,
                topic,
                accepted.event_payload,
                orjson.dumps(event_headers).decode(),
            )
        except asyncpg.LockNotAvailableError:
            raise KeyLockedError from None
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == _ORDERS_KEY_CONSTRAINT:
                raise KeySpentError from None
            raise
        return _outcome(row)

    async def stored_response(self, scope: str, key: str) -> StoredResponse | None:
        row = await self._pool.fetchrow(STORED_RESPONSE_SQL, scope, key)
        stored = _outcome(row)
        assert not isinstance(stored, Inserted)
        return stored

    async def order_of_key(self, scope: str, key: str) -> uuid.UUID | None:
        order_id: uuid.UUID | None = await self._pool.fetchval(ORDER_OF_KEY_SQL, scope, key)
        return order_id

    async def delete_expired(self, batch_size: int) -> int:
        status: str = await self._pool.execute(DELETE_EXPIRED_SQL, batch_size)
        return int(status.rsplit(" ", 1)[-1])
