"""A small, clean world for the auditor: real rows, real events, a real third party.

Six orders from two tills that number their keys alike (``k-1``, ``k-2``, ``k-3`` each,
told apart only by their idempotency scope), five delivered and one refused for good:
every row written as the pipeline writes it, every event on a topic of its own, every
receipt taken by the real simulated third party, every acknowledgement in a ledger and a
commit log that commits each partition once all is final. `pos verify` passes on it; each
breach test then changes exactly one thing.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
from confluent_kafka import Producer, TopicPartition

from pos.config import KafkaSettings
from pos.domain.events import encode_order_created
from pos.infra import kafka
from pos.messaging.kafka import make_consumer, make_producer
from pos.ops.ledger import AckRecord, LedgerWriter, content_hash, scope_of
from pos.scratch.topics import drop_topics

TILLS = (("store-1", "till-1"), ("store-1", "till-2"))
ITEMS = [{"sku": "LATTE-L", "name": "Latte", "quantity": 2, "unitPrice": 450}]
PARTITIONS = 3

INSERT_ORDER = """
INSERT INTO orders (id, store_id, device_id, currency, total_amount, status, last_error,
                    idempotency_scope, idempotency_key, created_at, updated_at, processed_at)
VALUES (%s, %s, %s, 'EUR', 900, %s, %s, %s, %s, %s, %s, %s)
"""
INSERT_ITEM = """
INSERT INTO order_items (order_id, line_no, sku, name, quantity, unit_price)
VALUES (%s, 1, 'LATTE-L', 'Latte', 2, 450)
"""


@dataclass
class World:
    dsn: str
    topic: str
    dlq: str
    third_party_url: str
    receipts: Path
    ledger: Path
    commit_log: Path
    env: dict[str, str]
    broker: str
    orders: list[dict[str, Any]] = field(default_factory=list)
    _producer: Producer | None = None

    @property
    def kafka(self) -> KafkaSettings:
        return KafkaSettings(kafka_broker=self.broker, order_topic=self.topic, dlq_topic=self.dlq)

    def connect(self) -> psycopg.Connection[tuple[Any, ...]]:
        return psycopg.connect(self.dsn, autocommit=True)

    def add_order(
        self,
        till: tuple[str, str],
        key: str,
        status: str = "SUCCESS",
        *,
        at: datetime | None = None,
    ) -> str:
        """One order row with its item, as the API and the consumer leave it."""
        order_id = str(uuid.uuid4())
        # Created a second ago and final 50 ms later: final before anything commits past it.
        created = at or datetime.now(UTC) - timedelta(seconds=1)
        final = None if status == "PENDING" else created + timedelta(milliseconds=50)
        with self.connect() as conn:
            conn.execute(
                INSERT_ORDER,
                (
                    order_id,
                    *till,
                    status,
                    "refused by the third party" if status == "FAILED" else None,
                    scope_of(*till),
                    key,
                    created,
                    final or created,
                    final if status == "SUCCESS" else None,
                ),
            )
            conn.execute(INSERT_ITEM, (order_id,))
        self.orders.append({"id": order_id, "till": till, "key": key, "status": status})
        return order_id

    def publish(self, order_id: str, topic: str | None = None, *, flush: bool = True) -> None:
        if self._producer is None:
            self._producer = make_producer(self.kafka)
        event = encode_order_created(uuid.uuid4(), datetime.now(UTC), {"id": order_id})
        self._producer.produce(topic or self.topic, key=order_id.encode(), value=event)
        if flush:
            assert self._producer.flush(15) == 0

    def flush(self) -> None:
        if self._producer is not None:
            assert self._producer.flush(15) == 0

    def deliver(self, order_id: str) -> httpx.Response:
        """One call to the third party, as the consumer makes it."""
        response = httpx.post(
            f"{self.third_party_url}/orders",
            headers={"Idempotency-Key": order_id},
            content=orjson.dumps({"id": order_id}),
            timeout=10,
        )
        assert response.status_code in (200, 201), response.text
        return response

    def acknowledge(self, order_id: str, till: tuple[str, str], key: str, sale: str) -> None:
        writer = LedgerWriter(self.ledger)
        body_hash = content_hash(*till, "EUR", ITEMS)
        writer.record(AckRecord(key, order_id, body_hash, scope_of(*till), sale))
        writer.close()

    def commit_everything(self, at: datetime | None = None) -> None:
        """A commit-log line per partition at its end: what a consumer writes when done."""
        consumer = make_consumer(f"audit-world-{uuid.uuid4().hex}", self.kafka)
        moment = (at or datetime.now(UTC)).isoformat(timespec="milliseconds")
        try:
            with self.commit_log.open("ab") as log:
                for partition in range(PARTITIONS):
                    _, high = consumer.get_watermark_offsets(
                        TopicPartition(self.topic, partition), timeout=10
                    )
                    line = {
                        "topic": self.topic,
                        "partition": partition,
                        "offset": high,
                        "at": moment.replace("+00:00", "Z"),
                        "member": "consumer-1",
                    }
                    log.write(orjson.dumps(line) + b"\n")
        finally:
            consumer.close()

    def verify(self, *extra: str, wait: float = 20) -> tuple[int, dict[str, Any]]:
        done = subprocess.run(
            [
                *(sys.executable, "-m", "pos.cli", "verify", "--json"),
                *("--ledger", str(self.ledger), "--commit-log", str(self.commit_log)),
                *("--quiet-for", "0.5", "--wait", str(wait)),
                *extra,
            ],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode in (0, 1), done.stdout + done.stderr
        return done.returncode, orjson.loads(done.stdout)


def build_clean(world: World) -> None:
    for n in (1, 2, 3):
        for till in TILLS:
            status = "FAILED" if (n, till) == (3, TILLS[1]) else "SUCCESS"
            order_id = world.add_order(till, f"k-{n}", status)
            world.publish(order_id, flush=False)
            if status == "SUCCESS":
                world.deliver(order_id)
            else:
                world.publish(order_id, world.dlq, flush=False)
            world.acknowledge(order_id, till, f"k-{n}", f"{scope_of(*till)}#{n}")
    world.flush()  # every event on the topics before the commit log reads their ends
    world.commit_everything()


@contextlib.contextmanager
def scratch_topics(settings: KafkaSettings) -> Iterator[tuple[str, str]]:
    topic = f"audit.test-{uuid.uuid4().hex[:8]}"
    kafka.ensure_topics(settings, {topic: PARTITIONS, f"{topic}.dlq": 1})
    try:
        yield topic, f"{topic}.dlq"
    finally:
        drop_topics(settings, [topic, f"{topic}.dlq"])


def reset_third_party(url: str) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            httpx.post(f"{url}/admin/reset", timeout=5).raise_for_status()
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def environment(
    world_dsn: str, topic: str, dlq: str, tp_url: str, receipts: Path
) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": world_dsn,
        "ORDER_TOPIC": topic,
        "DLQ_TOPIC": dlq,
        "THIRD_PARTY_URL": tp_url,
        "TP_STORE_PATH": str(receipts),
        "COLUMNS": "200",
    }
