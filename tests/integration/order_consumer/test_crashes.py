"""`pos consumer` as real processes: SIGKILL mid-batch, a second member joining and
leaving (rebalances), SIGTERM. Nothing may be lost and nothing delivered twice in effect."""

from __future__ import annotations

from pathlib import Path

from pos.config import KafkaSettings
from pos.scratch.processes import ServiceProcess, free_port
from tests.integration.order_consumer.support import (
    DB,
    count_status,
    insert_orders,
    publish,
    scrape,
)
from tests.integration.simulated_third_party.launcher import ThirdParty

ORDERS = 2000


def test_kill_restart_and_rebalances_lose_nothing_and_deliver_each_order_once(
    db: DB, topics: KafkaSettings, tp: ThirdParty, tmp_path: Path
) -> None:
    # Slow enough that each consumer always has a full window (16) of calls in flight.
    tp.reset(latencyMs=50, jitterMs=50)
    orders = insert_orders(db, ORDERS)
    # Half now, half once the second member owns partitions: the first member may well
    # have drained a partition before the rebalance hands it over, so only events
    # published after the assignment guarantee the second member work on each of its
    # partitions.
    publish(topics, orders[: ORDERS // 2])
    env = {
        "ORDER_TOPIC": topics.order_topic,
        "DLQ_TOPIC": topics.dlq_topic,
        "THIRD_PARTY_URL": tp.url,
        "CONSUMER_GROUP": f"crash-{free_port()}",
        "CONSUMER_MAX_IN_FLIGHT": "16",
        "CONSUMER_COMMIT_INTERVAL_SECONDS": "0.2",
        "CONSUMER_SHUTDOWN_GRACE_SECONDS": "5",
    }

    def consumer(name: str) -> ServiceProcess:
        port = str(free_port())
        return ServiceProcess(
            "consumer", env={**env, "CONSUMER_METRICS_PORT": port}, log_dir=tmp_path, name=name
        )

    def succeeded() -> int:
        return count_status(db, "SUCCESS")

    def gauge(process: ServiceProcess, name: str) -> float:
        metrics = scrape(int(process.env["CONSUMER_METRICS_PORT"]))
        [line] = [x for x in metrics.splitlines() if x.startswith(name + " ")]
        return float(line.split()[1])

    def consumed(process: ServiceProcess) -> float:
        return gauge(process, "pos_consumer_consumed_total")

    def owns_partitions(process: ServiceProcess) -> bool:
        return gauge(process, "pos_consumer_assigned_partitions") > 0

    first, second, restarted = consumer("first"), consumer("second"), consumer("restarted")
    try:
        first.start().wait_until(lambda: succeeded() >= 150, what="delivering")
        # The second member joins: a rebalance moves partitions to it, and it delivers.
        second.start().wait_until(lambda: owns_partitions(second), what="given partitions")
        publish(topics, orders[ORDERS // 2 :])
        second.wait_until(lambda: consumed(second) > 0, what="delivering its share")
        assert second.terminate() == 0, second.log()  # leaves with calls in flight
        assert '"abandoned": 0' in second.log(), "it finished its in-flight calls first"
        done = succeeded()
        first.wait_until(lambda: succeeded() >= done + 200, what="delivering alone again")
        first.kill()  # SIGKILL: 16 calls in flight, offsets up to 0.2 s old
        assert succeeded() < ORDERS
        restarted.start().wait_until(lambda: succeeded() == ORDERS, timeout=90, what="done")
        assert restarted.terminate() == 0, restarted.log()
    finally:
        for process in (first, second, restarted):
            process.kill()

    assert count_status(db, "PENDING") == count_status(db, "FAILED") == 0
    stats = tp.stats()
    assert stats["unique"] == ORDERS, stats  # every order delivered, none twice in effect
    assert stats["received"] >= ORDERS
