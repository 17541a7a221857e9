"""Orders as the rest of the system sees them: the JSON document of an order.

The API answers with it, stores it in the idempotency record and puts it in the
`order.created` event; the consumer forwards it to the third party; a redrive rebuilds it
from the database. One function renders it so those copies can never disagree.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pos.domain.status import OrderStatus


@dataclass(frozen=True, slots=True)
class Item:
    sku: str
    name: str
    quantity: int
    unit_price: int  # minor units (cents)

    @property
    def line_total(self) -> int:
        return self.quantity * self.unit_price


@dataclass(frozen=True, slots=True)
class Order:
    id: uuid.UUID
    store_id: str
    device_id: str
    currency: str
    items: Sequence[Item]
    status: OrderStatus
    created_at: datetime
    processed_at: datetime | None = None

    @property
    def total_amount(self) -> int:
        return total_amount(self.items)


def total_amount(items: Sequence[Item]) -> int:
    """Computed by the server, never taken from the till: integers, so no rounding at all."""
    return sum(item.line_total for item in items)


def iso_utc(moment: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``, millisecond precision: what JavaScript tills parse."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def items_document(items: Sequence[Item]) -> list[dict[str, Any]]:
    """The items' JSON shape (camelCase), in line order: the order's and the request's."""
    return [
        {"sku": i.sku, "name": i.name, "quantity": i.quantity, "unitPrice": i.unit_price}
        for i in items
    ]


def order_document(order: Order) -> dict[str, Any]:
    """The order's public JSON shape (camelCase, as the API documents it)."""
    return {
        "id": str(order.id),
        "storeId": order.store_id,
        "deviceId": order.device_id,
        "currency": order.currency,
        "items": items_document(order.items),
        "totalAmount": order.total_amount,
        "status": str(order.status),
        "createdAt": iso_utc(order.created_at),
        "processedAt": iso_utc(order.processed_at) if order.processed_at else None,
    }
