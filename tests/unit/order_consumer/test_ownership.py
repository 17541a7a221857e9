"""Rebalances never make this member commit for a partition it does not own.

The interleaving that matters cannot be timed reliably against a broker: a poll hands out
a message, and the next poll of the same step serves the revoke of that message's
partition. So a scripted consumer plays exactly that sequence into the real
:class:`ConsumeLoop`; every commit it receives is checked against the assignment at the
moment it is sent.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import TopicPartition

from pos.order_consumer.kafka_loop import ConsumeLoop, OnCommit
from pos.order_consumer.metrics import ConsumerMetrics

TOPIC = "orders"


@dataclass
class FakeMessage:
    _partition: int
    _offset: int

    def topic(self) -> str:
        return TOPIC

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def error(self) -> None:
        return None


@dataclass
class Rebalance:
    kind: str  # "assign" | "revoke" | "lost"
    partitions: list[int]


@dataclass
class ScriptedConsumer:
    """Plays a script of messages and rebalances through poll, like librdkafka: a
    rebalance callback runs inside the poll that serves it, before that poll returns."""

    script: deque[FakeMessage | Rebalance]
    on_commit: OnCommit
    owned: set[int] = field(default_factory=set)
    commits: list[tuple[int, int, bool]] = field(default_factory=list)  # (partition, offset, owned)
    callbacks: dict[str, Callable[..., None]] = field(default_factory=dict)
    #: Set after a few polls past the end of the script: every step that could still
    #: commit (each commits what is due before it polls) has run by then.
    settled: threading.Event = field(default_factory=threading.Event)
    idle_polls: int = 0

    def subscribe(self, _topics: list[str], **callbacks: Callable[..., None]) -> None:
        self.callbacks = callbacks

    def poll(self, _timeout: float) -> FakeMessage | None:
        while self.script:
            item = self.script.popleft()
            if isinstance(item, FakeMessage):
                return item
            tps = [TopicPartition(TOPIC, p) for p in item.partitions]
            if item.kind == "assign":
                self.owned |= set(item.partitions)
            self.callbacks[f"on_{item.kind}"](self, tps)
            if item.kind != "assign":
                self.owned -= set(item.partitions)
        self.idle_polls += 1
        if self.idle_polls >= 5:
            self.settled.set()
        return None

    def commit(self, offsets: list[TopicPartition], asynchronous: bool) -> list[TopicPartition]:
        for tp in offsets:
            self.commits.append((tp.partition, tp.offset, tp.partition in self.owned))
        if asynchronous:
            self.on_commit(None, offsets)
            return []
        return offsets

    def assignment(self) -> list[TopicPartition]:
        return [TopicPartition(TOPIC, p) for p in sorted(self.owned)]

    def pause(self, _partitions: Any) -> None: ...
    def resume(self, _partitions: Any) -> None: ...
    def incremental_assign(self, _partitions: Any) -> None: ...
    def memberid(self) -> str:
        return "member-1"

    def get_watermark_offsets(self, _tp: Any, cached: bool) -> tuple[int, int]:
        return (-1, -1)

    def close(self) -> None: ...


class InstantProcessor:
    """Every message finishes at once; remembers which it was given."""

    def __init__(self) -> None:
        self.processed: list[tuple[int, int]] = []

    def start(self, messages: list[FakeMessage]) -> list[asyncio.Task[None]]:
        async def done(m: FakeMessage) -> None:
            self.processed.append((m.partition(), m.offset()))

        return [asyncio.create_task(done(m)) for m in messages]


async def _play(script: list[FakeMessage | Rebalance]) -> tuple[ScriptedConsumer, InstantProcessor]:
    made: list[ScriptedConsumer] = []

    def make(on_commit: OnCommit) -> Any:
        made.append(ScriptedConsumer(deque(script), on_commit))
        return made[0]

    processor = InstantProcessor()
    loop = ConsumeLoop(
        make,
        TOPIC,
        processor,  # type: ignore[arg-type]
        ConsumerMetrics(),
        max_pending=100,
        commit_interval=0.0,  # commit at every step: the most chances to get it wrong
        grace=1.0,
    )
    stop = asyncio.Event()
    consumer = made[0]

    async def stop_when_played() -> None:
        await asyncio.to_thread(consumer.settled.wait, 30)
        stop.set()

    await asyncio.gather(loop.run(stop), stop_when_played())
    return consumer, processor


async def test_a_message_whose_partition_is_revoked_in_the_same_step_is_left_alone() -> None:
    consumer, processor = await _play(
        [
            Rebalance("assign", [0, 1]),
            FakeMessage(0, 10),
            FakeMessage(1, 20),
            Rebalance("revoke", [0]),  # served by the next poll of the same step
            FakeMessage(1, 21),
        ]
    )
    assert (0, 10) not in processor.processed, "taken before the revoke, now the new owner's"
    assert processor.processed == [(1, 20), (1, 21)]
    assert all(owned for _p, _o, owned in consumer.commits), consumer.commits
    assert (1, 22, True) in consumer.commits
    assert not [c for c in consumer.commits if c[0] == 0], "nothing committed for partition 0"


async def test_a_partition_assigned_again_starts_from_a_clean_tracker() -> None:
    consumer, processor = await _play(
        [
            Rebalance("assign", [0]),
            FakeMessage(0, 10),
            Rebalance("revoke", [0]),
            Rebalance("assign", [0]),
            FakeMessage(0, 5),  # the new assignment restarts from the committed position
            FakeMessage(0, 6),
        ]
    )
    assert processor.processed == [(0, 5), (0, 6)]
    assert all(owned for _p, _o, owned in consumer.commits), consumer.commits
    assert consumer.commits[-1] == (0, 7, True)


async def test_lost_partitions_are_never_committed() -> None:
    consumer, _ = await _play(
        [
            Rebalance("assign", [0, 1]),
            FakeMessage(0, 1),
            FakeMessage(1, 1),
            Rebalance("lost", [0, 1]),
            Rebalance("assign", [1]),
            FakeMessage(1, 1),
        ]
    )
    assert all(owned for _p, _o, owned in consumer.commits), consumer.commits
    assert not [c for c in consumer.commits if c[0] == 0]
