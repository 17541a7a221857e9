"""The one back-off policy: doubling from ``base``, capped, jitter below the bound."""

from __future__ import annotations

import random

from pos.domain.backoff import Backoff


def test_the_bound_doubles_from_base_up_to_the_cap() -> None:
    backoff = Backoff(base=0.1, cap=1.0)
    assert [backoff.ceiling(n) for n in range(6)] == [0.0, 0.1, 0.2, 0.4, 0.8, 1.0]


def test_a_huge_attempt_count_stays_at_the_cap() -> None:
    assert Backoff(base=0.5, cap=30.0).ceiling(10_000) == 30.0


def test_jitter_spreads_waits_over_the_whole_interval_below_the_bound() -> None:
    backoff, rng = Backoff(base=1.0, cap=8.0), random.Random(7)
    waits = [backoff.jittered(4, rng) for _ in range(2000)]
    assert all(0.0 <= w <= 8.0 for w in waits)
    # Full jitter: the whole interval is used, not a band near the bound.
    assert min(waits) < 0.5
    assert max(waits) > 7.5
    assert 3.5 < sum(waits) / len(waits) < 4.5
