"""Unknown outcomes, outages and evidence, against the real PostgreSQL, Kafka and third
party: an order the third party accepted never ends FAILED, and an outage of any length
fails no order."""

from __future__ import annotations

from pos.config import KafkaSettings
from pos.domain.status import OrderStatus
from pos.order_consumer.repository import FinalStatus, StatusWriter
from pos.scratch.processes import free_port
from tests.integration.order_consumer.support import (
    DB,
    count_status,
    eventually,
    insert_orders,
    publish,
    read_topic,
    running_consumer,
    scrape,
    statuses,
)
from tests.integration.simulated_third_party.launcher import ThirdParty

NO_BREAKER = {"consumer_breaker_threshold": 1_000_000}
# A breaker that probes and closes within a second: the tests watch it open and recover.
QUICK_BREAKER = {
    "consumer_breaker_open_seconds": 0.1,
    "consumer_breaker_max_open_seconds": 0.4,
    "consumer_breaker_ramp_seconds": 0.5,
}


def _metric(metrics: str, name: str) -> float:
    values = [float(x.split()[-1]) for x in metrics.splitlines() if x.startswith(name + " ")]
    return values[0] if values else 0.0


async def test_an_outage_fails_no_order_and_the_breaker_shows_it(
    db: DB, topics: KafkaSettings, tp: ThirdParty
) -> None:
    tp.reset(outage=True)
    orders = insert_orders(db, 40)
    publish(topics, orders)
    port = free_port()
    async with running_consumer(
        topics,
        tp.url,
        consumer_metrics_port=port,
        consumer_retry_budget=3,  # without the breaker, each order fails in well under 1 s
        consumer_breaker_threshold=5,
        **QUICK_BREAKER,
    ):
        await eventually(
            lambda: _metric(scrape(port), "pos_consumer_breaker_state") == 2, what="open"
        )
        assert _metric(scrape(port), "pos_consumer_breaker_open_since_seconds") > 0
        calls_when_opened = tp.stats()["received"]
        # Several probes fail (the outage outlasts many open intervals); orders only wait.
        await eventually(lambda: tp.stats()["received"] >= calls_when_opened + 5, what="probes")
        metrics = scrape(port)
        assert _metric(metrics, "pos_consumer_paused") == 1, "no new work while open"
        assert count_status(db, "FAILED") == 0
        tp.faults(outage=False)
        await eventually(lambda: count_status(db, "SUCCESS") == 40, what="all SUCCESS")
        metrics = scrape(port)
    assert count_status(db, "FAILED") == 0
    assert _metric(metrics, "pos_consumer_breaker_state") == 0
    assert 'pos_consumer_breaker_trips_total{kind="transient"} 1.0' in metrics
    assert tp.stats()["unique"] == 40


async def test_calls_answered_after_the_timeout_spend_no_budget(
    db: DB, topics: KafkaSettings, tp: ThirdParty
) -> None:
    """Every call is processed but answered after the client's timeout, far longer than
    the budget of 3 would allow if a timeout counted as a failure."""
    tp.reset(timeoutRate=1, hangMs=1500)
    orders = insert_orders(db, 20)
    publish(topics, orders)
    async with running_consumer(topics, tp.url, consumer_retry_budget=3, **NO_BREAKER):
        await eventually(lambda: tp.stats()["timeouts"] >= 20 * 5, within=60, what="5 calls each")
        assert count_status(db, "FAILED") == 0
        tp.faults(timeoutRate=0)
        await eventually(lambda: count_status(db, "SUCCESS") == 20, what="all SUCCESS")
    stats = tp.stats()
    assert stats["unique"] == 20, "exactly one receipt per order"


async def test_key_in_progress_answers_spend_no_budget(
    db: DB, topics: KafkaSettings, tp: ThirdParty
) -> None:
    """60 % of calls answered 409 "key in progress": with a budget of 3, about one order
    in five would fail if a 409 counted as a failure (0.6 ** 3)."""
    tp.reset(conflictRate=0.6)
    orders = insert_orders(db, 40)
    publish(topics, orders)
    async with running_consumer(topics, tp.url, consumer_retry_budget=3, **NO_BREAKER):
        await eventually(lambda: count_status(db, "SUCCESS") == 40, within=60, what="SUCCESS")
    stats = tp.stats()
    assert count_status(db, "FAILED") == 0
    assert stats["conflicts"] >= 40, "the window was open while the orders were delivered"
    assert stats["unique"] == 40, "exactly one receipt per order"


async def test_a_misconfigured_destination_opens_the_breaker_and_fails_no_order(
    db: DB, topics: KafkaSettings, tp: ThirdParty
) -> None:
    """401 on every call is the destination's fault (a revoked credential), not the
    orders': the breaker opens and alerts, no order is failed one by one."""
    tp.reset(statusOverride=401)
    orders = insert_orders(db, 20)
    publish(topics, orders)
    port = free_port()
    async with running_consumer(
        topics,
        tp.url,
        consumer_metrics_port=port,
        consumer_retry_budget=2,
        consumer_breaker_threshold=3,
        **QUICK_BREAKER,
    ):
        await eventually(
            lambda: 'pos_consumer_breaker_trips_total{kind="misconfigured"}' in scrape(port),
            what="open as misconfigured",
        )
        overridden = tp.stats()["overridden"]
        await eventually(lambda: tp.stats()["overridden"] >= overridden + 3, what="probes")
        assert count_status(db, "FAILED") == 0
        tp.faults(statusOverride=None)
        await eventually(lambda: count_status(db, "SUCCESS") == 20, what="all SUCCESS")
    assert count_status(db, "FAILED") == 0
    assert tp.stats()["unique"] == 20


async def test_an_order_given_up_after_unknown_outcomes_succeeds_by_its_receipt(
    db: DB, topics: KafkaSettings, tp: ThirdParty
) -> None:
    """Its unknown-outcome budget spent, the order is not failed: the third party holds a
    receipt for it (the calls were processed), so it is SUCCESS."""
    tp.reset(timeoutRate=1, hangMs=1500)
    orders = insert_orders(db, 5)
    publish(topics, orders)
    async with running_consumer(topics, tp.url, consumer_unknown_outcome_budget=2, **NO_BREAKER):
        await eventually(lambda: count_status(db, "SUCCESS") == 5, within=60, what="SUCCESS")
    rows = db.execute("SELECT id, receipt_ref FROM orders").fetchall()
    assert {ref for _id, ref in rows} == {tp.receipt_ref(str(i)) for i, _ref in rows}
    assert tp.stats()["timeouts"] >= 10, "every order had its calls time out"


async def test_a_single_order_that_keeps_failing_ends_failed_while_the_others_flow(
    db: DB, topics: KafkaSettings, tp: ThirdParty
) -> None:
    stuck, *others = insert_orders(db, 30)
    tp.reset(errorKeys=[str(stuck.id)])
    port = free_port()
    async with running_consumer(
        topics, tp.url, consumer_retry_budget=4, consumer_metrics_port=port
    ) as settings:
        publish(topics, [stuck, *others])
        await eventually(lambda: count_status(db, "SUCCESS") == 29, what="the others")
        await eventually(lambda: statuses(db, [stuck])[stuck.id] == "FAILED", what="FAILED")
        metrics = scrape(port)
    assert "pos_consumer_breaker_trips_total{" not in metrics, "the breaker never opened"
    [letter] = read_topic(topics, topics.dlq_topic, expect=1)
    assert letter.key() == str(stuck.id).encode()
    assert settings.consumer_retry_budget == 4


async def test_a_failed_order_holding_a_receipt_is_corrected_to_success(
    db: DB, topics: KafkaSettings, tp: ThirdParty
) -> None:
    [order] = insert_orders(db, 1)
    # An earlier copy of its event ended FAILED, though the third party got the order.
    db.execute(
        "UPDATE orders SET status = 'FAILED', last_error = 'gave up' WHERE id = %s", (order.id,)
    )
    assert tp.order(str(order.id)).status_code == 201
    port = free_port()
    async with running_consumer(topics, tp.url, consumer_metrics_port=port):
        publish(topics, [order])
        await eventually(lambda: statuses(db, [order])[order.id] == "SUCCESS", what="corrected")
        # The row commits before the consumer counts it: the counter is its own condition.
        await eventually(
            lambda: _metric(scrape(port), "pos_consumer_corrected_total") == 1, what="counted"
        )
    row = db.execute(
        "SELECT receipt_ref, last_error, processed_at FROM orders WHERE id = %s", (order.id,)
    ).fetchone()
    assert row is not None
    assert row[0] == tp.receipt_ref(str(order.id))
    assert row[1] is None
    assert row[2] is not None
    assert tp.stats()["received"] == 1, "corrected by the lookup, without a second call"


async def test_success_wins_over_failed_and_is_never_downgraded(db: DB, database_url: str) -> None:
    import asyncio

    from pos.db.pool import create_pool

    a, b, c = insert_orders(db, 3)
    pool = await create_pool(min_size=1, max_size=2)
    writer = StatusWriter(pool)
    runner = asyncio.create_task(writer.run())
    try:
        # Two copies of one event: the FAILED one is written first.
        assert await writer.write(FinalStatus(a.id, OrderStatus.FAILED, 8, last_error="x"))
        replaced = await writer.write(FinalStatus(a.id, OrderStatus.SUCCESS, 1, receipt_ref="r"))
        assert replaced is OrderStatus.FAILED
        # SUCCESS first: the FAILED copy changes nothing.
        assert await writer.write(FinalStatus(b.id, OrderStatus.SUCCESS, 1, receipt_ref="r"))
        assert await writer.write(FinalStatus(b.id, OrderStatus.FAILED, 8)) is None
        # Both in one flush.
        both = await asyncio.gather(
            writer.write(FinalStatus(c.id, OrderStatus.FAILED, 8, last_error="x")),
            writer.write(FinalStatus(c.id, OrderStatus.SUCCESS, 1, receipt_ref="r")),
        )
        assert both == [None, OrderStatus.PENDING]
    finally:
        runner.cancel()
        await pool.close()
    assert set(statuses(db, [a, b, c]).values()) == {"SUCCESS"}
