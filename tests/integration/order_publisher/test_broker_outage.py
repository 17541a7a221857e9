"""Kafka goes away under a running `pos publisher` and comes back: nothing lost, nothing
charged to the rows, one log line per state change.

Runs against a private scratch broker (tests.support.scratch_kafka): the shared broker on
9092 serves other tests and is never stopped.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from pos.scratch.outbox_rows import (
    Db,
    audit,
    count,
    insert,
    order_created,
    read_topic,
)
from pos.scratch.processes import ServiceProcess, free_port
from tests.integration.order_publisher.conftest import scrape
from tests.support.scratch_kafka import ScratchKafka

BROKER_FAILURES = 'pos_publisher_delivery_failures_total{kind="broker"}'


def test_broker_outage_keeps_the_rows_and_delivers_everything_when_it_returns(
    db: Db, scratch_kafka: ScratchKafka, publisher_process: Callable[..., ServiceProcess]
) -> None:
    topic = f"test.outage.{uuid.uuid4().hex[:8]}"
    scratch_kafka.create_topics({topic: 3})
    port = free_port()
    relay = publisher_process(
        kafka_broker=scratch_kafka.bootstrap,
        publisher_metrics_port=port,
        publisher_delivery_timeout_ms=2_000,
    ).wait_log("publisher started")

    before = [order_created(topic) for _ in range(100)]
    insert(db, before)
    relay.wait_until(lambda: count(db, "published") == 100, timeout=30, what="published")

    scratch_kafka.stop()
    during = [order_created(topic) for _ in range(300)]
    for i in range(0, len(during), 50):  # orders keep being accepted: commits succeed
        insert(db, during[i : i + 50])

    # Several failed rounds (each a delivery time-out), yet one log line and no charge.
    relay.wait_until(
        lambda: scrape(port).get(BROKER_FAILURES, 0) >= 3 * len(during),
        timeout=90,
        what="retrying against the stopped broker",
    )
    metrics = scrape(port)
    assert metrics["pos_publisher_broker_available"] == 0
    assert metrics["pos_publisher_backlog_rows"] == len(during)
    assert count(db, "NOT published") == len(during)
    assert count(db, "attempts > 0 OR parked_at IS NOT NULL OR last_error IS NOT NULL") == 0
    assert relay.log(tail=10**7).count("kafka unavailable") == 1

    scratch_kafka.start()
    relay.wait_until(
        lambda: (
            count(db, "NOT published") == 0 and scrape(port)["pos_publisher_broker_available"] == 1
        ),
        timeout=120,
        what="drained, broker available",
    )
    relay.wait_log("kafka available again")
    assert relay.log(tail=10**7).count("kafka available again") == 1

    delivery = audit(read_topic(scratch_kafka.bootstrap, topic), before + during)
    print(
        f"\nbroker outage: {len(before) + len(during)} events, {delivery.records} records "
        f"after recovery, {delivery.duplicates} duplicates"
    )
    assert delivery.missing == set()
    # Sends that timed out never reached the broker, and the row locks kept every row with
    # one relay until its send was decided: nothing was sent twice.
    assert delivery.duplicates == 0
