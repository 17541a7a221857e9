"""How a till reads answers and backs off: the rules behind every retry of the fleet."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pos.ops.fleet.retry import TillRetryPolicy, Verdict, classify, parse_retry_after


@pytest.mark.parametrize(
    ("status", "replayed", "verdict"),
    [
        (201, False, Verdict.CREATED),
        (201, True, Verdict.REPLAYED),
        (200, True, Verdict.REPLAYED),
        (409, False, Verdict.CONFLICT),
        (400, False, Verdict.REJECTED),
        (413, False, Verdict.REJECTED),
        (422, False, Verdict.REJECTED),
        (429, False, Verdict.TRANSIENT),
        (500, False, Verdict.TRANSIENT),
        (503, False, Verdict.TRANSIENT),
        (None, False, Verdict.TRANSIENT),
    ],
)
def test_classify(status: int | None, replayed: bool, verdict: Verdict) -> None:
    assert classify(status, replayed=replayed) is verdict


@settings(max_examples=200)
@given(
    attempt=st.integers(min_value=1, max_value=500),
    retry_after=st.one_of(st.none(), st.floats(min_value=0, max_value=1e6)),
    seed=st.integers(),
)
def test_delay_stays_within_the_cap_and_honours_retry_after(
    attempt: int, retry_after: float | None, seed: int
) -> None:
    policy = TillRetryPolicy(base=0.05, cap=2.0)
    delay = policy.delay(attempt, random.Random(seed), retry_after)
    assert 0 <= delay <= policy.cap
    if retry_after is not None:
        assert delay >= min(retry_after, policy.cap)


def test_delay_grows_with_the_attempt_until_the_cap() -> None:
    policy = TillRetryPolicy(base=0.05, cap=2.0)
    rng = random.Random(1)
    early = max(policy.delay(1, rng) for _ in range(200))
    late = max(policy.delay(10, rng) for _ in range(200))
    assert early <= 0.1 < late <= 2.0


def test_exhausted_by_attempts_or_by_time() -> None:
    policy = TillRetryPolicy(max_attempts=3, give_up_after=10.0)
    assert not policy.exhausted(2, 9.9)
    assert policy.exhausted(3, 0.0)
    assert policy.exhausted(1, 10.0)


@pytest.mark.parametrize(
    ("header", "seconds"), [("2", 2.0), ("0.5", 0.5), ("-1", None), ("soon", None), (None, None)]
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header) == seconds
