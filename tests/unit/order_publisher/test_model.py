"""The relay's pure decisions: back-off, settling a batch, broker state, where to scan."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pos.order_publisher.model import (
    BrokerHealth,
    DeliveryFailure,
    FailureKind,
    OutboxRow,
    RowRetryPolicy,
    ScanCursor,
    Transition,
    backoff_seconds,
    settle,
)

POLICY = RowRetryPolicy(max_attempts=3, base_seconds=0.5, max_seconds=60)


def row(id_: int, attempts: int = 0) -> OutboxRow:
    return OutboxRow(
        id=id_,
        event_id=f"e-{id_}",
        aggregate_id=f"o-{id_}",
        event_type="order.created",
        topic="t",
        payload=b"{}",
        headers={},
        created_at=0.0,
        attempts=attempts,
    )


@settings(max_examples=200)
@given(st.integers(1, 10_000), st.floats(0.001, 10), st.floats(0.001, 600))
def test_backoff_starts_at_base_doubles_and_never_exceeds_the_cap(
    failures: int, base: float, cap: float
) -> None:
    delay = backoff_seconds(failures, base, cap)
    assert 0 < delay <= cap
    assert backoff_seconds(1, base, cap) == min(base, cap)
    assert backoff_seconds(failures + 1, base, cap) >= delay


def test_no_failure_no_backoff() -> None:
    assert backoff_seconds(0, 1, 10) == 0


def test_a_batch_without_failures_is_published_whole() -> None:
    outcome = settle([row(1), row(2)], [], POLICY)
    assert outcome.published == [1, 2]
    assert not outcome.retries
    assert not outcome.broker_failed


def test_broker_failures_leave_rows_untouched_and_message_failures_charge_them() -> None:
    rows = [row(1), row(2, attempts=1), row(3, attempts=2), row(4)]
    failures = [
        DeliveryFailure(1, FailureKind.BROKER, "_MSG_TIMED_OUT"),
        DeliveryFailure(2, FailureKind.MESSAGE, "MSG_SIZE_TOO_LARGE"),
        DeliveryFailure(3, FailureKind.MESSAGE, "MSG_SIZE_TOO_LARGE"),
    ]
    outcome = settle(rows, failures, POLICY)
    assert outcome.published == [4]
    assert outcome.untouched == [1]
    assert outcome.broker_failed
    assert outcome.broker_error == "_MSG_TIMED_OUT"
    second, third = outcome.retries
    assert (second.row_id, second.attempts, second.park, second.delay_seconds) == (2, 2, False, 1)
    assert (third.row_id, third.attempts, third.park) == (3, 3, True)
    assert outcome.parked == [third]


@settings(max_examples=50)
@given(st.integers(0, 20))
def test_a_refused_row_parks_exactly_when_it_reaches_max_attempts(attempts: int) -> None:
    failure = DeliveryFailure(1, FailureKind.MESSAGE, "x")
    (retry,) = settle([row(1, attempts)], [failure], POLICY).retries
    assert retry.attempts == attempts + 1
    assert retry.park == (attempts + 1 >= POLICY.max_attempts)


def test_broker_state_changes_are_reported_once_each() -> None:
    health = BrokerHealth(base_seconds=0.5, max_seconds=4)
    transitions = [health.record(broker_failed=True, now=float(t)) for t in range(6)]
    assert transitions == [Transition.WENT_DOWN, None, None, None, None, None]
    assert not health.available
    # Back-off grows with each failed round and stops at the cap.
    assert health.resume_at == 5 + 4
    assert health.record(broker_failed=False, now=20.0) is Transition.CAME_BACK
    assert health.outage_seconds(20.0) == 20
    assert health.available
    assert health.resume_at == 0
    assert health.record(broker_failed=False, now=21.0) is None


def test_refusals_alone_do_not_mark_the_broker_down() -> None:
    health = BrokerHealth(base_seconds=0.5, max_seconds=4)
    outcome = settle([row(1)], [DeliveryFailure(1, FailureKind.MESSAGE, "x")], POLICY)
    assert health.record(broker_failed=outcome.broker_failed, now=0) is None
    assert health.available


def test_scan_starts_after_the_batches_in_flight_only_while_draining() -> None:
    cursor = ScanCursor(rescan_interval=1.0)
    assert cursor.start_after(now=0.0) == 0
    cursor.claimed(2000, full=True)  # batch 1..2000 in flight, more rows behind it
    assert cursor.start_after(now=0.1) == 2000
    cursor.claimed(4000, full=True)
    cursor.settled(left_rows=False)  # batch 1 done, batch 2 still in flight
    assert cursor.start_after(now=0.2) == 4000
    # At least once per interval, a full scan finds rows the frontier passed over.
    assert cursor.start_after(now=1.5) == 0
    assert cursor.start_after(now=1.6) == 4000


def test_scan_restarts_from_the_oldest_row_when_idle_or_after_a_failure() -> None:
    cursor = ScanCursor(rescan_interval=1.0)
    cursor.start_after(now=0.0)
    cursor.claimed(10, full=False)  # a partial batch: no backlog, latency matters
    assert cursor.start_after(now=0.1) == 0
    cursor.claimed(2000, full=True)
    assert cursor.start_after(now=0.2) == 2000
    cursor.settled(left_rows=True)  # rows were left unpublished behind the frontier
    cursor.claimed(4000, full=True)
    assert cursor.start_after(now=0.3) == 0
    cursor.settled(left_rows=False)
    cursor.settled(left_rows=False)
    assert cursor.in_flight == 0
    assert cursor.frontier == 0
