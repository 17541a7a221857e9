"""Back-off bounds, the retry budget, Retry-After, and what counts as transient."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pos.order_consumer.outcomes import (
    Delivered,
    Misconfigured,
    Refused,
    Transient,
    Unknown,
    classify,
    parse_retry_after,
)
from pos.order_consumer.retry import Attempts, DeliveryRetryPolicy, GiveUp, RetryIn

POLICY = DeliveryRetryPolicy(budget=5, unknown_budget=20, base_seconds=0.2, cap_seconds=3.0)


def _fail(
    attempts: Attempts, outcome: Transient | Unknown | Refused | Misconfigured, counts: bool = True
) -> RetryIn | GiveUp:
    attempts.calls += 1
    return POLICY.after_failure(attempts, outcome, counts, random.Random(1))


@settings(max_examples=200)
@given(attempt=st.integers(1, 200), seed=st.integers())
def test_backoff_is_full_jitter_under_an_exponential_cap(attempt: int, seed: int) -> None:
    wait = POLICY.backoff(attempt, random.Random(seed))
    assert 0.0 <= wait <= min(3.0, 0.2 * 2 ** (attempt - 1))


def test_transient_failures_retry_until_the_budget_is_spent() -> None:
    attempts = Attempts()
    failure = Transient("HTTP 503: busy")
    for _ in range(4):
        assert isinstance(_fail(attempts, failure), RetryIn)
    assert _fail(attempts, failure) == GiveUp(
        "gave up after 5 attempts: HTTP 503: busy", "exhausted"
    )


def test_unknown_outcomes_spend_only_their_own_larger_budget() -> None:
    attempts = Attempts()
    for _ in range(19):
        assert isinstance(_fail(attempts, Unknown("no answer within 1 s")), RetryIn)
    assert isinstance(_fail(attempts, Transient("HTTP 503")), RetryIn), "5xx budget untouched"
    assert attempts.failures == 1
    assert _fail(attempts, Unknown("HTTP 409: key in progress", answered=True)) == GiveUp(
        "no definite answer after 21 calls: HTTP 409: key in progress", "exhausted"
    )


def test_the_breakers_probe_is_charged_to_no_budget() -> None:
    attempts = Attempts()
    for _ in range(50):
        assert isinstance(_fail(attempts, Transient("HTTP 503"), counts=False), RetryIn)
        assert isinstance(_fail(attempts, Misconfigured("HTTP 401", 401), counts=False), RetryIn)
    assert attempts.failures == attempts.unknowns == 0


def test_a_refusal_gives_up_at_once() -> None:
    step = _fail(Attempts(), Refused("HTTP 422: bad sku"))
    assert step == GiveUp("refused by the third party: HTTP 422: bad sku", "refused")


def test_retry_after_is_a_floor() -> None:
    assert _fail(Attempts(), Unknown("HTTP 429", retry_after=7.0, answered=True)) == RetryIn(7.0)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        *((status, Delivered) for status in (200, 201)),
        *((status, Refused) for status in (400, 410, 413, 422)),
        *((status, Unknown) for status in (408, 409, 425, 429)),
        *((status, Misconfigured) for status in (401, 403, 404, 405)),
        *((status, Transient) for status in (302, 500, 503)),
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
