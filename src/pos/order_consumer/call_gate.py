"""The asynchronous side of the breaker: callers wait here, not in a retry loop.

:class:`~pos.order_consumer.breaker.Breaker` decides; this module makes callers wait for
its decision (a condition variable woken by every answer, plus a timer for the OPEN to
HALF-OPEN step), bounds the calls in flight (the breaker's ramp after a close), and
reports every change of state in the metrics and the logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from pos.logging import get_logger
from pos.order_consumer.breaker import Admission, Breaker, State
from pos.order_consumer.metrics import ConsumerMetrics
from pos.order_consumer.outcomes import Delivered, Misconfigured, Outcome, Refused, Unknown

log = get_logger(__name__)

RAMP_STEP = 0.05  # seconds between two looks at the growing capacity during the ramp


class CallGate:
    def __init__(
        self,
        breaker: Breaker,
        limit: int,
        metrics: ConsumerMetrics,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.breaker = breaker
        self._limit = limit
        self._metrics = metrics
        self._clock = clock
        self._changed = asyncio.Condition()
        self.in_flight = 0

    @property
    def holding(self) -> bool:
        """True while the breaker keeps calls back: the consumer takes no new work."""
        return self.breaker.state is not State.CLOSED

    async def enter(self) -> Admission:
        """Wait until a call may be made; the answer says whether it is the probe."""
        async with self._changed:
            while True:
                now = self._clock()
                admission = self.breaker.admit(now)
                if admission is Admission.PROBE:
                    break
                if admission is Admission.CALL:
                    if self.in_flight < self.breaker.capacity(now, self._limit):
                        break
                    timeout = RAMP_STEP
                else:
                    timeout = max(0.001, self.breaker.wait_hint(now))
                self._publish()
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for runs the wait in a
                # task of its own and, cancelled while that task is still taking the lock
                # back, raises at once; ``async with`` then releases a lock this caller does
                # not hold ("Lock is not acquired"). In this task the lock is always retaken.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await self._changed.wait()
            self.in_flight += 1
            self._publish()
            return admission

    async def leave(self, admission: Admission, outcome: Outcome | None) -> None:
        """Report the call's outcome (None: the call was cancelled) and wake the waiters."""
        async with self._changed:
            self.in_flight -= 1
            now = self._clock()
            if outcome is None:
                self.breaker.neutral(admission)
            elif isinstance(outcome, Delivered | Refused):
                if self.breaker.succeeded(now, admission):
                    log.warning("third party breaker closed", reason=self.breaker.reason)
            elif isinstance(outcome, Unknown) and outcome.answered:
                self.breaker.neutral(admission)  # 409/429: alive, just not for this key now
            else:
                kind = _kind(outcome)
                opened = self.breaker.failed(
                    now, admission, outcome.reason, at_once=isinstance(outcome, Misconfigured)
                )
                if opened:
                    self._metrics.breaker_trips.labels(kind).inc()
                    if isinstance(outcome, Misconfigured):
                        log.error(
                            "third party rejects every call: check THIRD_PARTY_URL and "
                            "its credentials; orders wait, none is failed",
                            status=outcome.status,
                            reason=outcome.reason,
                        )
                    else:
                        log.error(
                            "third party breaker opened: orders wait, none is failed",
                            kind=kind,
                            reason=outcome.reason,
                            consecutive_failures=self.breaker.threshold,
                        )
            self._publish()
            self._changed.notify_all()

    def _publish(self) -> None:
        breaker = self.breaker
        self._metrics.breaker_state.set(breaker.state.value)
        opened = breaker.opened_at
        self._metrics.breaker_open_since.set(
            0 if opened is None else time.time() - (self._clock() - opened)
        )


def _kind(outcome: Outcome) -> str:
    if isinstance(outcome, Misconfigured):
        return "misconfigured"
    if isinstance(outcome, Unknown):
        return "unknown"
    return "transient"
