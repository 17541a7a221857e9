"""Back-off bounds, the retry budget, Retry-After, and what counts as transient."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pos.order_consumer.outcomes import (
    Delivered,
    Refused,
    Transient,
    classify,
    parse_retry_after,
)
from pos.order_consumer.retry import GiveUp, RetryIn, RetryPolicy

POLICY = RetryPolicy(budget=5, base_seconds=0.2, cap_seconds=3.0)


@settings(max_examples=200)
@given(attempt=st.integers(1, 200), seed=st.integers())
def test_backoff_is_full_jitter_under_an_exponential_cap(attempt: int, seed: int) -> None:
    wait = POLICY.backoff(attempt, random.Random(seed))
    assert 0.0 <= wait <= min(3.0, 0.2 * 2 ** (attempt - 1))


def test_transient_failures_retry_until_the_budget_is_spent() -> None:
    rng = random.Random(1)
    failure = Transient("HTTP 503: busy")
    for attempt in range(1, 5):
        assert isinstance(POLICY.after_failure(attempt, failure, rng), RetryIn)
    step = POLICY.after_failure(5, failure, rng)
    assert step == GiveUp("gave up after 5 attempts: HTTP 503: busy", "exhausted")


def test_a_refusal_gives_up_at_once() -> None:
    step = POLICY.after_failure(1, Refused("HTTP 422: bad sku"), random.Random(1))
    assert step == GiveUp("refused by the third party: HTTP 422: bad sku", "refused")


def test_retry_after_is_a_floor() -> None:
    step = POLICY.after_failure(1, Transient("HTTP 429", retry_after=7.0), random.Random(1))
    assert step == RetryIn(7.0)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        *((status, Delivered) for status in (200, 201)),
        *((status, Refused) for status in (400, 404, 422)),
        *((status, Transient) for status in (302, 408, 429, 500, 503)),
    ],
)
def test_classify_by_status(status: int, kind: type) -> None:
    assert isinstance(classify(status, b""), kind)


def test_classify_reads_the_receipt_and_the_problem() -> None:
    assert classify(200, b'{"receiptRef": "r-1", "duplicate": true}') == Delivered("r-1", True)
    refused = classify(422, b'{"title": "Order Refused", "detail": "unknown sku"}')
    assert refused == Refused("HTTP 422: Order Refused: unknown sku")
    assert classify(503, b"x" * 1000, "2") == Transient("HTTP 503: " + "x" * 300, 2.0)


def test_retry_after_as_seconds_or_http_date() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("30", now) == 30.0
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:10 GMT", now) == 10.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None
