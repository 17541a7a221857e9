"""What the fleet counts and what goes to the ledger."""

from __future__ import annotations

from pos.ops.fleet.retry import Verdict
from pos.ops.fleet.stats import Acknowledgements, FleetStats
from pos.ops.ledger import AckRecord


def test_a_key_is_recorded_once_and_a_second_id_for_it_is_flagged() -> None:
    stats = FleetStats()
    written: list[AckRecord] = []
    acks = Acknowledgements(written.append, stats)
    assert acks.record(AckRecord("k1", "id1", "h"))
    assert not acks.record(AckRecord("k1", "id1", "h"))  # the double tap's replay
    assert not acks.record(AckRecord("k1", "id2", "h"))  # never expected: a duplicate
    assert acks.record(AckRecord("k2", "id3", "h"))
    assert stats.acknowledged == 2
    assert stats.id_mismatches == 1
    # The ledger keeps the stray id too, so the auditor can name it.
    assert [a.order_id for a in written] == ["id1", "id2", "id3"]
    assert acks.order_ids == {"id1", "id3"}


def test_answers_are_counted_by_kind_and_errors_add_up() -> None:
    stats = FleetStats()
    for verdict in (Verdict.CREATED, Verdict.REPLAYED, Verdict.CONFLICT, Verdict.TRANSIENT):
        stats.count(verdict)
    stats.count(Verdict.TRANSIENT, timed_out=True)
    stats.gave_up = 1
    assert (stats.requests, stats.created, stats.replays, stats.conflicts) == (5, 1, 1, 1)
    assert (stats.transient, stats.timeouts) == (1, 1)
    assert stats.errors == 3
    assert stats.to_json()["errors"] == 3
