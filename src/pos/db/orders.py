"""Orders read back from their rows (asyncpg), as the domain's `Order`.

A redrive, the reconciler and the API's reads each rebuild an order's document from the
database; building the `Order` in one place keeps those documents identical to the one the
intake rendered (same fields, items in line order).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from pos.domain.orders import Item, Order
from pos.domain.status import OrderStatus

ITEMS_SQL = """
SELECT order_id, sku, name, quantity, unit_price FROM order_items
WHERE order_id = ANY($1::uuid[]) ORDER BY order_id, line_no
"""


async def items_of(
    conn: asyncpg.Connection, order_ids: Sequence[uuid.UUID]
) -> defaultdict[uuid.UUID, list[Item]]:
    """Each order's items in line order (an order without items: an empty list)."""
    items: defaultdict[uuid.UUID, list[Item]] = defaultdict(list)
    for row in await conn.fetch(ITEMS_SQL, order_ids):
        items[row["order_id"]].append(
            Item(row["sku"], row["name"], row["quantity"], row["unit_price"])
        )
    return items


def order_from_row(
    row: Mapping[str, Any] | asyncpg.Record,
    items: Sequence[Item],
    status: OrderStatus,
    processed_at: datetime | None = None,
) -> Order:
    """The order of an ``orders`` row (its id, store, device, currency and creation time),
    with the given items and status."""
    return Order(
        id=row["id"],
        store_id=row["store_id"],
        device_id=row["device_id"],
        currency=row["currency"],
        items=items,
        status=status,
        created_at=row["created_at"],
        processed_at=processed_at,
    )
