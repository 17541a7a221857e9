"""The reconciler against the real outbox: who gets a new event, once, with two publishers.

Timestamps are set in the past instead of waited for: with a limit of a minute, an order
published five minutes ago is due, one published ten seconds ago is not.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import orjson
import pytest

from pos.config import DatabaseSettings
from pos.db.pool import create_pool
from pos.domain.events import decode_event
from pos.domain.status import OrderStatus
from pos.order_publisher.metrics import PublisherMetrics
from pos.order_publisher.reconciler import reconcile_once
from pos.order_publisher.reconciler_store import ReconcilerStore
from tests.integration.order_publisher.pending_orders import Db, Event, insert_order, outbox_rows

pytestmark = pytest.mark.asyncio

AFTER = 60.0
LONG_AGO = 300.0


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(DatabaseSettings(database_url=database_url), min_size=1, max_size=4)
    yield pool
    await pool.close()


async def test_only_orders_pending_long_after_their_event_get_a_new_one(
    db: Db, pool: asyncpg.Pool
) -> None:
    old = {"created_ago": 2 * LONG_AGO}
    lost = insert_order(db, "t.old", **old, events=(Event(published_ago=LONG_AGO),))
    # Its rows all deleted by the outbox retention: nothing waits for it either.
    forgotten = insert_order(db, "t.old", **old, events=())
    # Re-enqueued once before, long ago, and lost again.
    twice = insert_order(
        db, "t.old", **old, events=(Event(published_ago=LONG_AGO), Event(published_ago=LONG_AGO))
    )
    left_alone = [
        insert_order(db, "t.old", **old, events=(Event(published_ago=10),)),  # recent
        insert_order(db, "t.old", **old, events=(Event(),)),  # still waiting to be sent
        insert_order(db, "t.old", **old, events=(Event(parked=True),)),  # waits for a person
        # Published long ago, then re-enqueued: the new row still waits.
        insert_order(db, "t.old", **old, events=(Event(published_ago=LONG_AGO), Event())),
        insert_order(db, "t.old", events=()),  # created just now (no row: cannot happen)
        *(
            insert_order(db, "t.old", status=final, **old, events=(Event(published_ago=LONG_AGO),))
            for final in (OrderStatus.SUCCESS, OrderStatus.FAILED)
        ),
    ]
    metrics = PublisherMetrics()
    store = ReconcilerStore(pool, "t.new")

    assert await reconcile_once(store, metrics, after_seconds=AFTER, batch=2) == 3
    assert metrics.redelivered._value.get() == 3

    for accepted in (lost, forgotten, twice):
        rows = outbox_rows(db, accepted.order.id)
        event_id, topic, payload, headers, published = rows[-1]
        assert (topic, published) == ("t.new", False)
        assert event_id not in {row[0] for row in rows[:-1]}, "a new event id"
        event = decode_event(payload)  # type: ignore[arg-type]
        assert event.event_id == event_id
        # The API's event, byte for byte, but for the event id.
        api_event = orjson.loads(accepted.event_payload)
        assert orjson.loads(payload) == {**api_event, "eventId": str(event_id)}  # type: ignore[arg-type]
        # The order's request id, and its trace while one of its rows is left.
        expected = {"request-id", "traceparent"} if accepted is not forgotten else {"request-id"}
        assert set(headers) == expected  # type: ignore[arg-type]
    for accepted in left_alone:
        assert all(row[1] == "t.old" for row in outbox_rows(db, accepted.order.id))

    assert await reconcile_once(store, metrics, after_seconds=AFTER) == 0, "once per interval"


async def test_two_publishers_never_re_enqueue_an_order_twice(
    db: Db, pool: asyncpg.Pool, database_url: str
) -> None:
    orders = [
        insert_order(db, "t.old", created_ago=2 * LONG_AGO, events=(Event(published_ago=LONG_AGO),))
        for _ in range(60)
    ]
    other = await create_pool(DatabaseSettings(database_url=database_url), min_size=1, max_size=4)
    try:
        stores = [ReconcilerStore(p, "t.new") for p in (pool, other) for _ in range(3)]
        metrics = PublisherMetrics()
        done = await asyncio.gather(
            *(reconcile_once(s, metrics, after_seconds=AFTER, batch=7) for s in stores)
        )
    finally:
        await other.close()
    assert sum(done) == len(orders)
    new_rows = db.execute(
        "SELECT aggregate_id, count(*) FROM outbox WHERE topic = 't.new' GROUP BY aggregate_id"
    ).fetchall()
    per_order: dict[uuid.UUID, int] = {row[0]: row[1] for row in new_rows}  # type: ignore[misc]
    assert per_order == {o.order.id: 1 for o in orders}
