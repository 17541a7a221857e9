"""The commit position never passes an unfinished message, whatever the completion order."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pos.order_consumer.offsets import OffsetTracker, PartitionOffsets

# Ascending offsets with gaps (compacted topics, transaction markers skip offsets).
offsets_strategy = st.lists(st.integers(1, 5), min_size=1, max_size=60).map(
    lambda gaps: [sum(gaps[: i + 1]) for i in range(len(gaps))]
)


@settings(max_examples=200, deadline=None)
@given(offsets=offsets_strategy, data=st.data())
def test_position_is_lowest_unfinished_or_one_past_the_last(
    offsets: list[int], data: st.DataObject
) -> None:
    part = PartitionOffsets()
    tracked: list[int] = []
    open_: set[int] = set()
    previous = None
    pending_track = list(offsets)
    while pending_track or open_:
        # Interleave: arrivals in order, completions in any order.
        if pending_track and (not open_ or data.draw(st.booleans())):
            offset = pending_track.pop(0)
            part.track(offset)
            tracked.append(offset)
            open_.add(offset)
        else:
            offset = data.draw(st.sampled_from(sorted(open_)))
            part.finish(offset)
            open_.remove(offset)
        position = part.committable
        expected = min(open_) if open_ else tracked[-1] + 1
        assert position == expected
        assert all(position <= o for o in open_), "never commit past an unfinished message"
        assert previous is None or position >= previous, "the position never goes back"
        assert part.unfinished == len(open_)
        previous = position
    assert part.committable == offsets[-1] + 1


def test_nothing_tracked_means_nothing_to_commit() -> None:
    assert PartitionOffsets().committable is None


def test_offsets_must_arrive_in_order_and_finish_once() -> None:
    part = PartitionOffsets()
    part.track(5)
    with pytest.raises(ValueError, match="tracked after"):
        part.track(3)
    part.finish(5)
    with pytest.raises(KeyError):
        part.finish(5)


@settings(max_examples=100, deadline=None)
@given(finished=st.lists(st.tuples(st.sampled_from(["t"]), st.integers(0, 2), st.integers(0, 30))))
def test_tracker_reports_only_moved_positions(finished: list[tuple[str, int, int]]) -> None:
    tracker = OffsetTracker()
    handles = {}
    for partition in range(3):
        for offset in range(31):
            handles[partition, offset] = tracker.track(("t", partition), offset)
    assert tracker.due() == {("t", p): (0, 0) for p in range(3)}
    for partition, (position, _epoch) in tracker.due().items():
        tracker.committed(partition, position)
    assert tracker.due() == {}
    done = {(p, o) for _, p, o in finished}
    for p, o in done:
        handles[p, o].finish(o)
    due = tracker.due()
    for p in range(3):
        lowest_open = min((o for o in range(31) if (p, o) not in done), default=31)
        assert tracker.positions()["t", p] == (lowest_open, 0)
        assert (("t", p) in due) == (lowest_open != 0)


def test_dropped_partition_forgets_its_positions() -> None:
    tracker = OffsetTracker()
    old = tracker.track(("t", 0), 10)
    tracker.drop(("t", 0))
    old.finish(10)  # a late completion of the old assignment touches nothing
    assert tracker.positions() == {}
    tracker.track(("t", 0), 4)
    assert tracker.positions([("t", 0), ("t", 1)]) == {("t", 0): (4, 0)}


def test_a_new_assignment_starts_from_a_clean_tracker() -> None:
    """Revoked and assigned again (epoch 1 -> 2): the old epoch's open offsets no longer
    hold the position back, its completions touch nothing, and an old message is refused."""
    tracker = OffsetTracker()
    old = tracker.track(("t", 0), 10, epoch=1)
    tracker.track(("t", 0), 11, epoch=1)
    tracker.committed(("t", 0), 10)
    new = tracker.track(("t", 0), 7, epoch=2)  # the new owner's fetch restarts lower
    assert tracker.due() == {("t", 0): (7, 2)}, "the acknowledged position was the old one"
    old.finish(10)
    new.finish(7)
    assert tracker.positions() == {("t", 0): (8, 2)}
    with pytest.raises(ValueError, match="epoch 1 after epoch 2"):
        tracker.track(("t", 0), 12, epoch=1)


def test_an_acknowledgement_for_a_dropped_partition_is_ignored() -> None:
    tracker = OffsetTracker()
    tracker.track(("t", 0), 3).finish(3)
    tracker.drop(("t", 0))
    tracker.committed(("t", 0), 4)  # a late callback of the old assignment
    tracker.track(("t", 0), 4)
    assert tracker.due() == {("t", 0): (4, 0)}
