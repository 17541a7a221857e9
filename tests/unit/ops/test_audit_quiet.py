"""The auditor's wait for a quiet system, on a scripted probe and a fake clock."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from pos.ops.audit.quiet import wait_for_quiet


@dataclass(frozen=True)
class State:
    pending: int
    received: int = 0

    @property
    def drained(self) -> bool:
        return self.pending == 0


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def probe_of(states: list[State | None]) -> Iterator[State | None]:
    yield from states
    while True:
        yield states[-1]


def wait(states: list[State | None], *, timeout: float = 60.0) -> tuple[bool, float]:
    clock = Clock()
    probe = probe_of(states)
    outcome = wait_for_quiet(
        lambda: next(probe),
        timeout=timeout,
        quiet_for=3.0,
        interval=1.0,
        clock=clock,
        sleep=clock.sleep,
    )
    return outcome.quiet, outcome.seconds


def test_quiet_once_drained_and_unchanged_for_the_quiet_period() -> None:
    # Draining for 3 s, then nothing moves: quiet counted from the moment it stopped.
    assert wait([State(5), State(2), State(1), State(0)]) == (True, 3.0)


def test_a_drained_system_still_moving_is_not_quiet_yet() -> None:
    # Every order final, but the third party still receives re-deliveries for a while.
    states = [State(0, received=n) for n in (10, 11, 12, 13, 14)]
    assert wait(states) == (True, 4.0)


def test_an_unreachable_part_resets_the_quiet_period() -> None:
    assert wait([State(0), State(0), None, State(0)]) == (True, 3.0)


def test_stuck_pending_orders_end_the_wait_at_the_bound() -> None:
    assert wait([State(3)], timeout=10.0) == (False, 10.0)
