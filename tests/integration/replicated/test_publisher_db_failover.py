"""The publisher on a PostgreSQL pair whose primary is SIGKILLed and failed over.

The relay's pool and its LISTEN connection both lose the primary. It must find the new
primary through the multi-host URL by itself and listen there again: the poll interval
is set far beyond the test's bound, so rows committed after the failover are published in
time only if a NOTIFY on the new primary wakes the relay.
"""

from __future__ import annotations

import time
import uuid

import psycopg
import pytest

from pos.config import KafkaSettings
from pos.infra.pg_pair import wait_writable
from pos.scratch.outbox_rows import Event, audit, insert, order_created, read_topic
from tests.integration.order_publisher.conftest import InProcessRelay
from tests.integration.replicated.conftest import Replicated

pytestmark = pytest.mark.replicated

POLL_FAR_AWAY = 120.0  # seconds: longer than any wait below, so only NOTIFY can wake it


def _count(url: str, where: str) -> int:
    """A fresh connection each time: the one before the failover died with the primary."""
    with psycopg.connect(url, autocommit=True, connect_timeout=3) as conn:
        row = conn.execute(f"SELECT count(*) FROM outbox WHERE {where}").fetchone()
    assert row is not None
    return int(str(row[0]))


def _insert(url: str, events: list[Event]) -> None:
    with psycopg.connect(url, autocommit=True, connect_timeout=3) as conn:
        insert(conn, events)


async def test_the_relay_follows_the_primary_and_listens_there_again(
    topology: Replicated,
) -> None:
    url = topology.database_url
    with psycopg.connect(url, autocommit=True) as conn:  # rows of earlier tests' topics
        conn.execute("TRUNCATE orders, order_items, idempotency_keys, outbox CASCADE")
    topic = f"test.replicated.db.{uuid.uuid4().hex[:8]}"
    topology.cluster.ensure_topics({topic: 3})
    relay = InProcessRelay(
        url,
        KafkaSettings(kafka_broker=topology.bootstrap),
        publisher_poll_interval=POLL_FAR_AWAY,
        publisher_retry_base_seconds=0.1,
    )
    try:
        before = [order_created(topic) for _ in range(100)]
        _insert(url, before)
        await relay.wait_until(
            lambda: _count(url, "NOT published") == 0, within=20, what="published"
        )

        primary = topology.pair.primary()
        assert primary is not None
        topology.pair.kill_node(primary)
        topology.pair.failover()
        wait_writable(url, timeout=30)
        started = time.monotonic()
        after = [order_created(topic) for _ in range(100)]
        _insert(url, after)
        await relay.wait_until(
            lambda: _count(url, "NOT published") == 0, within=30, what="published after failover"
        )
        resumed = time.monotonic() - started
    finally:
        await relay.close()

    assert _count(url, "parked_at IS NOT NULL") == 0
    delivery = audit(read_topic(topology.bootstrap, topic), before + after)
    print(
        f"\nprimary {primary} killed and failed over; rows committed on the new primary "
        f"published {resumed:.1f} s later; {delivery.duplicates} duplicates"
    )
    assert delivery.missing == set()
