"""`POST /orders`: one transaction writes the order, its items, the event and the replay."""

from __future__ import annotations

import uuid

import httpx
import orjson
import psycopg

from pos.config import KafkaSettings
from pos.domain.events import decode_event
from pos.domain.fingerprint import fingerprint
from tests.integration.order_api.conftest import counts, new_key, order_body

DB = psycopg.Connection[tuple[object, ...]]


async def test_created_order_is_answered_and_stored_with_its_event(
    api: httpx.AsyncClient, db: DB, kafka_settings: KafkaSettings
) -> None:
    key = new_key()
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    response = await api.post(
        "/orders",
        json=order_body(),
        headers={
            "Idempotency-Key": key,
            "X-Request-ID": "till-7-req-1",
            "traceparent": traceparent,
        },
    )

    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-request-id"] == "till-7-req-1"
    assert "idempotent-replayed" not in response.headers
    order = response.json()
    order_id = uuid.UUID(order["id"])
    assert response.headers["location"] == f"/orders/{order_id}"
    assert order["status"] == "PENDING"
    assert order["totalAmount"] == 2 * 450 + 250
    assert order["processedAt"] is None
    assert {k: order[k] for k in order_body()} == order_body()
    assert counts(db) == {"orders": 1, "order_items": 2, "outbox": 1, "idempotency_keys": 1}

    row = db.execute(
        "SELECT status, total_amount, idempotency_scope, idempotency_key, request_id "
        "FROM orders WHERE id = %s",
        (order_id,),
    ).fetchone()
    assert row == ("PENDING", 1150, "store-1/till-7", key, "till-7-req-1")
    lines = db.execute(
        "SELECT line_no, sku, name, quantity, unit_price FROM order_items "
        "WHERE order_id = %s ORDER BY line_no",
        (order_id,),
    ).fetchall()
    assert lines == [(1, "LATTE-L", "Latte", 2, 450), (2, "CROISSANT", "Croissant", 1, 250)]

    record = db.execute(
        "SELECT status_code, response_body, fingerprint, order_id FROM idempotency_keys "
        "WHERE scope = 'store-1/till-7' AND key = %s",
        (key,),
    ).fetchone()
    assert record is not None
    assert record[0] == 201
    assert bytes(record[1]) == response.content  # the replay is these very bytes
    assert bytes(record[2]) == fingerprint(order_body())
    assert record[3] == order_id

    event_row = db.execute(
        "SELECT event_id, aggregate_id, event_type, topic, payload, headers, published FROM outbox"
    ).fetchone()
    assert event_row is not None
    event_id, aggregate_id, event_type, topic, payload, headers, published = event_row
    assert (aggregate_id, event_type, topic, published) == (
        order_id,
        "order.created",
        kafka_settings.order_topic,
        False,
    )
    event = decode_event(bytes(payload))  # type: ignore[arg-type]
    assert event.event_id == event_id
    assert event.order == order
    assert isinstance(headers, dict)
    assert headers["request-id"] == "till-7-req-1"
    # Our own span in the caller's trace.
    assert headers["traceparent"].split("-")[1] == "4bf92f3577b34da6a3ce929d0e0e4736"


async def test_request_id_and_trace_are_created_when_absent(api: httpx.AsyncClient, db: DB) -> None:
    response = await api.post("/orders", json=order_body(), headers={"Idempotency-Key": new_key()})
    assert response.status_code == 201
    request_id = response.headers["x-request-id"]
    headers = db.execute("SELECT headers FROM outbox").fetchone()[0]  # type: ignore[index]
    assert headers["request-id"] == request_id  # type: ignore[index]
    assert len(headers["traceparent"]) == 55  # type: ignore[index]


async def test_whitespace_and_key_order_do_not_make_another_request(
    api: httpx.AsyncClient, db: DB
) -> None:
    key = new_key()
    body = order_body()
    first = await api.post(
        "/orders",
        content=orjson.dumps(body),
        headers={"Idempotency-Key": key, "Content-Type": "application/json"},
    )
    reordered = {k: body[k] for k in reversed(list(body))}
    second = await api.post(
        "/orders",
        content=orjson.dumps(reordered, option=orjson.OPT_INDENT_2),
        headers={"Idempotency-Key": key, "Content-Type": "application/json"},
    )
    assert first.status_code == second.status_code == 201
    assert second.headers["idempotent-replayed"] == "true"
    assert second.content == first.content
    assert counts(db)["orders"] == 1
