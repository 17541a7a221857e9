"""The publisher on a 3-node Kafka cluster when the leader of its partition dies.

- The leader of a partition the relay writes to is SIGKILLed mid-stream: the controller
  moves leadership (the dead node fenced after 3 s), the relay's sends stall and then go
  through; every row is published, none parked, nothing lost.
"""

from __future__ import annotations

import time
import uuid

import pytest

from pos.config import KafkaSettings
from pos.scratch.outbox_rows import Db, audit, count, insert, order_created, read_topic
from tests.integration.order_publisher.conftest import InProcessRelay
from tests.integration.replicated.conftest import Replicated

pytestmark = pytest.mark.replicated


async def test_the_relay_resumes_after_a_leader_change_without_parking_rows(
    kafka_topology: Replicated, db: Db, database_url: str
) -> None:
    cluster = kafka_topology.cluster
    topic = f"test.replicated.{uuid.uuid4().hex[:8]}"
    cluster.ensure_topics({topic: 6})
    relay = InProcessRelay(database_url, KafkaSettings(kafka_broker=kafka_topology.bootstrap))
    try:
        before = [order_created(topic) for _ in range(300)]
        insert(db, before)
        await relay.wait_until(
            lambda: count(db, "published") == len(before), within=30, what="published"
        )

        leader = cluster.leader_of(topic, 0)
        cluster.kill_node(leader)
        started = time.monotonic()
        during = [order_created(topic) for _ in range(300)]
        for i in range(0, len(during), 30):  # orders keep coming while leadership moves
            insert(db, during[i : i + 30])
        await relay.wait_until(
            lambda: count(db, "NOT published") == 0, within=60, what="all published"
        )
        drained = time.monotonic() - started
        new_leader = cluster.leader_of(topic, 0)
    finally:
        await relay.close()

    assert new_leader not in (leader, -1)
    assert count(db, "parked_at IS NOT NULL") == 0
    delivery = audit(read_topic(kafka_topology.bootstrap, topic), before + during)
    print(
        f"\nleader {leader} of {topic}[0] killed, {new_leader} leads; 300 rows published "
        f"{drained:.1f} s after the kill; {delivery.duplicates} duplicates"
    )
    assert delivery.missing == set()
