"""The chaos schedule: every fault kind each round, kills apart from third-party windows."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pos.ops.faults.schedule import (
    WINDOWS,
    Fault,
    FaultKind,
    Topology,
    kinds,
    plan_faults,
    rounds_for,
)


def windows(faults: list[Fault]) -> list[tuple[float, float]]:
    kinds = {kind for _, _, kind in WINDOWS}
    return [(f.at, f.at + f.duration) for f in faults if f.kind in kinds]


@settings(max_examples=50, deadline=None)
@given(
    duration=st.floats(30, 3600),
    rounds=st.integers(1, 5),
    seed=st.integers(0, 2**32),
    topology=st.sampled_from(["single", "replicated"]),
)
def test_every_round_holds_every_fault_kind_of_its_topology(
    duration: float, rounds: int, seed: int, topology: Topology
) -> None:
    faults = plan_faults(duration, rounds, seed, topology)
    counts = Counter(f.kind for f in faults)
    assert set(counts) == kinds(topology)
    for kind in kinds(topology):
        twice = kind.service or kind is FaultKind.KILL_PUBLISHER
        expected = 2 * rounds if twice else rounds
        assert counts[kind] == expected, kind
    assert faults == sorted(faults)
    assert all(f.at >= 0 and f.at + f.duration <= duration for f in faults)


@settings(max_examples=50, deadline=None)
@given(duration=st.floats(30, 3600), rounds=st.integers(1, 5), seed=st.integers(0, 2**32))
def test_the_third_party_is_never_killed_inside_one_of_its_windows(
    duration: float, rounds: int, seed: int
) -> None:
    faults = plan_faults(duration, rounds, seed)
    spans = windows(faults)
    for kill in (f for f in faults if f.kind is FaultKind.KILL_THIRD_PARTY):
        assert not any(start <= kill.at <= end for start, end in spans)
    # Nor do two windows overlap: each sets only its own fields, then clears them.
    for (_, end), (start, _) in itertools.pairwise(sorted(spans)):
        assert end < start


def test_infrastructure_restarts_do_not_overlap_and_kafka_alternates_crash_and_stop() -> None:
    faults = plan_faults(600, 4, seed=1)
    infra = (FaultKind.KAFKA_RESTART, FaultKind.POSTGRES_RESTART_IN_REBALANCE)
    restarts = sorted(f for f in faults if f.kind in infra)
    for before, after in itertools.pairwise(restarts):
        assert before.at + before.duration + 30 < after.at
    kafka = [f.abrupt for f in faults if f.kind is FaultKind.KAFKA_RESTART]
    assert kafka == [True, False, True, False]


def test_kinds_name_the_service_they_kill() -> None:
    assert FaultKind.KILL_THIRD_PARTY.service == "third-party"
    assert FaultKind.KILL_API.service == "api"
    assert FaultKind.KAFKA_RESTART.service is None
    assert FaultKind.KILL_CONSUMER_IN_REBALANCE.service is None


def test_consumer_faults_cut_one_consumer_and_infrastructure_faults_cut_them_all() -> None:
    assert FaultKind.KILL_CONSUMER.consumers_cut(3) == 1
    assert FaultKind.KILL_CONSUMER_IN_REBALANCE.consumers_cut(3) == 2
    assert FaultKind.KAFKA_RESTART.consumers_cut(3) == 3
    assert FaultKind.POSTGRES_RESTART_IN_REBALANCE.consumers_cut(3) == 4
    for harmless in (FaultKind.THIRD_PARTY_OUTAGE, FaultKind.THIRD_PARTY_CONFLICT):
        assert harmless.consumers_cut(3) == 0


@pytest.mark.parametrize(("seconds", "rounds"), [(10, 1), (119, 1), (250, 4), (10_000, 5)])
def test_rounds_for(seconds: float, rounds: int) -> None:
    assert rounds_for(seconds) == rounds


def test_a_schedule_needs_time_and_rounds() -> None:
    with pytest.raises(ValueError, match="positive duration"):
        plan_faults(0, 1)


def test_the_replicated_topology_swaps_the_restarts_for_its_own_infrastructure_faults() -> None:
    assert FaultKind.KAFKA_RESTART not in kinds("replicated")
    assert FaultKind.KAFKA_LEADER_KILL not in kinds("single")
    faults = plan_faults(120, 2, seed=3, topology="replicated")
    for r in range(2):
        order = [
            f.kind for f in faults if r * 60 <= f.at < (r + 1) * 60 and f.kind.value[0] in "kp"
        ]
        assert order.index(FaultKind.POSTGRES_FAILOVER) < order.index(FaultKind.POSTGRES_REJOIN)
    for kind in (FaultKind.KAFKA_LEADER_KILL, FaultKind.KAFKA_ROLLING_RESTART):
        assert kind.service is None
    assert {k for k in FaultKind if k.cuts_relays} == {
        FaultKind.KILL_PUBLISHER,
        FaultKind.POSTGRES_RESTART_IN_REBALANCE,
        FaultKind.POSTGRES_FAILOVER,
    }
