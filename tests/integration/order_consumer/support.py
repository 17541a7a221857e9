"""Orders, events and consumers for the consumer's tests.

Orders are inserted with SQL (as the API would commit them) and their events produced to
Kafka directly (as the publisher would), so these tests depend on neither.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from pos.config import ConsumerSettings, DatabaseSettings, KafkaSettings, ThirdPartySettings
from pos.domain.events import encode_order_created
from pos.domain.orders import Item, Order, order_document
from pos.domain.status import OrderStatus
from pos.messaging.kafka import make_consumer, make_producer
from pos.order_consumer.runner import consume

DB = psycopg.Connection[tuple[Any, ...]]


def insert_orders(db: DB, n: int, status: OrderStatus = OrderStatus.PENDING) -> list[Order]:
    now = datetime.now(UTC)
    orders = [
        Order(
            id=uuid.uuid4(),
            store_id="store-1",
            device_id=f"till-{i % 7}",
            currency="EUR",
            items=[Item("LATTE-L", "Latte", 2, 450), Item("CROI", "Croissant", 1, 250)],
            status=status,
            created_at=now,
        )
        for i in range(n)
    ]
    with db.cursor() as cur:
        cur.executemany(
            "INSERT INTO orders (id, store_id, device_id, currency, total_amount, status,"
            " idempotency_scope, idempotency_key, created_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, 'public', %s, %s)",
            [
                (
                    o.id,
                    o.store_id,
                    o.device_id,
                    o.currency,
                    o.total_amount,
                    str(status),
                    str(uuid.uuid4()),
                    o.created_at,
                )
                for o in orders
            ],
        )
        cur.executemany(
            "INSERT INTO order_items (order_id, line_no, sku, name, quantity, unit_price)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            [
                (o.id, line, i.sku, i.name, i.quantity, i.unit_price)
                for o in orders
                for line, i in enumerate(o.items, start=1)
            ],
        )
    return orders


def publish(
    kafka: KafkaSettings, orders: Sequence[Order], *, partition: int | None = None
) -> list[tuple[int, int]]:
    """Produce each order's event (acks=all); returns (partition, offset) of each."""
    return produce_raw(
        kafka,
        [
            (
                str(o.id).encode(),
                encode_order_created(uuid.uuid4(), o.created_at, order_document(o)),
            )
            for o in orders
        ],
        partition=partition,
    )


def produce_raw(
    kafka: KafkaSettings,
    records: Sequence[tuple[bytes | None, bytes]],
    *,
    partition: int | None = None,
) -> list[tuple[int, int]]:
    producer = make_producer(kafka)
    acked: dict[int, tuple[int, int]] = {}

    def on_delivery(i: int) -> Callable[[KafkaError | None, Message], None]:
        def report(err: KafkaError | None, msg: Message) -> None:
            assert err is None, err
            acked[i] = (msg.partition(), msg.offset())

        return report

    for i, (key, value) in enumerate(records):
        extra = {} if partition is None else {"partition": partition}
        producer.produce(
            kafka.order_topic, key=key, value=value, on_delivery=on_delivery(i), **extra
        )
    assert producer.flush(30) == 0
    return [acked[i] for i in range(len(records))]


def statuses(db: DB, orders: Sequence[Order]) -> dict[uuid.UUID, str]:
    rows = db.execute(
        "SELECT id, status FROM orders WHERE id = ANY(%s)", ([o.id for o in orders],)
    ).fetchall()
    return {row[0]: row[1] for row in rows}


def count_status(db: DB, status: str) -> int:
    row = db.execute("SELECT count(*) FROM orders WHERE status = %s", (status,)).fetchone()
    assert row is not None
    return int(row[0])


async def eventually(check: Callable[[], bool], within: float = 30, what: str = "") -> None:
    """Wait for a condition with a deadline (never a fixed sleep)."""
    deadline = time.monotonic() + within
    while not _holds(check):
        if time.monotonic() > deadline:
            raise AssertionError(f"not {what or 'true'} after {within} s")
        await asyncio.sleep(0.05)


def _holds(check: Callable[[], bool]) -> bool:
    try:
        return check()
    except (httpx.HTTPError, OSError):  # a server that is not listening yet
        return False


def committed(kafka: KafkaSettings, group: str, partitions: Sequence[int]) -> dict[int, int]:
    """The group's committed positions (-1001 = none), asked by a consumer that never joins."""
    probe = make_consumer(group, kafka)
    try:
        result = probe.committed(
            [TopicPartition(kafka.order_topic, p) for p in partitions], timeout=10
        )
        return {tp.partition: tp.offset for tp in result}
    finally:
        probe.close()


def scrape(port: int) -> str:
    return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text


def read_topic(kafka: KafkaSettings, topic: str, expect: int, timeout: float = 20) -> list[Message]:
    reader: Consumer = make_consumer(f"reader-{uuid.uuid4().hex[:8]}", kafka)
    reader.subscribe([topic])
    messages: list[Message] = []
    deadline = time.monotonic() + timeout
    try:
        while len(messages) < expect and time.monotonic() < deadline:
            messages += [m for m in reader.consume(100, timeout=0.5) if m.error() is None]
    finally:
        reader.close()
    return messages


@contextlib.asynccontextmanager
async def running_consumer(
    kafka: KafkaSettings, third_party_url: str, **settings: Any
) -> AsyncIterator[ConsumerSettings]:
    """The consumer in this test's event loop; stopped (drained, committed) on exit."""
    consumer_settings = ConsumerSettings(
        **{
            "consumer_group": f"test-{uuid.uuid4().hex[:8]}",
            "consumer_metrics_port": 0,
            "consumer_commit_interval_seconds": 0.1,
            "consumer_retry_base_seconds": 0.01,
            "consumer_retry_max_seconds": 0.05,
            **settings,
        }
    )
    third_party = ThirdPartySettings(
        third_party_url=third_party_url, third_party_timeout_seconds=1.0
    )
    stop = asyncio.Event()
    task = asyncio.create_task(
        consume(stop, consumer_settings, third_party, kafka, DatabaseSettings())
    )
    try:
        yield consumer_settings
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
