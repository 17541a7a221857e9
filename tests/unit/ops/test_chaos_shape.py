"""The chaos run's production shape, its options, and the rebalance count from the logs."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from pos.cli import main
from pos.ops.chaos import ChaosOptions, interruptions
from pos.ops.faults.rebalances import callbacks, rebalances
from pos.ops.faults.shape import Shape


def test_the_default_shape_is_one_api_two_publishers_three_consumers() -> None:
    shape = Shape()
    assert shape.to_json() == {"apiWorkers": 2, "publishers": 2, "consumers": 3}
    names = [c.name for c in shape.children()]
    assert names == [
        "third-party",
        "api",
        "publisher-1",
        "publisher-2",
        "consumer-1",
        "consumer-2",
        "consumer-3",
    ]
    assert all(c.argv[-1] == c.name.split("-")[0] for c in shape.children()[1:])


def test_a_shape_needs_one_of_each() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Shape(consumers=0)


def test_each_topology_keeps_its_own_results() -> None:
    single = ChaosOptions(1, 1.0, 1, Path("out"), Path("state"), 0)
    replicated = replace(single, topology="replicated")
    assert (single.results_name, replicated.results_name) == (
        "chaos-latest",
        "chaos-replicated-latest",
    )


def test_bad_shape_options_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chaos", "--publishers", "0"]) == 2
    assert "at least 1" in capsys.readouterr().err


def test_rebalances_are_counted_from_every_consumers_log(tmp_path: Path) -> None:
    (tmp_path / "consumer-1.log").write_text(
        '{"event": "partitions assigned", "partitions": ["t[0]"]}\n'
        '{"event": "order delivered"}\n'
        '{"event": "partitions revoked", "partitions": ["t[0]"]}\n'
    )
    (tmp_path / "consumer-2.log").write_text(
        '{"event": "partitions assigned"}\n{"event": "partitions lost"}\n'
    )
    (tmp_path / "publisher-1.log").write_text('{"event": "partitions assigned"}\n')
    assert callbacks(tmp_path) == {
        "partitions assigned": 2,
        "partitions revoked": 1,
        "partitions lost": 1,
    }
    assert rebalances(tmp_path) == 2


def test_the_repeat_allowance_counts_the_consumers_each_fault_cut() -> None:
    timeline = [
        {"fault": "kill-consumer", "start": 1.0, "end": 1.0},
        {"fault": "kill-consumer-in-rebalance", "start": 2.0, "end": 3.0},
        {"fault": "kafka-restart", "start": 4.0, "end": 9.0},
        {"fault": "third-party-outage", "start": 10.0, "end": 20.0},
        {"fault": "kill-api", "start": 21.0, "end": 21.0},
    ]
    assert interruptions(timeline, consumers=3) == 1 + 2 + 3
    assert interruptions([], consumers=3) == 0
