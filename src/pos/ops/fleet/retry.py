"""How a till reads an answer and when it tries again. Pure, no I/O.

A till that got no answer cannot know whether its order was created, so it sends the same
request with the same Idempotency-Key until it gets one: the API's replay turns "maybe
created" into "created once". A 4xx is final (the request itself is wrong, or a valid sale
is refused): sending it again cannot help.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import Enum

from pos.domain.backoff import Backoff


class Verdict(Enum):
    CREATED = "created"  # 201: the order was created by this request
    REPLAYED = "replayed"  # 201 + Idempotent-Replayed: created earlier, answer replayed
    CONFLICT = "conflict"  # 409: the same key is in flight; retry after a moment
    REJECTED = "rejected"  # any other 4xx: final
    TRANSIENT = "transient"  # 5xx, 429, timeout, connection refused/reset: retry


def classify(status: int | None, *, replayed: bool) -> Verdict:
    """``status`` None means no HTTP answer at all (timeout or connection error)."""
    if status is None or status >= 500 or status == 429:
        return Verdict.TRANSIENT
    if status == 409:
        return Verdict.CONFLICT
    if 200 <= status < 300:
        return Verdict.REPLAYED if replayed else Verdict.CREATED
    return Verdict.REJECTED


@dataclass(frozen=True)
class TillRetryPolicy:
    timeout: float = 2.0  # one request; past it the till assumes the answer is lost
    base: float = 0.05
    cap: float = 2.0
    max_attempts: int = 200
    give_up_after: float = 300.0  # seconds since the first attempt

    def delay(self, attempt: int, rng: random.Random, retry_after: float | None = None) -> float:
        """Back-off before attempt ``attempt + 1``: capped exponential with full jitter.

        Full jitter spreads a fleet that lost the API at the same instant, so the API's
        restart is not met by every till at once. A server's Retry-After is honoured as a
        floor, within the cap.
        """
        wait = Backoff(self.base, self.cap).jittered(attempt + 1, rng)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.cap))
        return wait

    def exhausted(self, attempts: int, elapsed: float) -> bool:
        return attempts >= self.max_attempts or elapsed >= self.give_up_after


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (the HTTP-date form is not used by this API)."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
