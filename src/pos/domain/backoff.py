"""The one back-off policy: capped exponential, with or without full jitter. Pure, no I/O.

Attempt ``n`` (1-based) waits up to ``min(cap, base * 2^(n-1))``. ``ceiling`` is that bound,
for waits that must be predictable (a relay backing off from a broker outage as a whole,
a breaker's open interval, a supervisor's restart delay). ``jittered`` draws uniformly
below it ("full jitter", AWS architecture blog, "Exponential Backoff And Jitter"): many
callers that failed together (orders in an outage, tills that lost the API, relays that
lost the database) then come back spread out instead of as one wave.

Retries of calls to a dependency inside a service use ``stamina`` instead, which applies
the same shape; this type serves the retries a service schedules itself (timers, state
machines, loops that must stay interruptible).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

#: Bounds the exponent, so an attempt count in the thousands does not overflow a float.
_MAX_EXPONENT = 62


@dataclass(frozen=True, slots=True)
class Backoff:
    base: float
    cap: float

    def ceiling(self, attempt: int) -> float:
        """The wait bound of attempt ``attempt`` (1-based); 0 before any attempt."""
        if attempt <= 0:
            return 0.0
        return float(min(self.cap, self.base * 2 ** min(attempt - 1, _MAX_EXPONENT)))

    def jittered(self, attempt: int, rng: random.Random | None = None) -> float:
        """A wait drawn uniformly from [0, ``ceiling(attempt)``]."""
        return (rng or random).uniform(0.0, self.ceiling(attempt))
