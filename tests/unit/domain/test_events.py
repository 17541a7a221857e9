"""The event envelope round-trips and refuses what it cannot read."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import orjson
import pytest

from pos.domain.events import (
    ORDER_CREATED,
    SCHEMA_VERSION,
    MalformedEventError,
    decode_event,
    encode_order_created,
)
from pos.domain.status import OrderStatus, can_transition


def test_round_trip() -> None:
    event_id, order_id = uuid.uuid4(), uuid.uuid4()
    at = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    raw = encode_order_created(event_id, at, {"id": str(order_id), "totalAmount": 900})
    data = orjson.loads(raw)
    assert set(data) == {"eventId", "type", "schemaVersion", "occurredAt", "order"}
    assert data["schemaVersion"] == SCHEMA_VERSION == 1
    assert data["occurredAt"] == "2026-11-25T12:00:00.000Z"  # as the API's createdAt
    event = decode_event(raw)
    assert event.event_id == event_id
    assert event.type == ORDER_CREATED
    assert event.order_id == order_id


@pytest.mark.parametrize(
    "raw",
    [
        None,
        b"",
        b"not json",
        b"[]",
        b'{"eventId": "x"}',
        b'{"eventId": "00000000-0000-0000-0000-000000000000", "type": "t", "occurredAt": "",'
        b' "order": {"id": "nope"}}',
        b'{"eventId": "00000000-0000-0000-0000-000000000000", "type": "t", "occurredAt": "",'
        b' "schemaVersion": "1", "order": {"id": "00000000-0000-0000-0000-000000000001"}}',
    ],
)
def test_malformed(raw: bytes | None) -> None:
    with pytest.raises(MalformedEventError):
        decode_event(raw)


def test_an_event_without_schema_version_is_version_1() -> None:
    """Events written before the field existed are still read."""
    raw = (
        b'{"eventId": "00000000-0000-0000-0000-000000000000", "type": "order.created",'
        b' "occurredAt": "2026-11-25T12:00:00Z",'
        b' "order": {"id": "00000000-0000-0000-0000-000000000001"}}'
    )
    assert decode_event(raw).schema_version == 1


def test_status_rules() -> None:
    assert can_transition(OrderStatus.PENDING, OrderStatus.SUCCESS)
    assert can_transition(OrderStatus.PENDING, OrderStatus.FAILED)
    assert can_transition(OrderStatus.FAILED, OrderStatus.PENDING)
    assert not can_transition(OrderStatus.SUCCESS, OrderStatus.PENDING)
    assert not can_transition(OrderStatus.SUCCESS, OrderStatus.FAILED)
    assert OrderStatus.SUCCESS.is_final
    assert not OrderStatus.PENDING.is_final
