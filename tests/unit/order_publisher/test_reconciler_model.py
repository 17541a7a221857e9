"""The reconciler's decisions: its rhythm and the event it re-issues."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import orjson
import pytest

from pos.domain.intake import OrderRequest, accept
from pos.domain.orders import Item
from pos.order_publisher.reconciler_model import (
    StalePending,
    interval_seconds,
    plan_redeliveries,
)


@pytest.mark.parametrize(("after", "interval"), [(600, 60), (240, 60), (100, 25), (2, 0.5)])
def test_a_round_every_quarter_of_the_limit_at_most_a_minute_apart(
    after: float, interval: float
) -> None:
    assert interval_seconds(after) == interval


def test_the_re_issued_event_is_the_apis_event_with_a_new_id() -> None:
    request = OrderRequest("store-1", "till-1", "EUR", (Item("LATTE", "Latte", 2, 450),))
    created_at = datetime(2026, 12, 1, 9, 30, 15, 123456, tzinfo=UTC)
    accepted = accept(request, order_id=uuid.uuid4(), event_id=uuid.uuid4(), created_at=created_at)
    new_id = uuid.uuid4()
    stale = StalePending(accepted.order, "req-1", "00-trace-01")

    [again] = plan_redeliveries([stale], new_id=lambda: new_id)

    assert (again.order_id, again.event_id) == (accepted.order.id, new_id)
    old_id = str(accepted.event_id).encode()
    assert again.payload == accepted.event_payload.replace(old_id, str(new_id).encode())
    assert orjson.loads(again.payload)["eventId"] == str(new_id)
    assert again.headers == {"request-id": "req-1", "traceparent": "00-trace-01"}


def test_headers_the_order_no_longer_has_are_left_out() -> None:
    request = OrderRequest("s", "t", "EUR", (Item("A", "A", 1, 1),))
    accepted = accept(
        request, order_id=uuid.uuid4(), event_id=uuid.uuid4(), created_at=datetime.now(UTC)
    )
    redeliveries = plan_redeliveries([StalePending(accepted.order, None, None)] * 2)
    assert [r.headers for r in redeliveries] == [{}, {}]
    assert redeliveries[0].event_id != redeliveries[1].event_id
