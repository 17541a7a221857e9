"""`pos publisher` as real processes: SIGKILL mid-batch, three at once, SIGTERM.

Crashes must be real crashes, so the relay runs as the command users run and is killed
with signals; the verdict comes from reading the topic back to its high watermarks.
"""

from __future__ import annotations

from collections.abc import Callable

import psycopg

from pos.config import KafkaSettings
from pos.scratch.outbox_rows import (
    Db,
    audit,
    count,
    insert_backlog,
    read_topic,
    topic_size,
)
from pos.scratch.processes import ServiceProcess, free_port
from tests.integration.order_publisher.conftest import scrape

Publisher = Callable[..., ServiceProcess]

# Each batch lingers in the producer for this long before it is sent, so a signal sent
# while rows remain lands with a batch in flight.
SLOW_BATCHES = {"publisher_kafka_overrides": {"linger.ms": 100}}


def test_sigkill_mid_batch_then_restart_delivers_every_event(
    db: Db,
    database_url: str,
    topic: str,
    kafka_settings: KafkaSettings,
    publisher_process: Publisher,
) -> None:
    broker = kafka_settings.kafka_broker
    events = insert_backlog(db, topic, 10_000)

    # 1. Killed mid-drain, its two batches in flight (mostly still lingering in the
    # producer; whatever had been acknowledged but not marked will be sent again).
    first = publisher_process("killed-mid-drain", publisher_batch_size=500, **SLOW_BATCHES)
    first.wait_until(lambda: count(db, "published") >= 2_000, timeout=60, what="progress")
    first.kill()

    # 2. Killed after Kafka acknowledged two batches, before they were marked: a SHARE lock
    # on the table lets the relay claim and produce but holds its UPDATE back.
    with psycopg.connect(database_url) as blocker:
        blocker.execute("LOCK TABLE outbox IN SHARE MODE")
        on_kafka = topic_size(broker, topic)
        second = publisher_process("killed-before-marking", publisher_batch_size=500)
        second.wait_until(
            lambda: topic_size(broker, topic) == on_kafka + 2 * 500, timeout=60, what="acked"
        )
        second.kill()
        blocker.rollback()
    left = count(db, "NOT published")

    survivor = publisher_process("restarted")
    survivor.wait_until(lambda: count(db, "NOT published") == 0, timeout=60, what="drained")

    delivery = audit(read_topic(broker, topic), events)
    print(
        f"\nSIGKILL mid-batch: {len(events)} events, {left} unpublished after two kills; "
        f"{delivery.records} records on Kafka, {delivery.duplicates} duplicates "
        f"({delivery.duplicate_share:.2%})"
    )
    assert delivery.missing == set()
    # The two batches acknowledged but not marked at the second kill went out again; the
    # first kill can add at most its own two batches in flight.
    assert 2 * 500 <= delivery.duplicates <= 4 * 500


def test_three_publishers_share_a_backlog_and_lose_nothing(
    db: Db, topic: str, kafka_settings: KafkaSettings, publisher_process: Publisher
) -> None:
    ports = [free_port() for _ in range(3)]
    relays = [
        publisher_process(f"relay-{i}", publisher_batch_size=250, publisher_metrics_port=port)
        for i, port in enumerate(ports)
    ]
    for r in relays:
        r.wait_log("publisher started")
    events = insert_backlog(db, topic, 10_000)  # one commit: one NOTIFY wakes all three

    def shares() -> list[int]:
        return [int(scrape(port)["pos_publisher_events_published_total"]) for port in ports]

    # Each relay counts its rows just after committing them: wait for the counts too.
    relays[0].wait_until(
        lambda: count(db, "NOT published") == 0 and sum(shares()) == len(events),
        timeout=90,
        what="drained and counted",
    )
    delivery = audit(read_topic(kafka_settings.kafka_broker, topic), events)
    print(
        f"\nthree publishers, {len(events)} events: published {shares()}; "
        f"{delivery.records} records, {delivery.duplicates} duplicates "
        f"({delivery.duplicate_share:.2%}); {delivery.out_of_order} records behind a newer "
        "row of another order in their partition"
    )
    assert delivery.missing == set()


def test_sigterm_finishes_the_batch_in_flight_and_exits_zero(
    db: Db, topic: str, kafka_settings: KafkaSettings, publisher_process: Publisher
) -> None:
    port = free_port()
    relay = publisher_process(
        publisher_batch_size=100, publisher_metrics_port=port, **SLOW_BATCHES
    ).wait_log("publisher started")
    events = insert_backlog(db, topic, 5_000)
    relay.wait_until(
        lambda: scrape(port)["pos_publisher_events_published_total"] >= 400,
        timeout=60,
        what="publishing",
    )
    assert scrape(port)["pos_publisher_broker_available"] == 1

    assert relay.terminate() == 0
    assert "publisher stopped" in relay.log()
    assert count(db, "NOT published") > 0, "SIGTERM should have come before the end"

    # The batch in flight was finished, not abandoned: everything on Kafka is marked
    # published, and everything marked published is on Kafka.
    on_kafka = {r.event_id for r in read_topic(kafka_settings.kafka_broker, topic)}
    marked = {
        row[0] for row in db.execute("SELECT event_id FROM outbox WHERE published").fetchall()
    }
    assert on_kafka == marked
    assert len(on_kafka) < len(events)
