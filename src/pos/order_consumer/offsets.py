"""Commit positions when messages of one partition finish out of order. Pure, no I/O.

Many messages of a partition are in flight at once and a retried one may finish seconds
after those behind it. Kafka keeps one position per partition, meaning "everything below
is done", so the position may only advance to the lowest offset still unfinished:
committing past it would, after a crash, skip that message for ever (the failure the
peer showed under SIGKILL). A retried message therefore holds back only the commit
position of its partition, never the processing of the messages behind it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

#: (topic, partition)
PartitionKey = tuple[str, int]


class PartitionOffsets:
    """Offsets of one partition handed out for processing, in arrival (ascending) order."""

    __slots__ = ("_next", "_open", "_queue")

    def __init__(self) -> None:
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


class OffsetTracker:
    """Every assigned partition's offsets, plus what was last committed for each."""

    def __init__(self) -> None:
        self._partitions: dict[PartitionKey, PartitionOffsets] = {}
        self._committed: dict[PartitionKey, int] = {}

    def track(self, partition: PartitionKey, offset: int) -> PartitionOffsets:
        """Track ``offset``; the returned object is what its completion must be reported
        to, so a completion arriving after the partition was dropped (revoked, then maybe
        assigned again) cannot touch the new assignment's bookkeeping."""
        offsets = self._partitions.get(partition)
        if offsets is None:
            offsets = self._partitions[partition] = PartitionOffsets()
        offsets.track(offset)
        return offsets

    def due(self) -> dict[PartitionKey, int]:
        """Positions that moved since they were last committed."""
        return {
            partition: position
            for partition, offsets in self._partitions.items()
            if (position := offsets.committable) is not None
            and position != self._committed.get(partition)
        }

    def positions(
        self, partitions: Iterable[PartitionKey] | None = None
    ) -> dict[PartitionKey, int]:
        """Every known position (or those of ``partitions``), moved or not: for the final
        synchronous commit, which must not rely on an earlier asynchronous one."""
        wanted = self._partitions.keys() if partitions is None else partitions
        return {
            p: position
            for p in wanted
            if (offsets := self._partitions.get(p)) is not None
            and (position := offsets.committable) is not None
        }

    def committed(self, positions: dict[PartitionKey, int]) -> None:
        self._committed.update(positions)

    def drop(self, partition: PartitionKey) -> None:
        self._partitions.pop(partition, None)
        self._committed.pop(partition, None)
