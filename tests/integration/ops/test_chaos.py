"""The short chaos run: a few thousand orders while every kind of fault strikes.

`pos chaos` provisions its own PostgreSQL cluster and Kafka broker in a scratch state dir
(it restarts them, so it never touches the suite's), runs the services at production
shape (an API with two workers, two publishers, three consumers in one group), kills and
restarts every service, makes consumers leave and join and kills one mid-rebalance,
restarts the broker and the database, makes the third party flaky, slow to answer,
conflicting and then unavailable, and finally audits with every verdict measured.
A few minutes; deselect with `-m "not slow"`.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from pos.config import InfraSettings
from pos.infra import postgres
from pos.ops.faults.schedule import FaultKind, kinds
from tests.support.chaos_run import run_chaos
from tests.support.scratch_kafka import TEST_BROKER_JVM


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    """The run's scratch state; a failed run keeps its data for a post-mortem, removed here."""
    state = tmp_path / "state"
    yield state
    # A private tmp dir is not reachable by the postgres user: its cluster went to /var/tmp.
    shutil.rmtree(postgres.data_dir(InfraSettings(pos_state_dir=state)).parent, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_no_order_lost_or_duplicated_under_every_fault(tmp_path: Path, state_dir: Path) -> None:
    out = tmp_path / "results"
    done = run_chaos(
        *("--orders", "3000", "--rate", "100", "--seed", "11"),
        *("--state-dir", str(state_dir), "--output", str(out)),
        env={"KAFKA_HEAP_OPTS": TEST_BROKER_JVM},
        timeout=560,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    report = json.loads((out / "chaos-latest.json").read_text())
    assert report["passed"], report["problems"]
    assert report["ordersSent"] == report["ordersAcknowledged"] == 3000
    assert (report["ordersLost"], report["duplicateOrders"]) == (0, 0)
    assert report["shape"] == {"apiWorkers": 2, "publishers": 2, "consumers": 3}
    verdicts = report["verdicts"]
    assert all(v["passed"] and v.get("measured", True) for v in verdicts.values()), verdicts
    # Every kind struck (the conflict window only where the third party supports it).
    skipped = {s.split(":")[0] for s in report["faultsSkipped"]}
    assert skipped <= {FaultKind.THIRD_PARTY_CONFLICT.value}
    assert set(report["faultsInjected"]) | skipped == {kind.value for kind in kinds("single")}
    assert len(report["timeline"]) == sum(report["faultsInjected"].values())
    assert report["serviceRestarts"]["api"] >= 2
    assert sum(report["serviceRestarts"][f"consumer-{n}"] for n in (1, 2, 3)) >= 4
    # Three consumers starting, one leaving and joining, crashes: partitions moved.
    assert report["rebalances"] >= 6
    assert (out / "chaos-latest.md").read_text().startswith("# Chaos run")
