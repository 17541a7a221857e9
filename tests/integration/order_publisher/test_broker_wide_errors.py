"""An error that hits every row parks none: the relay backs off as a whole and says so.

The local broker runs with ``auto.create.topics.enable=false``, and the producer is told
not to ask for it either: rows naming a topic that does not exist yet are refused with
UNKNOWN_TOPIC until an operator creates it. That is a fault of the set-up, not of the rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import pytest

from pos.config import KafkaSettings
from pos.infra import kafka
from pos.scratch.outbox_rows import Db, audit, count, insert, order_created, read_topic
from pos.scratch.processes import free_port
from pos.scratch.topics import drop_topics
from tests.integration.order_publisher.conftest import InProcessRelay, scrape

pytestmark = pytest.mark.asyncio

ROWS = 20
MAX_ATTEMPTS = 2


def broker_errors(port: int) -> dict[str, float]:
    """Rows refused per Kafka error name; empty while the metrics server is not up yet."""
    try:
        samples = scrape(port)
    except httpx.ConnectError:
        return {}
    prefix = "pos_publisher_broker_errors_total"
    return {k: v for k, v in samples.items() if k.startswith(prefix)}


async def test_an_unknown_topic_parks_nothing_and_flows_once_the_topic_exists(
    db: Db, kafka_settings: KafkaSettings, relay: Callable[..., InProcessRelay]
) -> None:
    later = f"test.publisher.later.{uuid.uuid4().hex[:10]}"
    events = [order_created(later) for _ in range(ROWS)]
    insert(db, events)
    port = free_port()
    running = relay(
        publisher_max_attempts=MAX_ATTEMPTS,
        publisher_delivery_timeout_ms=4000,
        publisher_metrics_port=port,
        publisher_kafka_overrides={"allow.auto.create.topics": False},
    )
    try:
        # Refused more times than a row may fail before it is parked.
        await running.wait_until(
            lambda: sum(broker_errors(port).values()) >= (MAX_ATTEMPTS + 1) * ROWS,
            within=60,
            what="refused for the unknown topic again and again",
        )
        assert count(db, "parked_at IS NOT NULL OR attempts > 0 OR last_error IS NOT NULL") == 0
        metrics = scrape(port)
        assert metrics["pos_publisher_broker_available"] == 0, "the relay backs off"
        assert all("UNKNOWN" in code for code in broker_errors(port)), broker_errors(port)
        assert "pos_publisher_events_parked_total" not in metrics or (
            metrics["pos_publisher_events_parked_total"] == 0
        )

        kafka.ensure_topics(kafka_settings, {later: 3})
        await running.wait_until(
            lambda: count(db, "published") == ROWS, within=60, what="published once created"
        )
        assert count(db, "parked_at IS NOT NULL OR attempts > 0") == 0
        await running.wait_until(
            lambda: scrape(port)["pos_publisher_broker_available"] == 1,
            within=10,
            what="the broker counted as back",
        )
        delivery = audit(read_topic(kafka_settings.kafka_broker, later), events)
        assert delivery.missing == set()
        assert delivery.duplicates == 0
    finally:
        drop_topics(kafka_settings, [later])
