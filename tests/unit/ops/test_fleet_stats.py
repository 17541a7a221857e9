"""What the fleet counts and what goes to the ledger."""

from __future__ import annotations

from pos.ops.fleet.retry import Verdict
from pos.ops.fleet.stats import Acknowledgements, FleetStats
from pos.ops.ledger import AckRecord


def ack(key: str, order_id: str, till: str = "s/t1") -> AckRecord:
    return AckRecord(key, order_id, "h", till, f"{till}-{key}")


def test_a_sale_is_recorded_once_and_a_second_id_for_it_is_flagged() -> None:
    stats = FleetStats()
    written: list[AckRecord] = []
    acks = Acknowledgements(written.append, stats)
    assert acks.record(ack("k1", "id1"))
    assert not acks.record(ack("k1", "id1"))  # the double tap's replay
    assert not acks.record(ack("k1", "id2"))  # never expected: a duplicate
    assert acks.record(ack("k2", "id3"))
    assert acks.record(ack("k1", "id4", till="s/t2"))  # another till's k1: its own sale
    assert stats.acknowledged == 3
    assert stats.id_mismatches == 1
    # The ledger keeps the stray id too, so the auditor can name it.
    assert [a.order_id for a in written] == ["id1", "id2", "id3", "id4"]
    assert acks.order_ids == {"id1", "id3", "id4"}


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
