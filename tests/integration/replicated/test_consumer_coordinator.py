"""A consumer on a 3-node Kafka cluster when its group coordinator dies.

- The broker coordinating the consumer group is SIGKILLed: the group finds its new
  coordinator and every order, before and after, ends SUCCESS, delivered once in effect.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from pos.config import KafkaSettings
from pos.scratch.processes import ServiceProcess
from tests.integration.order_consumer.support import DB, count_status, insert_orders, publish
from tests.integration.replicated.conftest import Replicated
from tests.integration.simulated_third_party.launcher import ThirdParty

pytestmark = pytest.mark.replicated


def test_a_consumer_resumes_after_its_group_coordinator_dies(
    kafka_topology: Replicated, db: DB, tp: ThirdParty, tmp_path: Path
) -> None:
    cluster = kafka_topology.cluster
    name = f"test.replicated.orders.{uuid.uuid4().hex[:8]}"
    settings = KafkaSettings(
        kafka_broker=kafka_topology.bootstrap, order_topic=name, dlq_topic=f"{name}.dlq"
    )
    cluster.ensure_topics({name: 3, settings.dlq_topic: 1})
    group = f"replicated-{uuid.uuid4().hex[:8]}"
    first = insert_orders(db, 200)
    publish(settings, first)
    env = {
        "KAFKA_BROKER": kafka_topology.bootstrap,
        "ORDER_TOPIC": name,
        "DLQ_TOPIC": settings.dlq_topic,
        "THIRD_PARTY_URL": tp.url,
        "CONSUMER_GROUP": group,
        "CONSUMER_METRICS_PORT": "0",
        "CONSUMER_COMMIT_INTERVAL_SECONDS": "0.2",
    }
    with ServiceProcess("consumer", env=env, log_dir=tmp_path, name="consumer") as consumer:
        consumer.wait_until(lambda: count_status(db, "SUCCESS") == 200, 60, "delivering")
        coordinator = cluster.coordinator_of(group)
        cluster.kill_node(coordinator)
        started = time.monotonic()
        second = insert_orders(db, 200)
        publish(settings, second)
        consumer.wait_until(lambda: count_status(db, "SUCCESS") == 400, 60, "resumed")
        resumed = time.monotonic() - started
        new_coordinator = cluster.coordinator_of(group)

    stats = tp.stats()
    print(
        f"\ncoordinator {coordinator} killed, {new_coordinator} took over; the next 200 "
        f"orders delivered {resumed:.1f} s later; third party: {stats}"
    )
    assert new_coordinator != coordinator
    assert count_status(db, "FAILED") == 0
    assert stats["unique"] == 400
