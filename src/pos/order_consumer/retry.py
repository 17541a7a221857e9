"""When to try a delivery again, and after how long. Pure, no I/O.

Exponential back-off with full jitter (AWS architecture blog, "Exponential Backoff And
Jitter"): a wait drawn uniformly from [0, min(cap, base * 2^(n-1))]. The jitter spreads the
retries of many orders that failed together (an outage) so they do not return as one wave.
A server's ``Retry-After`` is a floor: never come back earlier than it asked.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from pos.config import ConsumerSettings
from pos.order_consumer.outcomes import Refused, Transient


@dataclass(frozen=True, slots=True)
class RetryIn:
    seconds: float


@dataclass(frozen=True, slots=True)
class GiveUp:
    reason: str
    kind: str  # "refused" or "exhausted": the metric label


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    budget: int  # attempts in all, the first one included
    base_seconds: float
    cap_seconds: float

    @classmethod
    def from_settings(cls, settings: ConsumerSettings) -> RetryPolicy:
        return cls(
            budget=settings.consumer_retry_budget,
            base_seconds=settings.consumer_retry_base_seconds,
            cap_seconds=settings.consumer_retry_max_seconds,
        )

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """The wait after failed attempt number ``attempt`` (1-based)."""
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** min(attempt - 1, 62))
        return rng.uniform(0.0, ceiling)

    def after_failure(
        self, attempt: int, outcome: Refused | Transient, rng: random.Random
    ) -> RetryIn | GiveUp:
        if isinstance(outcome, Refused):
            return GiveUp(f"refused by the third party: {outcome.reason}", "refused")
        if attempt >= self.budget:
            return GiveUp(f"gave up after {attempt} attempts: {outcome.reason}", "exhausted")
        wait = self.backoff(attempt, rng)
        if outcome.retry_after is not None:
            wait = max(wait, outcome.retry_after)
        return RetryIn(wait)
