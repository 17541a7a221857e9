"""The consumer in-process against real PostgreSQL, Kafka and the third party over HTTP."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable

import pytest

from pos.config import KafkaSettings, Settings
from pos.domain.status import OrderStatus
from pos.ops import dlq
from pos.order_consumer import dead_letters
from pos.scratch.processes import free_port
from tests.integration.order_consumer.support import (
    DB,
    committed,
    count_status,
    eventually,
    insert_orders,
    produce_raw,
    publish,
    read_topic,
    running_consumer,
    scrape,
    statuses,
)
from tests.integration.simulated_third_party.launcher import ThirdParty


async def test_an_event_ends_as_success_with_its_receipt(
    db: DB, topics: KafkaSettings, tp: ThirdParty
) -> None:
    orders = insert_orders(db, 3)
    written = {partition for partition, _ in publish(topics, orders)}
    port = free_port()
    async with running_consumer(topics, tp.url, consumer_metrics_port=port):
        await eventually(lambda: count_status(db, "SUCCESS") == 3, what="all SUCCESS")
        # Lag is measured when offsets are committed, which follows each message's end (its
        # row written, its counters counted): every partition written to, none left. A row
        # is visible here before the consumer has seen its own write succeed.
        await eventually(
            lambda: _lags(scrape(port)) == dict.fromkeys(written, 0.0), what="lag 0 everywhere"
        )
        metrics = scrape(port)
    rows = db.execute(
        "SELECT id, processed_at, receipt_ref, attempts, last_error FROM orders"
    ).fetchall()
    for order_id, processed_at, receipt_ref, attempts, last_error in rows:
        assert processed_at is not None
        assert attempts == 1
        assert last_error is None
        assert tp.receipt_ref(str(order_id)) == receipt_ref
    assert tp.stats()["unique"] == 3
    assert "pos_consumer_succeeded_total 3.0" in metrics
    assert "pos_consumer_third_party_seconds_bucket" in metrics


def _lags(metrics: str) -> dict[int, float]:
    """The lag gauge by partition, from ``pos_consumer_lag{partition="0",topic="t"} 0.0``."""
    return {
        int(line.split('partition="', 1)[1].split('"', 1)[0]): float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("pos_consumer_lag{")
    }


async def test_half_the_calls_failing_transiently_still_delivers_each_order_once(
    db: DB, topics: KafkaSettings, tp: ThirdParty
) -> None:
    tp.reset(errorRate=0.4, timeoutRate=0.1, hangMs=3000)
    orders = insert_orders(db, 200)
    publish(topics, orders)
    async with running_consumer(topics, tp.url, consumer_retry_budget=40):
        await eventually(lambda: count_status(db, "SUCCESS") == 200, within=60, what="SUCCESS")
    stats = tp.stats()
    assert stats["unique"] == 200
    assert stats["errors"] + stats["timeouts"] > 0
    retried = db.execute("SELECT count(*) FROM orders WHERE attempts > 1").fetchone()
    assert retried is not None
    assert retried[0] > 0


async def test_refusals_fail_with_a_dead_letter_and_a_redrive_delivers_them(
    db: DB, topics: KafkaSettings, tp: ThirdParty, capsys: pytest.CaptureFixture[str]
) -> None:
    tp.reset(refusalRate=1)
    orders = insert_orders(db, 4)
    positions = publish(topics, orders)
    async with running_consumer(topics, tp.url) as settings:
        await eventually(lambda: count_status(db, "FAILED") == 4, what="all FAILED")
        rows = db.execute("SELECT attempts, last_error FROM orders").fetchall()
        assert all(a == 1 and "refused by the third party: HTTP 422" in e for a, e in rows)
        letters = read_topic(topics, topics.dlq_topic, expect=4)
        assert sorted(m.key() for m in letters) == sorted(str(o.id).encode() for o in orders)
        for letter in letters:
            headers = {k: v.decode() for k, v in letter.headers() or []}
            assert headers[dead_letters.HEADER_ATTEMPTS] == "1"
            assert "refused" in headers[dead_letters.HEADER_REASON]
            origin = (
                int(headers[dead_letters.HEADER_PARTITION]),
                int(headers[dead_letters.HEADER_OFFSET]),
            )
            assert origin in positions

        # The CLI runs its own event loop: call it from a thread, as from a terminal.
        await asyncio.to_thread(dlq.list_failed, argparse.Namespace(limit=10, settings=Settings()))
        listing = capsys.readouterr().out
        assert all(str(o.id) in listing for o in orders)
        assert "refused by the third party" in listing

        tp.faults(refusalRate=0)  # the cause is fixed
        await asyncio.to_thread(
            dlq.redrive,
            argparse.Namespace(
                order_ids=[str(o.id) for o in orders[:3]], all=False, settings=Settings()
            ),
        )
        assert "3 order(s) back to PENDING" in capsys.readouterr().out
        assert count_status(db, "PENDING") == 3
        outbox = db.execute("SELECT aggregate_id, topic, payload FROM outbox").fetchall()
        assert {row[0] for row in outbox} == {o.id for o in orders[:3]}
        # The CLI names the configured topic (the session's), the publisher relays the rows
        # there; this test relays them by hand to its own topic instead.
        assert {row[1] for row in outbox} == {KafkaSettings().order_topic}
        produce_raw(topics, [(str(row[0]).encode(), row[2]) for row in outbox])
        await eventually(lambda: count_status(db, "SUCCESS") == 3, what="redriven SUCCESS")
        # --all: every FAILED order, i.e. the one left.
        everything = argparse.Namespace(order_ids=[], all=True, settings=Settings())
        await asyncio.to_thread(dlq.redrive, everything)
        assert "1 order(s) back to PENDING" in capsys.readouterr().out
    assert tp.stats()["unique"] == 3
    row = db.execute("SELECT attempts, last_error FROM orders WHERE id = %s", (orders[0].id,))
    assert row.fetchone() == (1, None)
    assert committed(topics, settings.consumer_group, [0, 1, 2]) is not None


async def test_unreadable_and_unknown_events_are_dead_lettered_and_committed(
    db: DB, topics: KafkaSettings, tp: ThirdParty
) -> None:
    [order] = insert_orders(db, 1)
    [ghost] = insert_orders(db, 1)
    db.execute("DELETE FROM orders WHERE id = %s", (ghost.id,))
    produce_raw(topics, [(b"junk", b"not json"), (None, b"")], partition=0)
    publish(topics, [ghost, order], partition=0)
    async with running_consumer(topics, tp.url) as settings:
        await eventually(lambda: count_status(db, "SUCCESS") == 1, what="the order SUCCESS")
        letters = read_topic(topics, topics.dlq_topic, expect=3)
        await eventually(
            lambda: committed(topics, settings.consumer_group, [0]) == {0: 4},
            what="everything committed",
        )
    reasons = sorted(dict(m.headers() or [])[dead_letters.HEADER_REASON] for m in letters)
    assert reasons[0].startswith(b"cannot decode event")
    assert reasons[1:] == [b"empty message", b"order not in the database"]
    assert tp.stats()["received"] == 1


async def test_final_orders_are_acknowledged_without_a_call(
    db: DB, topics: KafkaSettings, tp: ThirdParty
) -> None:
    done = insert_orders(db, 5, status=OrderStatus.SUCCESS) + insert_orders(
        db, 5, status=OrderStatus.FAILED
    )
    [sentinel] = insert_orders(db, 1)
    publish(topics, [*done, sentinel], partition=1)
    async with running_consumer(topics, tp.url) as settings:
        await eventually(lambda: statuses(db, [sentinel])[sentinel.id] == "SUCCESS")
        await eventually(lambda: committed(topics, settings.consumer_group, [1]) == {1: 11})
    assert tp.stats()["received"] == 1


async def test_a_retried_order_holds_back_only_its_partitions_commit_position(
    db: DB, topics: KafkaSettings, tp: ThirdParty
) -> None:
    first, stuck, *behind = insert_orders(db, 12)
    async with running_consumer(
        topics, tp.url, consumer_retry_budget=1000, consumer_retry_max_seconds=0.1
    ) as settings:
        group = settings.consumer_group
        publish(topics, [first], partition=2)
        await eventually(lambda: committed(topics, group, [2]) == {2: 1}, what="offset 0 done")
        tp.faults(errorKeys=[str(stuck.id)])
        publish(topics, [stuck, *behind], partition=2)
        await eventually(
            lambda: set(statuses(db, behind).values()) == {"SUCCESS"},
            what="the orders behind the stuck one delivered",
        )
        assert statuses(db, [stuck])[stuck.id] == "PENDING"
        assert tp.stats()["errors"] > 1, "the stuck order is being retried"
        # Its partition's position must not pass it, whatever has finished behind it.
        assert committed(topics, group, [2]) == {2: 1}
        tp.faults(errorKeys=[])
        await eventually(lambda: statuses(db, [stuck])[stuck.id] == "SUCCESS")
        await eventually(lambda: committed(topics, group, [2]) == {2: 12}, what="all committed")
    attempts = db.execute("SELECT attempts FROM orders WHERE id = %s", (stuck.id,)).fetchone()
    assert attempts is not None
    assert attempts[0] > 1


async def test_a_full_consumer_keeps_serving_rebalances_while_it_retries(
    db: DB, topics: KafkaSettings, tp: ThirdParty
) -> None:
    tp.reset(outage=True)
    orders = insert_orders(db, 30)
    publish(topics, orders)
    first_port, second_port = free_port(), free_port()
    retrying = {
        "consumer_retry_budget": 10_000,
        "consumer_retry_base_seconds": 0.05,
        "consumer_retry_max_seconds": 0.2,
        "consumer_shutdown_grace_seconds": 1,
    }
    async with running_consumer(
        topics, tp.url, consumer_max_in_flight=2, consumer_metrics_port=first_port, **retrying
    ) as settings:
        # Both slots stuck in back-off: fetching is paused, polling must go on.
        await eventually(lambda: "pos_consumer_paused 1.0" in scrape(first_port), what="paused")
        async with running_consumer(
            topics,
            tp.url,
            consumer_group=settings.consumer_group,
            consumer_metrics_port=second_port,
            **retrying,
        ):
            # The second member only gets partitions if the paused one took part in the
            # rebalance (gave up a partition) instead of being silent until evicted.
            await eventually(
                lambda: _consumed(scrape(second_port)) > 0, what="second member consuming"
            )
            tp.faults(outage=False)
            await eventually(lambda: count_status(db, "SUCCESS") == 30, what="all SUCCESS")
    assert tp.stats()["unique"] == 30


def _consumed(metrics: str) -> float:
    [line] = [x for x in metrics.splitlines() if x.startswith("pos_consumer_consumed_total")]
    return float(line.split()[1])


async def test_dropped_database_connections_are_retried_not_fatal(
    db: DB, topics: KafkaSettings, tp: ThirdParty
) -> None:
    tp.reset(latencyMs=100)
    orders = insert_orders(db, 300)
    publish(topics, orders)
    async with running_consumer(topics, tp.url, consumer_max_in_flight=32):
        await eventually(lambda: count_status(db, "SUCCESS") >= 30, what="delivering")
        for _ in range(3):  # as a PostgreSQL restart or failover would
            db.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND application_name = 'pos-consumer'"
            )
            await eventually(
                _more_success_than(db, count_status(db, "SUCCESS")),
                what="delivering after the connections were dropped",
            )
        await eventually(lambda: count_status(db, "SUCCESS") == 300, what="all SUCCESS")
    assert tp.stats()["unique"] == 300


def _more_success_than(db: DB, count: int) -> Callable[[], bool]:
    return lambda: count_status(db, "SUCCESS") > count
