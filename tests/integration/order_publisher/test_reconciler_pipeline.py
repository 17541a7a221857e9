"""Events that vanish from Kafka before any consumer read them still get delivered.

The real relay publishes the orders; their records are then deleted from the topic
(``AdminClient.delete_records``, as retention or a recreated topic would), before a
consumer ever ran. A relay whose reconciler re-issues events after 2 s, the real
`pos consumer` and the simulated third party then bring every order to SUCCESS.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

from pos.config import KafkaSettings
from pos.infra import kafka
from pos.scratch.processes import ServiceProcess
from pos.scratch.topics import drop_topics
from tests.integration.order_publisher.conftest import InProcessRelay
from tests.integration.order_publisher.pending_orders import Db, Event, insert_order
from tests.integration.simulated_third_party.launcher import ThirdParty

pytestmark = pytest.mark.asyncio

ORDERS = 20
AFTER = 2.0
# The limit, a round of the reconciler, and starting `pos consumer` on a loaded machine.
DELIVERED_WITHIN = AFTER + 0.5 + 25


@pytest.fixture
def topics(kafka_settings: KafkaSettings) -> Iterator[KafkaSettings]:
    order = f"test.reconcile.{uuid.uuid4().hex[:8]}"
    settings = kafka_settings.model_copy(update={"order_topic": order, "dlq_topic": f"{order}.dlq"})
    kafka.ensure_topics(settings, {settings.order_topic: 3, settings.dlq_topic: 1})
    yield settings
    drop_topics(settings, [settings.order_topic, settings.dlq_topic])


def watermarks(settings: KafkaSettings) -> dict[int, tuple[int, int]]:
    consumer = Consumer({"bootstrap.servers": settings.kafka_broker, "group.id": "watermarks"})
    try:
        meta = consumer.list_topics(settings.order_topic, timeout=10).topics[settings.order_topic]
        return {
            p: consumer.get_watermark_offsets(TopicPartition(settings.order_topic, p), timeout=10)
            for p in meta.partitions
        }
    finally:
        consumer.close()


def delete_all_records(settings: KafkaSettings) -> None:
    marks = watermarks(settings)
    client = kafka.admin(settings)
    request = [TopicPartition(settings.order_topic, p, high) for p, (_, high) in marks.items()]
    for future in client.delete_records(request).values():
        future.result(timeout=15)


def pending(db: Db, ids: list[uuid.UUID]) -> int:
    row = db.execute(
        "SELECT count(*) FROM orders WHERE id = ANY(%s) AND status <> 'SUCCESS'", (ids,)
    ).fetchone()
    assert row is not None
    return int(row[0])  # type: ignore[call-overload]


async def test_orders_whose_events_left_kafka_unread_are_delivered(
    db: Db,
    topics: KafkaSettings,
    database_url: str,
    tmp_path: Path,
) -> None:
    orders = [insert_order(db, topics.order_topic, events=(Event(),)) for _ in range(ORDERS)]
    ids = [o.order.id for o in orders]
    first = InProcessRelay(database_url, topics)  # the default limit: re-issues nothing
    try:
        await first.wait_until(
            lambda: db.execute("SELECT bool_and(published) FROM outbox").fetchone() == (True,),
            within=30,
            what="published",
        )
    finally:
        await first.close()
    assert sum(high for _, high in watermarks(topics).values()) == ORDERS
    delete_all_records(topics)
    assert all(low == high for low, high in watermarks(topics).values()), "nothing left to read"

    third_party = ThirdParty(tmp_path / "third-party").start()
    consumer = ServiceProcess(
        "consumer",
        env={
            "DATABASE_URL": database_url,
            "ORDER_TOPIC": topics.order_topic,
            "DLQ_TOPIC": topics.dlq_topic,
            "CONSUMER_GROUP": f"test-reconcile-{uuid.uuid4().hex[:8]}",
            "CONSUMER_METRICS_PORT": "0",
            "THIRD_PARTY_URL": third_party.url,
        },
        log_dir=tmp_path,
        name="consumer",
    ).start()
    started = time.monotonic()
    second = InProcessRelay(database_url, topics, redeliver_pending_after_seconds=AFTER)
    try:
        await second.wait_until(
            lambda: pending(db, ids) == 0, within=DELIVERED_WITHIN, what="all delivered"
        )
        print(f"all {ORDERS} delivered {time.monotonic() - started:.1f} s after the relay start")
        assert third_party.stats()["unique"] == ORDERS
        assert all(third_party.receipt_ref(str(i)) for i in ids)
        rows = db.execute(
            "SELECT count(*) FROM outbox WHERE aggregate_id = ANY(%s)", (ids,)
        ).fetchone()
        assert rows is not None
        assert int(rows[0]) >= 2 * ORDERS, "each order got a new event"  # type: ignore[call-overload]
    finally:
        await second.close()
        consumer.kill()
        third_party.stop()
