"""A per-device token bucket: a till may burst, but not sustain more than its rate.

Pure and clock-injected (``now`` is passed in), so its arithmetic is tested exactly. It
is kept per process: with several API workers each enforces the limit on the requests it
sees, which is enough to stop one runaway till from starving a store (the purpose) without
a shared store on the hot path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(slots=True)
class TokenBucket:
    rate: float  # tokens added per second
    burst: float  # capacity
    tokens: float
    updated_at: float

    def take(self, now: float) -> float:
        """Spend one token: 0.0 when allowed, else the seconds until one is available."""
        elapsed = max(0.0, now - self.updated_at)
        self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
        self.updated_at = max(self.updated_at, now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class RateLimiter:
    """One bucket per key (a device), created full on first use.

    The number of buckets is bounded by the number of registered devices: the limiter is
    consulted only after authentication, so unknown callers cannot grow it.
    """

    def __init__(self, *, rate: float, burst: int) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self._rate = rate
        self._burst = float(burst)
        self._buckets: dict[str, TokenBucket] = {}

    def take(self, key: str, now: float) -> float:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self._rate, self._burst, self._burst, now)
        return bucket.take(now)


def retry_after_header(wait_seconds: float) -> str:
    """``Retry-After`` takes whole seconds; round up so a client that obeys is let in."""
    return str(max(1, math.ceil(wait_seconds)))
