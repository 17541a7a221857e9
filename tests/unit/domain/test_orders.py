"""The order document: server-computed totals and the contract's field names."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from pos.domain.orders import Item, Order, iso_utc, order_document, total_amount
from pos.domain.status import OrderStatus

items = st.lists(
    st.builds(
        Item,
        sku=st.text(min_size=1, max_size=8),
        name=st.text(max_size=8),
        quantity=st.integers(1, 10_000),
        unit_price=st.integers(0, 10**9),
    ),
    min_size=1,
    max_size=20,
)


@given(items)
def test_total_is_the_exact_integer_sum(lines: list[Item]) -> None:
    assert total_amount(lines) == sum(i.quantity * i.unit_price for i in lines)


def test_document_shape() -> None:
    created = datetime(2026, 11, 25, 12, 30, 0, 123456, tzinfo=UTC)
    order = Order(
        id=uuid.UUID(int=1),
        store_id="store-1",
        device_id="till-7",
        currency="EUR",
        items=[Item("LATTE-L", "Latte", 2, 450), Item("CROISSANT", "Croissant", 1, 250)],
        status=OrderStatus.PENDING,
        created_at=created,
    )
    doc = order_document(order)
    assert doc == {
        "id": "00000000-0000-0000-0000-000000000001",
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


def test_iso_utc_converts_offsets() -> None:
    moment = datetime(2026, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=1)))
    assert iso_utc(moment) == "2026-01-01T00:00:00.000Z"
