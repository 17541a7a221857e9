"""The relay against the real PostgreSQL and Kafka, in-process: delivery, wake-up, poison rows.

Each test inserts outbox rows the way the Order API does, runs the relay, and reads its
topic back to the high watermarks, so what is asserted is what Kafka really holds.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import pytest

from pos.config import KafkaSettings
from pos.messaging.kafka import (
    HEADER_EVENT_ID,
    HEADER_EVENT_TYPE,
    HEADER_REQUEST_ID,
    HEADER_TRACEPARENT,
)
from pos.order_publisher.admin import OutboxStats, list_parked, outbox_stats, requeue
from pos.scratch.outbox_rows import (
    Db,
    audit,
    count,
    insert,
    order_created,
    read_topic,
)
from pos.scratch.processes import free_port
from tests.integration.order_publisher.conftest import InProcessRelay, scrape

pytestmark = pytest.mark.asyncio

Relay = Callable[..., InProcessRelay]


async def test_every_committed_row_reaches_kafka_with_key_value_headers_and_is_marked(
    db: Db, topic: str, kafka_settings: KafkaSettings, relay: Relay
) -> None:
    events = [order_created(topic) for _ in range(500)]
    # Several commits, several batches: rows arrive while the relay is already draining.
    running = relay(publisher_batch_size=64)
    for start in range(0, len(events), 100):
        insert(db, events[start : start + 100])
    await running.wait_until(
        lambda: count(db, "published") == len(events), within=60, what="all published"
    )

    records = read_topic(kafka_settings.kafka_broker, topic)
    delivery = audit(records, events)
    assert delivery.missing == set()
    assert delivery.duplicates == 0
    by_id = {r.event_id: r for r in records}
    for e in events:
        record = by_id[e.event_id]
        assert record.key == str(e.order_id).encode()
        assert record.value == e.payload
        assert record.headers[HEADER_EVENT_ID] == str(e.event_id).encode()
        assert record.headers[HEADER_EVENT_TYPE] == b"order.created"
        assert record.headers[HEADER_REQUEST_ID] == e.headers["request-id"].encode()
        assert record.headers[HEADER_TRACEPARENT] == e.headers["traceparent"].encode()
    # One relay keeps each partition in outbox order.
    assert delivery.out_of_order == 0
    row = db.execute(
        "SELECT count(*) FILTER (WHERE published_at IS NULL OR published_at < created_at),"
        " max(attempts) FROM outbox"
    ).fetchone()
    assert row == (0, 0)


async def test_notify_wakes_an_idle_relay_long_before_its_poll(
    db: Db, topic: str, relay: Relay
) -> None:
    # Polling once a minute: a row published within the deadline was announced by NOTIFY.
    running = relay(publisher_poll_interval=60)
    await running.wait_until(lambda: listening(db), within=20, what="listening")
    for _ in range(3):
        (outbox_id,) = insert(db, [order_created(topic)])
        await running.wait_until(
            partial(published, db, outbox_id), within=20, what="woken by NOTIFY"
        )


def published(db: Db, outbox_id: int) -> bool:
    return count(db, f"id = {outbox_id} AND published") == 1


def listening(db: Db) -> bool:
    row = db.execute(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND query LIKE 'LISTEN%outbox_new%'"
    ).fetchone()
    return row == (1,)


async def test_polling_alone_delivers_when_notify_is_off(db: Db, topic: str, relay: Relay) -> None:
    running = relay(publisher_listen=False, publisher_poll_interval=0.2)
    insert(db, [order_created(topic) for _ in range(20)])
    await running.wait_until(lambda: count(db, "published") == 20, within=20, what="polled")


async def test_poison_rows_are_parked_after_their_retries_while_the_others_flow(
    db: Db, topic: str, kafka_settings: KafkaSettings, relay: Relay
) -> None:
    good = [order_created(topic) for _ in range(60)]
    too_large = [order_created(topic, payload=b"x" * 2_000_000) for _ in range(2)]  # over 1 MB
    insert(db, good[:30])
    large_ids = insert(db, too_large)
    insert(db, good[30:])

    metrics_port = free_port()
    running = relay(
        publisher_max_attempts=3,
        publisher_delivery_timeout_ms=4000,
        publisher_batch_size=16,
        publisher_metrics_port=metrics_port,
    )
    # Metrics are updated just after each commit: wait for both to tell the same story.
    await running.wait_until(
        lambda: (
            count(db, "parked_at IS NOT NULL") == 2
            and count(db, "published") == 60
            and scrape(metrics_port).get("pos_publisher_events_parked_total") == 2
        ),
        within=60,
        what="poison parked and the rest published",
    )
    parked = db.execute(
        "SELECT id, attempts, last_error FROM outbox WHERE parked_at IS NOT NULL ORDER BY id"
    ).fetchall()
    assert [(i, n) for i, n, _ in parked] == [(large_ids[0], 3), (large_ids[1], 3)]
    assert all("MSG_SIZE_TOO_LARGE" in str(error) for _, _, error in parked)
    # Refusals are about the rows: the broker never counted as down.
    metrics = scrape(metrics_port)
    assert metrics["pos_publisher_broker_available"] == 1
    assert metrics["pos_publisher_events_parked_total"] == 2
    assert metrics['pos_publisher_delivery_failures_total{kind="message"}'] == 6
    assert 'pos_publisher_delivery_failures_total{kind="broker"}' not in metrics
    assert metrics["pos_publisher_events_published_total"] == 60
    assert [p.id for p in list_parked(db)] == large_ids

    # The operator fixes one row and re-queues it alone; it flows, the other stays parked.
    db.execute("UPDATE outbox SET payload = %s WHERE id = %s", (good[0].payload, large_ids[0]))
    assert requeue(db, [large_ids[0]]) == 1
    await running.wait_until(partial(published, db, large_ids[0]), within=20, what="re-queued")
    assert [p.id for p in list_parked(db)] == [large_ids[1]]
    assert outbox_stats(db) == OutboxStats(backlog=0, oldest_unpublished_age_seconds=None, parked=1)

    delivery = audit(read_topic(kafka_settings.kafka_broker, topic), [*good, too_large[0]])
    assert delivery.missing == set()
    assert delivery.duplicates == 0


async def test_requeue_all_gives_every_parked_row_fresh_attempts(db: Db, topic: str) -> None:
    ids = insert(db, [order_created(topic) for _ in range(3)])
    db.execute(
        "UPDATE outbox SET parked_at = now(), attempts = 5, last_error = 'x' WHERE id = ANY(%s)",
        (ids[:2],),
    )
    assert outbox_stats(db).parked == 2
    assert requeue(db) == 2
    rows = db.execute("SELECT attempts, parked_at, last_error FROM outbox ORDER BY id").fetchall()
    assert rows == [(0, None, "x"), (0, None, "x"), (0, None, None)]
    assert requeue(db) == 0


async def test_the_relay_survives_losing_its_database_connections(
    db: Db, topic: str, kafka_settings: KafkaSettings, relay: Relay
) -> None:
    events = [order_created(topic) for _ in range(200)]
    running = relay(publisher_poll_interval=0.2)
    insert(db, events[:100])
    await running.wait_until(lambda: count(db, "published") == 100, within=30, what="published")

    # As a PostgreSQL restart would: every session of the relay ends, the listener's too.
    killed = db.execute(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        " AND (application_name = 'pos-publisher' OR query LIKE 'LISTEN%')"
    ).fetchone()
    assert killed is not None
    assert int(str(killed[0])) >= 3  # two claim sessions and the listener
    insert(db, events[100:])
    await running.wait_until(
        lambda: count(db, "published") == 200 and listening(db),
        within=30,
        what="reconnected",
    )
    delivery = audit(read_topic(kafka_settings.kafka_broker, topic), events)
    assert delivery.missing == set()
