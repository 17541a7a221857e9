"""Commit positions when messages of one partition finish out of order. Pure, no I/O.

Many messages of a partition are in flight at once and a retried one may finish seconds
after those behind it. Kafka keeps one position per partition, meaning "everything below
is done", so the position may only advance to the lowest offset still unfinished:
committing past it would, after a crash, skip that message for ever (a loss that a
consumer committing what it has merely taken shows under SIGKILL). A retried message
therefore holds back only the commit position of its partition, never the processing of
the messages behind it.

The invariants this module keeps, and the consumer loop relies on:

1. A partition's position never passes an offset that was tracked and not finished.
2. Positions are per assignment: each assignment of a partition to this member has an
   epoch, its offsets are tracked in a :class:`PartitionOffsets` of that epoch only, and
   a completion reported to an older epoch's object never moves the newer one. A
   partition that is revoked and assigned again starts from a clean tracker.
3. "Committed" is recorded only when the broker acknowledged the commit, so a failed
   asynchronous commit is sent again at the next interval.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

#: A topic-partition: (topic, partition).
TopicPartitionId = tuple[str, int]


class PartitionOffsets:
    """Offsets of one partition handed out for processing, in arrival (ascending) order,
    within one assignment (``epoch``)."""

    __slots__ = ("_next", "_open", "_queue", "epoch")

    def __init__(self, epoch: int = 0) -> None:
        self.epoch = epoch
        self._queue: deque[int] = deque()  # tracked offsets, ascending, head = oldest
        self._open: set[int] = set()  # the subset not finished yet
        self._next: int | None = None  # one past the highest tracked offset

    def track(self, offset: int) -> None:
        if self._next is not None and offset < self._next:
            raise ValueError(f"offset {offset} tracked after {self._next - 1}")
        self._queue.append(offset)
        self._open.add(offset)
        self._next = offset + 1

    def finish(self, offset: int) -> None:
        self._open.remove(offset)
        while self._queue and self._queue[0] not in self._open:
            self._queue.popleft()

    @property
    def committable(self) -> int | None:
        """The position to commit: the lowest unfinished offset, or one past the last
        tracked offset when all are done (Kafka's position is the NEXT offset to read).
        None before anything was tracked."""
        return self._queue[0] if self._queue else self._next

    @property
    def unfinished(self) -> int:
        return len(self._open)


#: A position to commit, with the epoch of the assignment it was computed in.
Position = tuple[int, int]


class OffsetTracker:
    """Every assigned partition's offsets, plus what the broker acknowledged for each."""

    def __init__(self) -> None:
        self._partitions: dict[TopicPartitionId, PartitionOffsets] = {}
        self._committed: dict[TopicPartitionId, int] = {}

    def track(self, partition: TopicPartitionId, offset: int, epoch: int = 0) -> PartitionOffsets:
        """Track ``offset`` of assignment ``epoch``; the returned object is what its
        completion must be reported to, so a completion arriving after the partition was
        dropped (revoked, then maybe assigned again) cannot touch the new assignment's
        bookkeeping. A newer epoch replaces the partition's tracker; an older one is a
        bug of the caller (it must drop such messages)."""
        offsets = self._partitions.get(partition)
        if offsets is None or offsets.epoch < epoch:
            offsets = self._partitions[partition] = PartitionOffsets(epoch)
            self._committed.pop(partition, None)
        elif offsets.epoch > epoch:
            raise ValueError(f"{partition}: message of epoch {epoch} after epoch {offsets.epoch}")
        offsets.track(offset)
        return offsets

    def due(self) -> dict[TopicPartitionId, Position]:
        """Positions that moved since the broker last acknowledged one, with their epoch."""
        return {
            partition: (position, offsets.epoch)
            for partition, offsets in self._partitions.items()
            if (position := offsets.committable) is not None
            and position != self._committed.get(partition)
        }

    def positions(
        self, partitions: Iterable[TopicPartitionId] | None = None
    ) -> dict[TopicPartitionId, Position]:
        """Every known position (or those of ``partitions``), moved or not: for the final
        synchronous commit, which must not rely on an earlier asynchronous one."""
        wanted = list(self._partitions) if partitions is None else partitions
        return {
            p: (position, offsets.epoch)
            for p in wanted
            if (offsets := self._partitions.get(p)) is not None
            and (position := offsets.committable) is not None
        }

    def committed(self, partition: TopicPartitionId, offset: int) -> None:
        """The broker acknowledged ``offset`` for ``partition``."""
        if partition in self._partitions:
            self._committed[partition] = offset

    def drop(self, partition: TopicPartitionId) -> None:
        self._partitions.pop(partition, None)
        self._committed.pop(partition, None)
