"""Fault injection decisions of the simulated third party."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from pos.config import ThirdPartySettings
from pos.simulated_third_party.faults import Answer, Faults


def shares(faults: Faults, *, known: bool = False, n: int = 20_000) -> dict[Answer, float]:
    rng = random.Random(7)
    counts = Counter(faults.answer("k", rng, known=known) for _ in range(n))
    return {answer: counts[answer] / n for answer in Answer}


def test_rates_are_disjoint_shares_of_calls() -> None:
    got = shares(Faults(error_rate=0.2, refusal_rate=0.1, conflict_rate=0.15, timeout_rate=0.3))
    assert got[Answer.REFUSE] == pytest.approx(0.1, abs=0.02)
    assert got[Answer.ERROR] == pytest.approx(0.2, abs=0.02)
    assert got[Answer.CONFLICT] == pytest.approx(0.15, abs=0.02)
    assert got[Answer.TIMEOUT] == pytest.approx(0.3, abs=0.02)
    assert got[Answer.ACCEPT] == pytest.approx(0.25, abs=0.02)


def test_conflicts_hit_known_keys_too() -> None:
    assert shares(Faults(conflict_rate=1.0), known=True)[Answer.CONFLICT] == 1.0


def test_a_status_override_answers_every_call_before_any_other_fault() -> None:
    rng = random.Random(1)
    faults = Faults(status_override=403, outage=True, error_keys=frozenset({"a"}))
    assert faults.answer("a", rng, known=True) is Answer.OVERRIDE
    assert faults.answer("b", rng, known=False) is Answer.OVERRIDE
    assert Faults().updated({"statusOverride": 404}).status_override == 404
    assert faults.updated({"statusOverride": None}).answer("b", rng, known=False) is Answer.ERROR


def test_known_keys_are_never_refused() -> None:
    assert shares(Faults(refusal_rate=1.0), known=True)[Answer.ACCEPT] == 1.0


def test_outage_and_error_keys_fail_every_call() -> None:
    rng = random.Random(1)
    assert Faults(outage=True).answer("a", rng, known=True) is Answer.ERROR
    faults = Faults(error_keys=frozenset({"a"}))
    assert faults.answer("a", rng, known=False) is Answer.ERROR
    assert faults.answer("b", rng, known=False) is Answer.ACCEPT


def test_latency_is_fixed_plus_jitter() -> None:
    rng = random.Random(3)
    waits = [Faults(latency_ms=50, jitter_ms=10).latency_seconds(rng) for _ in range(1000)]
    assert min(waits) >= 0.050
    assert max(waits) <= 0.060
    assert Faults().latency_seconds(rng) == 0.0


def test_admin_patch_validates_and_round_trips() -> None:
    faults = Faults().updated({"errorRate": 0.5, "outage": True, "errorKeys": ["x"]})
    assert faults.to_json()["errorRate"] == 0.5
    assert faults.to_json()["errorKeys"] == ["x"]
    assert Faults().updated(faults.to_json()) == faults
    for bad in (
        {"errorRate": 1.5},
        {"errorRate": 0.6, "refusalRate": 0.6},
        {"latencyMs": -1},
        {"outage": "yes"},
        {"errorRate": "high"},
        {"errorKeys": "x"},
        {"conflictRate": 0.5, "timeoutRate": 0.6},
        {"statusOverride": 200},
        {"statusOverride": 700},
        {"statusOverride": "403"},
        {"statusOverride": True},
        {"nonsense": 1},
    ):
        with pytest.raises(ValueError, match=r"."):
            Faults().updated(bad)


def test_from_settings() -> None:
    settings = ThirdPartySettings(
        tp_error_rate=0.25,
        tp_latency_ms=5,
        tp_hang_seconds=2,
        tp_conflict_rate=0.5,
        tp_status_override=401,
    )
    faults = Faults.from_settings(settings)
    assert (faults.error_rate, faults.latency_ms, faults.hang_ms) == (0.25, 5.0, 2000.0)
    assert (faults.conflict_rate, faults.status_override) == (0.5, 401)
    assert Faults.from_settings(ThirdPartySettings()).status_override is None
