"""The breaker: when it opens, what it lets through, how it closes and ramps."""

from __future__ import annotations

from pos.order_consumer.breaker import Admission, Breaker, State


def _breaker() -> Breaker:
    return Breaker(threshold=3, open_base_seconds=1.0, open_max_seconds=4.0, ramp_seconds=10.0)


def test_consecutive_failures_open_it_and_a_success_resets_the_count() -> None:
    b = _breaker()
    assert not b.failed(0, Admission.CALL, "503")
    assert not b.failed(0, Admission.CALL, "503")
    b.succeeded(0, Admission.CALL)
    assert not b.failed(0, Admission.CALL, "503")
    assert not b.failed(0, Admission.CALL, "503")
    assert b.failed(0, Admission.CALL, "503"), "the third in a row opens it"
    assert b.state is State.OPEN
    assert b.admit(0.5) is Admission.WAIT
    assert b.open_seconds(0.5) == 0.5
    # Calls that started before it opened change nothing when they fail.
    assert not b.failed(0.6, Admission.CALL, "503")
    assert b.trips == 1


def test_half_open_lets_exactly_one_probe_through_and_backs_off_on_failure() -> None:
    b = _breaker()
    for _ in range(3):
        b.failed(0, Admission.CALL, "timeout")
    assert b.admit(1.0) is Admission.PROBE
    assert b.admit(1.0) is Admission.WAIT, "one probe at a time"
    b.failed(1.1, Admission.PROBE, "timeout")
    assert b.admit(2.5) is Admission.WAIT, "the next probe waits twice as long"
    assert b.admit(3.2) is Admission.PROBE
    b.failed(3.3, Admission.PROBE, "timeout")
    b.failed(3.3 + 4.0, Admission.PROBE, "timeout")  # the interval is capped at 4 s
    assert b.retry_at == 3.3 + 4.0 + 4.0
    assert b.open_seconds(10.0) == 10.0, "open since the first trip, not the last probe"


def test_a_probe_answered_409_is_given_back_and_a_definite_answer_closes() -> None:
    b = _breaker()
    for _ in range(3):
        b.failed(0, Admission.CALL, "503")
    assert b.admit(1.0) is Admission.PROBE
    b.neutral(Admission.PROBE)
    assert b.admit(1.0) is Admission.PROBE
    assert b.succeeded(1.2, Admission.PROBE)
    assert b.state is State.CLOSED
    assert b.opened_at is None


def test_after_closing_the_calls_in_flight_ramp_up() -> None:
    b = _breaker()
    for _ in range(3):
        b.failed(0, Admission.CALL, "503")
    assert b.capacity(0.5, 100) == 1
    b.admit(1.0)
    b.succeeded(1.0, Admission.PROBE)
    assert b.capacity(1.0, 100) == 1
    assert b.capacity(6.0, 100) == 50
    assert b.capacity(11.0, 100) == 100
    assert b.capacity(11.5, 100) == 100


def test_an_answer_every_call_would_get_opens_it_at_once() -> None:
    b = _breaker()
    assert b.failed(0, Admission.CALL, "401 Unauthorized", at_once=True)
    assert b.state is State.OPEN
    assert b.admit(0.5) is Admission.WAIT
