"""Outbox rows for the publisher's tests and benchmark, and reading topics back.

Rows are written with plain SQL, as the Order API writes them (its code is not needed to
test the relay), with realistic ~500-byte `order.created` payloads. Topics are read back
to their high watermarks, so duplicates are counted, not just presence.
"""

from __future__ import annotations

import collections
import json
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg
from confluent_kafka import Consumer, Message, TopicPartition

from pos.domain.events import ORDER_CREATED, encode_order_created
from pos.domain.orders import Item, Order, order_document
from pos.domain.status import OrderStatus
from pos.messaging.kafka import HEADER_EVENT_ID

Db = psycopg.Connection[tuple[object, ...]]


@dataclass(frozen=True)
class Event:
    topic: str
    event_id: uuid.UUID = field(default_factory=uuid.uuid4)
    order_id: uuid.UUID = field(default_factory=uuid.uuid4)
    payload: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def order_created(topic: str, *, payload: bytes | None = None) -> Event:
    """A realistic event: the envelope the API encodes, with request id and trace headers."""
    event_id, order_id, now = uuid.uuid4(), uuid.uuid4(), datetime.now(UTC)
    order = Order(
        id=order_id,
        store_id="store-12",
        device_id="till-3",
        currency="EUR",
        items=[Item("LATTE-L", "Latte large", 2, 450), Item("CROIS", "Croissant", 1, 320)],
        status=OrderStatus.PENDING,
        created_at=now,
    )
    return Event(
        topic=topic,
        event_id=event_id,
        order_id=order_id,
        payload=payload
        if payload is not None
        else encode_order_created(event_id, now, order_document(order)),
        headers={
            "request-id": uuid.uuid4().hex,
            "traceparent": f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01",
        },
    )


INSERT_SQL = (
    "INSERT INTO outbox (event_id, aggregate_id, event_type, topic, payload, headers)"
    " VALUES (%s, %s, %s, %s, %s, %s)"
)


def _values(e: Event) -> tuple[object, ...]:
    return (e.event_id, e.order_id, ORDER_CREATED, e.topic, e.payload, json.dumps(e.headers))


def insert(db: Db, events: Iterable[Event]) -> list[int]:
    """One transaction (one NOTIFY), like an API commit; returns the outbox ids in order."""
    with db.transaction(), db.cursor() as cur:
        ids = []
        for e in events:
            row = cur.execute(INSERT_SQL + " RETURNING id", _values(e)).fetchone()
            assert row is not None
            ids.append(int(str(row[0])))
        return ids


def insert_rows(cur: psycopg.Cursor[tuple[object, ...]], events: Iterable[Event]) -> None:
    """Many rows in the cursor's transaction, one INSERT each as the API writes them (COPY
    would be faster but bypasses the buffer cache, which makes the relay's first read of
    every page unrealistically slow)."""
    cur.executemany(INSERT_SQL, [_values(e) for e in events])


def insert_backlog(db: Db, topic: str, n: int) -> list[Event]:
    """``n`` rows committed at once (one NOTIFY)."""
    events = [order_created(topic) for _ in range(n)]
    with db.transaction(), db.cursor() as cur:
        insert_rows(cur, events)
    return events


def count(db: Db, where: str) -> int:
    row = db.execute(f"SELECT count(*) FROM outbox WHERE {where}").fetchone()
    assert row is not None
    return int(str(row[0]))


def wait_until(
    check: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.05
) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not {what} after {timeout} s")
        time.sleep(interval)


@dataclass(frozen=True)
class Record:
    key: bytes
    value: bytes
    headers: dict[str, bytes]
    partition: int
    offset: int
    timestamp_ms: int  # the producer's, or the broker's append time (LogAppendTime topics)

    @property
    def event_id(self) -> uuid.UUID:
        return uuid.UUID(self.headers[HEADER_EVENT_ID].decode())


def _reader(bootstrap: str) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test-read-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "log_level": 3,
        }
    )


def _high_watermarks(consumer: Consumer, topic: str) -> dict[int, int]:
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    return {
        p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
        for p in partitions
    }


def _headers(msg: Message) -> dict[str, bytes]:
    raw = msg.headers() or []
    pairs = raw.items() if isinstance(raw, dict) else raw
    return {k: v if isinstance(v, bytes) else (v or "").encode() for k, v in pairs}


def topic_size(bootstrap: str, topic: str) -> int:
    """How many records the topic holds (all partitions)."""
    consumer = _reader(bootstrap)
    try:
        return sum(_high_watermarks(consumer, topic).values())
    finally:
        consumer.close()


def read_topic(bootstrap: str, topic: str, timeout: float = 30) -> list[Record]:
    """Every record on the topic now, in partition order: read up to the high watermarks."""
    consumer = _reader(bootstrap)
    try:
        ends = _high_watermarks(consumer, topic)
        consumer.assign([TopicPartition(topic, p, 0) for p in ends])
        records: list[Record] = []
        done = {p for p, end in ends.items() if end == 0}
        deadline = time.monotonic() + timeout
        while len(done) < len(ends):
            if time.monotonic() > deadline:
                raise AssertionError(f"reading {topic}: partitions {set(ends) - done} unfinished")
            for msg in consumer.consume(1000, timeout=0.5):
                error = msg.error()
                assert error is None, error
                partition, offset = msg.partition(), msg.offset()
                assert partition is not None
                assert offset is not None
                records.append(
                    Record(
                        key=msg.key() or b"",
                        value=msg.value() or b"",
                        headers=_headers(msg),
                        partition=partition,
                        offset=offset,
                        timestamp_ms=msg.timestamp()[1],
                    )
                )
                if offset + 1 >= ends[partition]:
                    done.add(partition)
        return records
    finally:
        consumer.close()


@dataclass(frozen=True)
class Delivery:
    """What arrived on a topic, against what was committed to the outbox."""

    missing: set[uuid.UUID]
    duplicates: int  # records beyond the first copy of each event
    records: int
    # Records that arrived after a record of a *later* outbox row in the same partition.
    out_of_order: int

    @property
    def duplicate_share(self) -> float:
        return self.duplicates / self.records if self.records else 0.0


def audit(records: list[Record], events: list[Event]) -> Delivery:
    position = {e.event_id: i for i, e in enumerate(events)}
    copies = collections.Counter(r.event_id for r in records)
    newest: dict[int, int] = {}
    out_of_order = 0
    for r in sorted(records, key=lambda r: (r.partition, r.offset)):
        index = position.get(r.event_id, -1)
        if index < newest.get(r.partition, -1):
            out_of_order += 1
        newest[r.partition] = max(index, newest.get(r.partition, -1))
    return Delivery(
        missing=set(position) - set(copies),
        duplicates=sum(n - 1 for n in copies.values()),
        records=len(records),
        out_of_order=out_of_order,
    )
