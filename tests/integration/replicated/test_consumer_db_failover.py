"""A consumer on a PostgreSQL pair whose primary is SIGKILLed and failed over.

Its pool loses every connection at once; it must reconnect through the multi-host URL to
the new primary and record each order's outcome there, delivering each order once in
effect (the third party counts distinct keys).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest

from pos.config import KafkaSettings
from pos.domain.orders import Order
from pos.infra.pg_pair import wait_writable
from pos.scratch.processes import ServiceProcess
from tests.integration.order_consumer.support import count_status, insert_orders, publish
from tests.integration.replicated.conftest import Replicated
from tests.integration.simulated_third_party.launcher import ThirdParty

pytestmark = pytest.mark.replicated


def _succeeded(url: str) -> int:
    """A fresh connection each time: the one before the failover died with the primary."""
    with psycopg.connect(url, autocommit=True, connect_timeout=3) as conn:
        return count_status(conn, "SUCCESS")


def _orders(url: str, n: int) -> list[Order]:
    with psycopg.connect(url, autocommit=True, connect_timeout=3) as conn:
        return insert_orders(conn, n)


def test_a_consumer_follows_the_primary_and_records_every_outcome(
    topology: Replicated, tp: ThirdParty, tmp_path: Path
) -> None:
    url = topology.database_url
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE orders, order_items, idempotency_keys, outbox CASCADE")
    name = f"test.replicated.dbfail.{uuid.uuid4().hex[:8]}"
    settings = KafkaSettings(
        kafka_broker=topology.bootstrap, order_topic=name, dlq_topic=f"{name}.dlq"
    )
    topology.cluster.ensure_topics({name: 3, settings.dlq_topic: 1})
    publish(settings, _orders(url, 200))
    env = {
        "DATABASE_URL": url,
        "KAFKA_BROKER": topology.bootstrap,
        "ORDER_TOPIC": name,
        "DLQ_TOPIC": settings.dlq_topic,
        "THIRD_PARTY_URL": tp.url,
        "CONSUMER_GROUP": f"replicated-db-{uuid.uuid4().hex[:8]}",
        "CONSUMER_METRICS_PORT": "0",
        "CONSUMER_COMMIT_INTERVAL_SECONDS": "0.2",
    }
    with ServiceProcess("consumer", env=env, log_dir=tmp_path, name="consumer") as consumer:
        consumer.wait_until(lambda: _succeeded(url) == 200, 60, "delivering")
        primary = topology.pair.primary()
        assert primary is not None
        topology.pair.kill_node(primary)
        topology.pair.failover()
        wait_writable(url, timeout=30)
        publish(settings, _orders(url, 200))
        consumer.wait_until(lambda: _succeeded(url) == 400, 60, "resumed on the new primary")
    assert tp.stats()["unique"] == 400
