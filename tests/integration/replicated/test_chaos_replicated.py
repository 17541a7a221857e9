"""The chaos run on the production topology: 3,000 orders on a 3-node Kafka cluster and a
PostgreSQL primary with its synchronous standby.

`pos chaos --topology replicated` provisions its own cluster and pair (it kills and
restarts their nodes, so it never shares the session's), with the light JVM flags of the
other replicated tests, and strikes with every fault of the single topology's run except
the one-broker and one-database restarts, which become: the leader of the order topic's
partitions SIGKILLed, two brokers down at once (no quorum), a rolling restart of the
cluster, the primary SIGKILLed and failed over, the old primary rejoined as the standby.
The auditor then judges the run, including how many duplicate records the relays' re-sends
left on the order topic against the bound the relay cuts earn.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from pos.infra import pg_pair
from pos.infra.pg_pair import PostgresPair
from pos.ops.faults.schedule import FaultKind, kinds
from tests.support.chaos_run import run_chaos
from tests.support.scratch_kafka import TEST_BROKER_JVM

pytestmark = pytest.mark.replicated

REPLICATED_FAULTS = {
    FaultKind.KAFKA_LEADER_KILL.value,
    FaultKind.KAFKA_TWO_DOWN.value,
    FaultKind.KAFKA_ROLLING_RESTART.value,
    FaultKind.POSTGRES_FAILOVER.value,
    FaultKind.POSTGRES_REJOIN.value,
}


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    """The run's scratch state; a failed run keeps its data for a post-mortem, removed here."""
    state = tmp_path / "state"
    yield state
    # A private tmp dir is not reachable by the postgres user: the pair went to /var/tmp.
    PostgresPair(pg_pair.default_home(state)).destroy()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_no_order_lost_or_duplicated_across_leader_kills_and_failover(
    tmp_path: Path, state_dir: Path
) -> None:
    out = tmp_path / "results"
    done = run_chaos(
        *("--topology", "replicated"),
        *("--orders", "3000", "--rate", "100", "--seed", "11"),
        *("--state-dir", str(state_dir), "--output", str(out)),
        env={"KAFKA_CLUSTER_HEAP_OPTS": TEST_BROKER_JVM},
        timeout=560,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    report = json.loads((out / "chaos-replicated-latest.json").read_text())
    assert report["passed"], report["problems"]
    assert report["topology"] == "replicated"
    assert report["ordersSent"] == report["ordersAcknowledged"] == 3000
    assert (report["ordersLost"], report["duplicateOrders"]) == (0, 0)
    verdicts = report["verdicts"]
    assert all(v["passed"] and v.get("measured", True) for v in verdicts.values()), verdicts
    # The relays' re-sends across leader changes, the outage and the failover: counted,
    # and within what the cuts of their sessions explain.
    assert report["kafkaRecords"] - report["kafkaDistinctEvents"] == report["duplicateRecords"]
    assert report["duplicateRecords"] <= report["duplicateRecordsAllowed"]
    skipped = {s.split(":")[0] for s in report["faultsSkipped"]}
    assert skipped <= {FaultKind.THIRD_PARTY_CONFLICT.value}
    assert set(report["faultsInjected"]) | skipped == {k.value for k in kinds("replicated")}
    assert {e["fault"] for e in report["timeline"]} >= REPLICATED_FAULTS
    assert (
        (out / "chaos-replicated-latest.md")
        .read_text()
        .startswith("# Chaos run (replicated topology)")
    )
    print(
        f"\nreplicated chaos: {report['secondsSending']} s sending; "
        f"{report['kafkaRecords']:,} records for {report['kafkaDistinctEvents']:,} events, "
        f"{report['duplicateRecords']} duplicates (bound {report['duplicateRecordsAllowed']})"
    )
