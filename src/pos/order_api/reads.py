"""Reading orders back: ``GET /orders/{id}`` and the keyset-paginated ``GET /orders``.

Items come in the same query as their order (arrays aggregated in a LATERAL subquery), so
a page of 200 orders is one round trip, not 201. The documents are rendered by
``pos.domain.orders.order_document``, the same function the intake uses.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg

from pos.db.orders import order_from_row
from pos.domain.orders import Item, order_document
from pos.domain.status import OrderStatus
from pos.order_api.pagination import Cursor

_SELECT = """
SELECT o.id, o.store_id, o.device_id, o.currency, o.status, o.created_at, o.processed_at,
       o.attempts, o.last_error, o.receipt_ref,
       i.skus, i.names, i.quantities, i.unit_prices
FROM orders o
CROSS JOIN LATERAL (
    SELECT array_agg(sku ORDER BY line_no) AS skus,
           array_agg(name ORDER BY line_no) AS names,
           array_agg(quantity ORDER BY line_no) AS quantities,
           array_agg(unit_price ORDER BY line_no) AS unit_prices
    FROM order_items WHERE order_id = o.id
) i
"""

# A device reads its own store's orders only; another store's order is "not found", so
# order ids cannot be probed across stores.
ORDER_BY_ID_SQL = _SELECT + "WHERE o.id = $1 AND o.store_id = $2"

# Four fixed statements rather than optional predicates (`$1 IS NULL OR status = $1`),
# so each one keeps a plan that walks the (store_id, created_at, id) index backwards.
_PAGE_ORDER = " ORDER BY o.created_at DESC, o.id DESC LIMIT $1"
_IN_STORE = "WHERE o.store_id = $2"
_PAGE_SQL = {
    (False, False): _SELECT + _IN_STORE + _PAGE_ORDER,
    (True, False): _SELECT + _IN_STORE + " AND o.status = $3" + _PAGE_ORDER,
    (False, True): _SELECT + _IN_STORE + " AND (o.created_at, o.id) < ($3, $4)" + _PAGE_ORDER,
    (True, True): _SELECT
    + _IN_STORE
    + " AND o.status = $3 AND (o.created_at, o.id) < ($4, $5)"
    + _PAGE_ORDER,
}


def _details(row: asyncpg.Record) -> dict[str, Any]:
    items = [
        Item(sku, name, quantity, unit_price)
        for sku, name, quantity, unit_price in zip(
            row["skus"] or (),
            row["names"] or (),
            row["quantities"] or (),
            row["unit_prices"] or (),
            strict=True,
        )
    ]
    order = order_from_row(row, items, OrderStatus(row["status"]), row["processed_at"])
    return {
        **order_document(order),
        "attempts": row["attempts"],
        "lastError": row["last_error"],
        "receiptRef": row["receipt_ref"],
    }


class OrderReader:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def get(self, order_id: uuid.UUID, *, store_id: str) -> dict[str, Any] | None:
        row = await self._pool.fetchrow(ORDER_BY_ID_SQL, order_id, store_id)
        return None if row is None else _details(row)

    async def page(
        self, *, store_id: str, status: OrderStatus | None, limit: int, after: Cursor | None
    ) -> tuple[list[dict[str, Any]], Cursor | None]:
        """One page of a store, newest first, and the cursor of the next one (None at the end)."""
        # One more than asked tells whether a next page exists.
        args: list[Any] = [limit + 1, store_id]
        if status is not None:
            args.append(str(status))
        if after is not None:
            args += [after.created_at, after.order_id]
        rows: Sequence[asyncpg.Record] = await self._pool.fetch(
            _PAGE_SQL[status is not None, after is not None], *args
        )
        page = rows[:limit]
        following = None
        if len(rows) > limit:
            last = page[-1]
            following = Cursor(last["created_at"], last["id"])
        return [_details(row) for row in page], following
