"""The status screen says what an operator must see: down components, backlog and its trend."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from rich.console import Console

from pos.ops.observe import Offsets
from pos.ops.status.facts import (
    DatabaseReading,
    KafkaReading,
    Probe,
    StatusReport,
    ThirdPartyReading,
    assemble,
    orders_by_status,
)
from pos.ops.status.render import duration, render, trend
from pos.order_publisher.admin import OutboxStats


def _report(backlog: int, kafka_up: bool, lag_end: int = 10) -> StatusReport:
    db = DatabaseReading(
        Probe("postgresql", "db:5432/posdb", up=True),
        orders=orders_by_status({"PENDING": backlog, "SUCCESS": 1234}),
        outbox=OutboxStats(backlog=backlog, oldest_unpublished_age_seconds=75.0, parked=0),
        oldest_pending_age_seconds=3725.0,
    )
    probe = Probe("kafka", "k:9092", up=kafka_up, detail="" if kafka_up else "transport failure")
    kafka = (
        KafkaReading(
            probe,
            "order.created",
            "order-consumer",
            "order.created.dlq",
            group_state="stable",
            group_members=1,
            partitions=(Offsets(0, 0, lag_end, 4),),
            dlq_partitions=(),
        )
        if kafka_up
        else KafkaReading(probe, "order.created", "order-consumer", "order.created.dlq")
    )
    third = ThirdPartyReading(
        Probe("third-party", "http://tp:8081", up=True),
        {"received": 100, "unique": 90, "duplicates": 10, "errors": 5, "timeouts": 0},
    )
    services = [Probe("api", "http://127.0.0.1:8000/healthz", up=True)]
    return assemble(datetime(2026, 11, 25, 12, tzinfo=UTC), db, kafka, third, services)


def _text(report: StatusReport, previous: StatusReport | None = None) -> str:
    console = Console(record=True, width=140, color_system=None)
    console.print(render(report, previous))
    return console.export_text()


def test_a_stopped_broker_and_the_growing_backlog_are_on_the_screen() -> None:
    before, now = _report(100, kafka_up=False), _report(250, kafka_up=False)
    text = _text(now, before)
    assert "DEGRADED" in text
    assert "Kafka is DOWN at k:9092; 250 events wait in the outbox" in text
    assert "transport failure" in text
    assert "250 ▲ +150" in text
    assert "unknown (Kafka down or topic missing)" in text


def test_recovery_shows_the_backlog_shrinking() -> None:
    text = _text(_report(20, kafka_up=True), _report(250, kafka_up=True))
    assert "OK" in text
    assert "20 ▼ -230" in text
    assert "DOWN" not in text.replace("● up", "")


def test_the_figures_are_on_the_screen() -> None:
    text = _text(_report(0, kafka_up=True, lag_end=10))
    for expected in (
        "PENDING",
        "1,234",  # SUCCESS orders, with a thousands separator
        "1 min 15 s",  # oldest unpublished
        "oldest PENDING",
        "1 h 2 min",  # oldest PENDING order
        "order-consumer",
        "stable, 1 members",
        "third party duplicates",
        "5.0%",  # error rate
    ):
        assert expected in text, expected
    lag_row = next(line for line in text.splitlines() if line.startswith("│ 0 "))
    assert lag_row.split("│")[1:5] == [" 0         ", " 4         ", " 10         ", " 6   "]


def test_text_from_the_sources_is_shown_as_is_not_read_as_markup() -> None:
    report = _report(1, kafka_up=False)
    odd = Probe("api", "http://[::1]:8000/healthz", up=False, detail="[Errno 111] refused [/x]")
    report = dataclasses.replace(
        report, components=[*report.components, odd], warnings=["[/x] [bold]not bold"]
    )
    text = _text(report)
    assert "[Errno 111] refused [/x]" in text
    assert "http://[::1]:8000/healthz" in text
    assert "[/x] [bold]not bold" in text


def test_trend_and_duration_formatting() -> None:
    assert trend(5, 5) == ""
    assert trend(5, None) == ""
    assert "▲ +3" in trend(8, 5)
    assert "▼ -3" in trend(2, 5)
    assert duration(None) == "-"
    assert duration(3.25) == "3.2 s"
    assert duration(3600 * 2 + 60 * 5) == "2 h 5 min"
