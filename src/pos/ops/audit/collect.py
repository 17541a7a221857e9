"""Thin collectors: read PostgreSQL, Kafka and the third party into `Facts`, nothing more.

The figures `pos status` shows too (watermarks, the third party's counters, orders by
status and the outbox backlog) are read through `pos.ops.observe`, as it reads them.

Kafka is read with a throw-away consumer that assigns every partition from its low to its
high watermark and never commits, so an audit leaves no group behind and never moves the
order consumer's offsets.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
import psycopg
from confluent_kafka import KafkaError, Message, TopicPartition

from pos.config import DatabaseSettings, KafkaSettings, ThirdPartySettings
from pos.domain.events import MalformedEventError, decode_event
from pos.infra.kafka import admin
from pos.messaging.kafka import make_consumer
from pos.ops import observe
from pos.ops.audit.facts import (
    KafkaFacts,
    OrderFact,
    OutboxFacts,
    ParkedEventFact,
    ThirdPartyFacts,
)
from pos.ops.ledger import content_hash

KAFKA_READ_TIMEOUT = 120.0


class CollectError(RuntimeError):
    """A source could not be read completely: the audit cannot conclude."""


ORDERS_SQL = """
SELECT o.id::text, o.idempotency_scope, o.idempotency_key, o.status, o.last_error,
       o.store_id, o.device_id, o.currency, o.created_at,
       CASE WHEN o.status <> 'PENDING'
            THEN GREATEST(o.updated_at, COALESCE(o.processed_at, o.updated_at)) END,
       COALESCE(
         (SELECT json_agg(json_build_object('sku', i.sku, 'name', i.name,
                 'quantity', i.quantity, 'unitPrice', i.unit_price) ORDER BY i.line_no)
          FROM order_items i WHERE i.order_id = o.id),
         '[]'::json)
FROM orders o
"""


def orders(dsn: str) -> tuple[OrderFact, ...]:
    with psycopg.connect(dsn, connect_timeout=10) as conn:
        rows = conn.execute(ORDERS_SQL).fetchall()
    return tuple(
        OrderFact(
            id=oid,
            scope=scope,
            key=key,
            status=status,
            last_error=error,
            content_hash=content_hash(store, device, currency, items),
            created_at=created,
            final_at=final_at,
        )
        for oid, scope, key, status, error, store, device, currency, created, final_at, items in (
            rows
        )
    )


def outbox(dsn: str) -> OutboxFacts:
    with psycopg.connect(dsn, connect_timeout=10) as conn:
        waiting = conn.execute(
            "SELECT aggregate_id::text FROM outbox WHERE NOT published AND parked_at IS NULL"
        ).fetchall()
        parked = conn.execute(
            "SELECT id, aggregate_id::text, attempts, last_error FROM outbox "
            "WHERE parked_at IS NOT NULL AND NOT published ORDER BY id"
        ).fetchall()
    return OutboxFacts(
        unpublished=tuple(r[0] for r in waiting),
        parked=tuple(ParkedEventFact(r[0], r[1], r[2], r[3]) for r in parked),
    )


HELD_AT_CUT_SQL = """
SELECT count(*) FROM outbox
WHERE created_at <= to_timestamp(%(after)s)
  AND (NOT published OR published_at >= to_timestamp(%(before)s))
"""


def held_at_cuts(dsn: str, cuts: Sequence[tuple[float, float]]) -> tuple[int, ...]:
    """Per cut of the relays' sessions (epoch seconds just before and just after it), the
    outbox rows that existed and were not yet published: all a relay could hold then."""
    with psycopg.connect(dsn, connect_timeout=10) as conn:
        counts = []
        for before, after in cuts:
            row = conn.execute(HELD_AT_CUT_SQL, {"before": before, "after": after}).fetchone()
            counts.append(int(row[0]) if row else 0)
    return tuple(counts)


def _order_id(msg: Message) -> str:
    """The order id of an event or a dead letter: the key, else the event inside."""
    key = msg.key()
    if key:
        return bytes(key).decode()
    try:
        return str(decode_event(msg.value()).order_id)
    except MalformedEventError:
        return f"<unreadable message at {msg.topic()}[{msg.partition()}]@{msg.offset()}>"


def read_topic(
    settings: KafkaSettings, topic: str, seen: Callable[[str, int, int], None]
) -> datetime | None:
    """Call ``seen(order_id, partition, offset)`` for every message now on ``topic``.

    Returns the timestamp of the oldest message still retained when retention has deleted
    earlier ones (orders older than that cannot be checked), else None.
    """
    watermarks = observe.topic_offsets(admin(settings), topic, timeout=10)
    if watermarks is None:
        raise CollectError(f"topic {topic} cannot be read: absent or without partitions")
    ends: dict[int, int] = {}
    truncated: set[int] = set()
    assignment = []
    for found in watermarks:
        if found.high > found.low:
            ends[found.partition] = found.high
            assignment.append(TopicPartition(topic, found.partition, found.low))
            if found.low > 0:
                truncated.add(found.partition)
    consumer = make_consumer(
        f"pos-verify-{uuid.uuid4().hex}",
        settings,
        # Reading to the end: each partition's end is seen by a fetch that came back empty.
        **{"enable.partition.eof": True, "fetch.wait.max.ms": 10},
    )
    try:
        consumer.assign(assignment)
        oldest: list[int] = []
        deadline = time.monotonic() + KAFKA_READ_TIMEOUT
        while ends:
            if time.monotonic() > deadline:
                raise CollectError(f"{topic}: partitions {sorted(ends)} not read to the end")
            # consume() waits for the whole batch or the timeout: a short one, or each
            # call on a small topic idles for all of it.
            for msg in consumer.consume(10_000, timeout=0.1):
                partition, err = msg.partition() or 0, msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        ends.pop(partition, None)
                        continue
                    raise CollectError(f"{topic}: {err}")
                if partition in truncated:
                    truncated.discard(partition)
                    oldest.append(msg.timestamp()[1])
                seen(_order_id(msg), partition, msg.offset() or 0)
                if (msg.offset() or 0) >= ends.get(partition, 0) - 1:
                    ends.pop(partition, None)
    finally:
        consumer.close()
    return datetime.fromtimestamp(max(oldest) / 1000, UTC) if oldest else None


def kafka(settings: KafkaSettings) -> KafkaFacts:
    events: Counter[str] = Counter()
    offsets: dict[int, list[tuple[int, str]]] = defaultdict(list)
    dead: set[str] = set()

    def count(order_id: str, partition: int, offset: int) -> None:
        events[order_id] += 1
        offsets[partition].append((offset, order_id))

    since = read_topic(settings, settings.order_topic, count)
    read_topic(settings, settings.dlq_topic, lambda order_id, *_: dead.add(order_id))
    return KafkaFacts(
        topic=settings.order_topic,
        events=dict(events),
        dead_letters=frozenset(dead),
        retained_since=since,
        offsets={p: sorted(found) for p, found in offsets.items()},
    )


def receipt_keys(path: Path) -> frozenset[str] | None:
    """The keys in the third party's receipt file (JSON lines with ``key``), if readable.

    A fallback: the simulated third party lists no receipts over HTTP (only one receipt
    by key), so the auditor reads its store where it runs on this machine.
    """
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    keys = set()
    for line in raw.splitlines():
        try:
            keys.add(str(orjson.loads(line)["key"]))
        except (orjson.JSONDecodeError, KeyError, TypeError):
            continue  # a torn last line: the third party skips it the same way
    return frozenset(keys)


def third_party(settings: ThirdPartySettings, receipts: Path | None) -> ThirdPartyFacts:
    try:
        stats = observe.third_party_stats(settings.third_party_url, timeout=5)
    except httpx.HTTPError as exc:
        raise CollectError(f"third party at {settings.third_party_url}: {exc}") from None
    path = receipts or settings.tp_store_path
    return ThirdPartyFacts(
        received=int(stats.get("received", 0)),
        unique=int(stats.get("unique", 0)),
        duplicates=int(stats.get("duplicates", 0)),
        timeouts=int(stats.get("timeouts", 0)),
        delivered=receipt_keys(path),
        source=f"the receipt file {path}",
    )


@dataclass(frozen=True)
class Snapshot:
    """What moves while the pipeline works; equal snapshots over a while mean quiet."""

    pending: int
    final: int
    unpublished: int
    third_party_received: int

    @property
    def drained(self) -> bool:
        return self.pending == 0 and self.unpublished == 0


def snapshot(db: DatabaseSettings, tp: ThirdPartySettings) -> Snapshot | None:
    """None while a part cannot be reached (it may be restarting)."""
    try:
        with psycopg.connect(db.dsn, connect_timeout=3) as conn:
            figures = observe.database_figures(conn)
        received = observe.third_party_stats(tp.third_party_url, timeout=5).get("received", 0)
    except (psycopg.Error, httpx.HTTPError):
        return None
    return Snapshot(figures.pending, figures.final, figures.outbox.backlog, received)
