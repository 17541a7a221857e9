"""A circuit breaker per destination. Pure, no I/O: the caller passes the clock.

Why: without it an outage of the third party is paid for by the orders. Every order in
flight retries, spends its budget and ends FAILED, though nothing is wrong with it; and
when the destination comes back, every waiting order calls at once. The breaker turns
"the destination is down" into one fact that holds all of them instead:

- CLOSED: calls flow. ``threshold`` consecutive failures (5xx, timeouts, connection
  errors) open it; one answer that says the destination is misconfigured (401, 403,
  404: every call would get it) opens it at once. A definite answer
  about an order (2xx, a refusal) resets the count; a 409 "key in progress" says nothing
  either way.
- OPEN: no call is made. Orders wait without spending their budget, and the consumer
  stops taking new work (see ``kafka_loop``). After an interval that doubles with each
  failed probe (up to a cap) it goes HALF-OPEN.
- HALF-OPEN: exactly one call, the probe, is let through. A definite answer closes the
  breaker; a failure opens it again for a longer interval. A probe's failure is never
  charged to its order.
- After closing, the number of calls allowed at once ramps up linearly from 1 to the
  in-flight limit over ``ramp_seconds``, so the backlog drains at a bounded rate instead
  of as a retry storm.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from pos.domain.backoff import Backoff


class State(Enum):
    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


class Admission(Enum):
    CALL = "call"  # a normal call: its failure counts toward the order's budget
    PROBE = "probe"  # the half-open probe: its failure does not
    WAIT = "wait"  # open, or a probe is already out


@dataclass(slots=True)
class Breaker:
    threshold: int
    open_base_seconds: float
    open_max_seconds: float
    ramp_seconds: float
    state: State = State.CLOSED
    consecutive_failures: int = 0
    #: When the breaker last left CLOSED (None while closed): how long it has been open.
    opened_at: float | None = None
    #: When an OPEN breaker lets its next probe through.
    retry_at: float = 0.0
    probes_failed: int = 0
    probe_out: bool = False
    closed_at: float | None = None
    reason: str = ""
    trips: int = field(default=0)

    def admit(self, now: float) -> Admission:
        if self.state is State.CLOSED:
            return Admission.CALL
        if self.state is State.OPEN and now >= self.retry_at:
            self.state = State.HALF_OPEN
        if self.state is State.HALF_OPEN and not self.probe_out:
            self.probe_out = True
            return Admission.PROBE
        return Admission.WAIT

    def wait_hint(self, now: float) -> float:
        """How long a waiting caller may sleep before the state can change by itself."""
        if self.state is State.OPEN:
            return max(0.0, self.retry_at - now)
        return self.open_base_seconds  # a probe is out: its answer will wake the waiters

    def succeeded(self, now: float, admission: Admission) -> bool:
        """A definite answer. Returns True when this closed the breaker."""
        self.consecutive_failures = 0
        if admission is Admission.PROBE:
            self.probe_out = False
        if self.state is State.CLOSED:
            return False
        self.state = State.CLOSED
        self.opened_at = None
        self.probes_failed = 0
        self.probe_out = False
        self.closed_at = now
        return True

    def neutral(self, admission: Admission) -> None:
        """An answer that says nothing about the destination's health (409 key in
        progress). A probe that gets one is given back, so another may go."""
        if admission is Admission.PROBE:
            self.probe_out = False

    def failed(self, now: float, admission: Admission, reason: str, at_once: bool = False) -> bool:
        """A failure of the destination (``at_once``: one that every call would get).
        Returns True when this opened the breaker."""
        self.reason = reason
        if admission is Admission.PROBE:
            self.probe_out = False
            self.probes_failed += 1
            self._open(now)
            return False  # it was open already
        if self.state is not State.CLOSED:
            return False  # a call that started before the breaker opened
        self.consecutive_failures += 1
        if self.consecutive_failures < self.threshold and not at_once:
            return False
        self.trips += 1
        self.opened_at = now
        self._open(now)
        return True

    def capacity(self, now: float, limit: int) -> int:
        """Calls allowed at once: ``limit`` when closed and settled, ramping after a close."""
        if self.state is not State.CLOSED:
            return 1
        if self.closed_at is None or self.ramp_seconds <= 0:
            return limit
        share = (now - self.closed_at) / self.ramp_seconds
        if share >= 1:
            self.closed_at = None
            return limit
        return max(1, int(limit * share))

    def open_seconds(self, now: float) -> float:
        return 0.0 if self.opened_at is None else now - self.opened_at

    def _open(self, now: float) -> None:
        self.state = State.OPEN
        backoff = Backoff(self.open_base_seconds, self.open_max_seconds)
        self.retry_at = now + backoff.ceiling(self.probes_failed + 1)
