"""When to try a delivery again, and after how long. Pure, no I/O.

Exponential back-off with full jitter (AWS architecture blog, "Exponential Backoff And
Jitter"): a wait drawn uniformly from [0, min(cap, base * 2^(n-1))]. The jitter spreads the
retries of many orders that failed together (an outage) so they do not return as one wave.
A server's ``Retry-After`` is a floor: never come back earlier than it asked.

Two budgets, because the outcomes mean different things (see :mod:`outcomes`):

- ``budget`` counts failures the destination stated (5xx, a refused connection,
  answers that say it is misconfigured) while the breaker was closed, so a single order
  that keeps failing while the others go through ends FAILED after ``budget`` calls.
- ``unknown_budget`` counts calls without a definite answer (timeouts, 409 "key in
  progress"). Such a call may well have been processed, so it is only a safety net
  against an order that hangs the destination for ever, and it is much larger.

A failure of the breaker's probe is charged to neither: it tested the destination.
Before an order is given up, the caller looks its receipt up (see ``processor``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from pos.config import ConsumerSettings
from pos.domain.backoff import Backoff
from pos.order_consumer.outcomes import Failure, Refused, Transient, Unknown


@dataclass(frozen=True, slots=True)
class RetryIn:
    seconds: float


@dataclass(frozen=True, slots=True)
class GiveUp:
    reason: str
    kind: str  # "refused" or "exhausted": the metric label


@dataclass(slots=True)
class Attempts:
    """One order's delivery so far."""

    calls: int = 0
    failures: int = 0  # charged to ``budget``
    unknowns: int = 0  # charged to ``unknown_budget``


@dataclass(frozen=True, slots=True)
class DeliveryRetryPolicy:
    budget: int
    unknown_budget: int
    base_seconds: float
    cap_seconds: float

    @classmethod
    def from_settings(cls, settings: ConsumerSettings) -> DeliveryRetryPolicy:
        return cls(
            budget=settings.consumer_retry_budget,
            unknown_budget=settings.consumer_unknown_outcome_budget,
            base_seconds=settings.consumer_retry_base_seconds,
            cap_seconds=settings.consumer_retry_max_seconds,
        )

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """The wait after failed attempt number ``attempt`` (1-based)."""
        return Backoff(self.base_seconds, self.cap_seconds).jittered(attempt, rng)

    def after_failure(
        self, attempts: Attempts, outcome: Failure, counts: bool, rng: random.Random
    ) -> RetryIn | GiveUp:
        """Record a failed call of ``attempts`` and say what comes next. ``counts`` is
        False for the breaker's probe."""
        if isinstance(outcome, Refused):
            return GiveUp(f"refused by the third party: {outcome.reason}", "refused")
        if isinstance(outcome, Unknown):
            attempts.unknowns += counts
            if attempts.unknowns >= self.unknown_budget:
                return GiveUp(
                    f"no definite answer after {attempts.calls} calls: {outcome.reason}",
                    "exhausted",
                )
        else:
            attempts.failures += counts
            if attempts.failures >= self.budget:
                return GiveUp(
                    f"gave up after {attempts.calls} attempts: {outcome.reason}", "exhausted"
                )
        wait = self.backoff(max(1, attempts.failures + attempts.unknowns), rng)
        if isinstance(outcome, Transient | Unknown) and outcome.retry_after is not None:
            wait = max(wait, outcome.retry_after)
        return RetryIn(wait)
