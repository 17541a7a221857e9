"""The token bucket: bursts up to its size, then exactly its rate, with a truthful wait."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pos.security.ratelimit import RateLimiter, TokenBucket, retry_after_header


def test_burst_then_refused_with_the_wait_until_the_next_token() -> None:
    limiter = RateLimiter(rate=2.0, burst=3)
    assert [limiter.take("a", 0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("a", 0.0) == pytest.approx(0.5)
    assert limiter.take("a", 0.5) == 0.0
    assert limiter.take("b", 0.5) == 0.0  # buckets are per device


def test_refill_is_capped_at_the_burst() -> None:
    limiter = RateLimiter(rate=10.0, burst=2)
    limiter.take("a", 0.0)
    allowed = [limiter.take("a", 1000.0) for _ in range(3)]
    assert allowed[:2] == [0.0, 0.0]
    assert allowed[2] > 0


def test_invalid_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="rate"):
        RateLimiter(rate=0, burst=1)


@pytest.mark.parametrize(("wait", "header"), [(0.01, "1"), (1.0, "1"), (1.2, "2"), (0.0, "1")])
def test_retry_after_rounds_up_to_whole_seconds(wait: float, header: str) -> None:
    assert retry_after_header(wait) == header


@settings(max_examples=200)
@given(
    rate=st.floats(0.1, 1000),
    burst=st.integers(1, 50),
    gaps=st.lists(st.floats(0, 5), min_size=1, max_size=200),
)
def test_never_more_than_burst_plus_rate_times_elapsed(
    rate: float, burst: int, gaps: list[float]
) -> None:
    bucket = TokenBucket(rate, float(burst), float(burst), 0.0)
    now, allowed = 0.0, 0
    for gap in gaps:
        now += gap
        wait = bucket.take(now)
        if wait == 0.0:
            allowed += 1
        else:
            # Waiting the announced time is enough for the next request to pass.
            probe = TokenBucket(bucket.rate, bucket.burst, bucket.tokens, bucket.updated_at)
            assert probe.take(now + wait * (1 + 1e-9) + 1e-9) == 0.0
    assert allowed <= burst + rate * now + 1e-6
