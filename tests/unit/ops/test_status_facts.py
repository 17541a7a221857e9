"""`pos status` arithmetic: lag, rates, the report and its warnings (pure, no I/O)."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from pos.ops.observe import Offsets
from pos.ops.status.facts import (
    DatabaseReading,
    KafkaReading,
    Probe,
    ThirdPartyReading,
    assemble,
    breaker_view,
    messages_in,
    orders_by_status,
    partition_lag,
    rate,
    to_json,
)
from pos.order_publisher.admin import OutboxStats

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _db(up: bool = True, backlog: int = 0, parked: int = 0, failed: int = 0) -> DatabaseReading:
    if not up:
        return DatabaseReading(Probe("postgresql", "db:5432/posdb", up=False, detail="refused"))
    return DatabaseReading(
        Probe("postgresql", "db:5432/posdb", up=True),
        orders=orders_by_status({"PENDING": backlog, "FAILED": failed}),
        outbox=OutboxStats(backlog=backlog, oldest_unpublished_age_seconds=1.5, parked=parked),
    )


def _kafka(up: bool = True, members: int = 1) -> KafkaReading:
    probe = Probe("kafka", "k:9092", up=up, detail="" if up else "transport failure")
    if not up:
        return KafkaReading(probe, "order.created", "order-consumer", "order.created.dlq")
    return KafkaReading(
        probe,
        "order.created",
        "order-consumer",
        "order.created.dlq",
        group_state="stable",
        group_members=members,
        partitions=(Offsets(0, 0, 10, 7), Offsets(1, 0, 5, None)),
        dlq_partitions=(Offsets(0, 2, 5),),
    )


def _third_party(stats: dict[str, int] | None = None) -> ThirdPartyReading:
    return ThirdPartyReading(Probe("third-party", "http://tp:8081", up=stats is not None), stats)


def test_lag_is_end_minus_committed() -> None:
    assert partition_lag(Offsets(3, low=0, high=10, committed=7)).lag == 3


def test_without_a_commit_the_group_starts_at_the_log_start() -> None:
    lag = partition_lag(Offsets(0, low=4, high=10, committed=None))
    assert (lag.committed, lag.end, lag.lag) == (None, 10, 6)


def test_a_commit_below_the_log_start_counts_from_the_log_start() -> None:
    assert partition_lag(Offsets(0, low=50, high=60, committed=10)).lag == 10


@settings(max_examples=200)
@given(
    low=st.integers(0, 10**9),
    size=st.integers(0, 10**6),
    committed=st.none() | st.integers(0, 2 * 10**9),
)
def test_lag_is_never_negative_nor_more_than_the_log(
    low: int, size: int, committed: int | None
) -> None:
    lag = partition_lag(Offsets(0, low=low, high=low + size, committed=committed)).lag
    assert 0 <= lag <= size


def test_dlq_size_is_what_is_left_in_the_log() -> None:
    assert messages_in([Offsets(0, 2, 5), Offsets(1, 0, 0)]) == 3
    assert messages_in(None) is None


def test_rates_need_received_calls_and_the_fields() -> None:
    stats = {"received": 200, "errors": 10, "timeouts": 10, "refused": 4}
    assert rate(stats, "errors", "timeouts") == 0.1
    assert rate(stats, "refused") == 0.02
    assert rate({"received": 0, "errors": 0}, "errors") is None
    assert rate({"received": 5}, "errors") is None
    assert rate(None, "errors") is None


def test_orders_by_status_lists_every_status_in_lifecycle_order() -> None:
    assert orders_by_status({"FAILED": 2}) == {"PENDING": 0, "SUCCESS": 0, "FAILED": 2}


def test_a_healthy_report() -> None:
    stats = {"received": 10, "unique": 10, "duplicates": 0, "errors": 1, "timeouts": 0}
    report = assemble(NOW, _db(failed=2), _kafka(), _third_party(stats), [])
    assert report.healthy
    assert report.consumer.total_lag == 3 + 5
    assert [p.lag for p in report.consumer.partitions or []] == [3, 5]
    assert (report.dlq.failed_orders, report.dlq.messages) == (2, 3)
    assert report.third_party.error_rate == 0.1
    assert report.warnings == ["2 orders FAILED: `pos dlq list`, `pos dlq redrive`"]


def test_a_stopped_broker_is_unhealthy_and_names_the_waiting_backlog() -> None:
    report = assemble(NOW, _db(backlog=42), _kafka(up=False), _third_party(), [])
    assert not report.healthy
    assert not report.probe("kafka").up
    assert report.consumer.partitions is None
    assert report.consumer.total_lag is None
    assert report.dlq.messages is None
    assert report.warnings[0] == (
        "Kafka is DOWN at k:9092; 42 events wait in the outbox: nothing is relayed"
    )


def test_an_open_breaker_is_a_warning_with_how_long_it_has_been_open() -> None:
    breaker = breaker_view(2.0, 1_000.0, now=1_090.5)
    report = assemble(NOW, _db(), _kafka(), _third_party(), [], breaker=breaker)
    assert report.breaker is not None
    assert (report.breaker.state, report.breaker.open_for_seconds) == ("open", 90.5)
    assert report.warnings == [
        "the third party's circuit breaker is OPEN for 90 s: "
        "consumption is paused, orders wait (none is failed for it)"
    ]
    assert to_json(report)["breaker"] == {"state": "open", "open_for_seconds": 90.5}


def test_a_closed_breaker_warns_of_nothing_and_a_missing_gauge_is_unknown() -> None:
    closed = breaker_view(0.0, 0.0, now=5.0)
    assert closed is not None
    assert (closed.state, closed.open_for_seconds) == ("closed", None)
    assert assemble(NOW, _db(), _kafka(), _third_party(), [], breaker=closed).warnings == []
    assert breaker_view(None, None, now=5.0) is None


def test_unknown_is_not_zero_when_postgresql_is_down() -> None:
    report = assemble(NOW, _db(up=False), _kafka(), _third_party(), [])
    assert not report.healthy
    assert report.orders is None
    assert report.outbox is None
    assert report.dlq.failed_orders is None
    assert report.warnings[0].startswith("PostgreSQL is DOWN")


def test_a_database_that_answers_without_figures_is_not_healthy() -> None:
    db = DatabaseReading(
        Probe("postgresql", "db:5432/x", up=True, detail='relation "orders" does not exist')
    )
    report = assemble(NOW, db, _kafka(), _third_party(), [])
    assert not report.healthy
    assert report.warnings[0] == (
        'PostgreSQL answers but relation "orders" does not exist (is it migrated? `pos migrate`)'
    )


def test_parked_events_and_an_empty_group_with_work_are_warned_about() -> None:
    report = assemble(NOW, _db(parked=3), _kafka(members=0), _third_party(), [])
    assert "3 outbox events are parked: they need an operator" in report.warnings
    assert "consumer group order-consumer has no members and 8 to do" in report.warnings


def test_json_document_is_plain_json() -> None:
    api = Probe("api", "http://127.0.0.1:8000/healthz", up=True)
    doc = to_json(assemble(NOW, _db(backlog=1), _kafka(), _third_party(), [api]))
    again = json.loads(json.dumps(doc))
    assert again["taken_at"] == "2026-11-25T12:00:00+00:00"
    assert [c["name"] for c in again["components"]] == [
        "postgresql",
        "kafka",
        "api",
        "third-party",
    ]
    assert again["outbox"] == {"backlog": 1, "oldest_unpublished_age_seconds": 1.5, "parked": 0}
    assert again["consumer"]["partitions"][0] == {
        "partition": 0,
        "committed": 7,
        "end": 10,
        "lag": 3,
    }


def test_an_order_pending_past_twice_the_redelivery_limit_is_warned_about() -> None:
    db = dataclasses.replace(_db(backlog=1), oldest_pending_age_seconds=1500.0)
    stuck = assemble(NOW, db, _kafka(), _third_party(), [], stuck_after=1200)
    assert stuck.oldest_pending_age_seconds == 1500.0
    assert stuck.warnings == [
        "the oldest PENDING order waits for 25 min, its event re-issued and still not "
        "delivered: is a consumer running?"
    ]
    assert assemble(NOW, db, _kafka(), _third_party(), [], stuck_after=1800).warnings == []
