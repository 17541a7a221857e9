"""The Kafka side of the consumer: poll, hand out work, bound it, commit what is done.

confluent-kafka is blocking, so every call on the consumer runs in ONE dedicated thread
(poll, pause/resume, commits, close, and therefore the rebalance callbacks, which fire
inside poll). The event loop never blocks on Kafka and never touches the consumer; it
decides what the next step does (commit these positions, pause or resume) and receives the
polled messages.

Messages taken and not finished are bounded by ``max_pending``. When every slot is taken
the loop waits a little for one to free (pausing discards the messages librdkafka
prefetched), and if none does it pauses the assigned partitions and keeps polling: poll
keeps serving rebalances and ``max.poll.interval.ms`` is never exceeded, however long the
third party is down.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from pos.logging import get_logger
from pos.order_consumer.metrics import ConsumerMetrics
from pos.order_consumer.offsets import OffsetTracker, PartitionKey, PartitionOffsets
from pos.order_consumer.processor import OrderProcessor

T = TypeVar("T")
log = get_logger(__name__)

POLL_BATCH = 500  # messages taken per step at most
POLL_TIMEOUT = 0.1  # seconds a step may block when no message is waiting
PAUSED_POLL_TIMEOUT = 0.02  # shorter while paused, so a freed slot resumes fetching soon
FULL_WAIT = 0.2  # how long a full loop waits for a slot before pausing the partitions


class ConsumeLoop:
    def __init__(
        self,
        consumer: Consumer,
        topic: str,
        processor: OrderProcessor,
        metrics: ConsumerMetrics,
        *,
        max_pending: int,
        commit_interval: float,
        grace: float,
    ) -> None:
        self._consumer = consumer
        self._topic = topic
        self._processor = processor
        self._metrics = metrics
        self._max_pending = max_pending
        self._resume_at = max(1, max_pending // 4)  # free slots needed to fetch again
        self._commit_interval = commit_interval
        self._grace = grace
        self._kafka = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kafka")
        self._offsets = OffsetTracker()
        self._tasks: defaultdict[PartitionKey, set[asyncio.Task[None]]] = defaultdict(set)
        self._pending = 0
        self._slot_freed = asyncio.Event()
        self._paused = False
        self._crash: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set, then drain, commit and leave the group."""
        self._loop = asyncio.get_running_loop()
        await self._in_kafka_thread(
            functools.partial(
                self._consumer.subscribe,
                [self._topic],
                on_assign=self._on_assign,
                on_revoke=self._on_revoke,
                on_lost=self._on_lost,
            )
        )
        last_commit = time.monotonic()
        try:
            while not stop.is_set() and self._crash is None:
                pause = await self._decide_pause()
                commit: dict[PartitionKey, int] = {}
                if time.monotonic() - last_commit >= self._commit_interval:
                    commit, last_commit = self._offsets.due(), time.monotonic()
                room = self._max_pending - self._pending
                messages = await self._in_kafka_thread(
                    functools.partial(
                        self._step,
                        commit,
                        pause,
                        max(1, min(room, POLL_BATCH)),
                        PAUSED_POLL_TIMEOUT if self._paused else POLL_TIMEOUT,
                    )
                )
                self._offsets.committed(commit)
                self._dispatch(messages)
        finally:
            await self._shutdown()
        if self._crash is not None:
            raise self._crash

    async def _decide_pause(self) -> bool | None:
        """True to pause fetching, False to resume, None to leave it as it is."""
        if not self._paused and self._pending >= self._max_pending:
            self._slot_freed.clear()
            try:
                await asyncio.wait_for(self._slot_freed.wait(), FULL_WAIT)
                return None
            except TimeoutError:
                self._paused = True
                self._metrics.paused.set(1)
                return True
        if self._paused and self._max_pending - self._pending >= self._resume_at:
            self._paused = False
            self._metrics.paused.set(0)
            return False
        return None

    # --- in the Kafka thread -------------------------------------------------------------

    def _step(
        self, commit: dict[PartitionKey, int], pause: bool | None, want: int, timeout: float
    ) -> list[Message]:
        if commit:
            self._commit(commit, asynchronous=True)
        if pause is not None:
            assignment = self._consumer.assignment()
            if pause:
                self._consumer.pause(assignment)
            else:
                self._consumer.resume(assignment)
        first = self._consumer.poll(timeout)
        if first is None:
            return []
        # poll returns as soon as one message is there; consume(timeout=0) then takes what
        # is already fetched, without waiting for a full batch.
        return [first, *self._consumer.consume(want - 1, 0)] if want > 1 else [first]

    def _commit(self, positions: dict[PartitionKey, int], *, asynchronous: bool) -> None:
        offsets = [TopicPartition(t, p, offset) for (t, p), offset in positions.items()]
        try:
            if asynchronous:
                self._consumer.commit(offsets=offsets, asynchronous=True)
            else:
                self._consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            # Not fatal: the messages are redelivered and found final in the database.
            log.warning("commit failed", error=str(exc), positions=len(offsets))
            return
        for tp in offsets:
            _low, high = self._consumer.get_watermark_offsets(tp, cached=True)
            if high >= 0:
                self._metrics.lag.labels(tp.topic, str(tp.partition)).set(high - tp.offset)

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.info("partitions assigned", partitions=_names(partitions))
        if self._paused:  # full: the new partitions must not fetch either
            consumer.incremental_assign(partitions)
            consumer.pause(partitions)

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Give the partitions' in-flight work a bounded time, then commit what is done,
        so the next owner starts after it and redelivers only the unfinished rest."""
        assert self._loop is not None
        keys = [(p.topic, p.partition) for p in partitions]
        positions = asyncio.run_coroutine_threadsafe(
            self._release(keys, drain=True), self._loop
        ).result()
        if positions:
            self._commit(positions, asynchronous=False)
        log.info("partitions revoked", partitions=_names(partitions), committed=len(positions))

    def _on_lost(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Lost, not revoked: another member may own them already, nothing may be committed."""
        assert self._loop is not None
        keys = [(p.topic, p.partition) for p in partitions]
        asyncio.run_coroutine_threadsafe(self._release(keys, drain=False), self._loop).result()
        log.warning("partitions lost", partitions=_names(partitions))

    # --- in the event loop ---------------------------------------------------------------

    def _dispatch(self, messages: Sequence[Message]) -> None:
        good: list[Message] = []
        for message in messages:
            if message.error() is None:
                good.append(message)
            else:
                log.warning("kafka message error", error=str(message.error()))
        if not good:
            return
        for message, task in zip(good, self._processor.start(good), strict=True):
            key, offset = _position(message)
            offsets = self._offsets.track(key, offset)
            self._tasks[key].add(task)
            task.add_done_callback(functools.partial(self._finished, key, offsets, offset))
        self._pending += len(good)
        self._metrics.consumed.inc(len(good))
        self._metrics.pending.set(self._pending)

    def _finished(
        self,
        key: PartitionKey,
        offsets: PartitionOffsets,
        offset: int,
        task: asyncio.Task[None],
    ) -> None:
        if (group := self._tasks.get(key)) is not None:
            group.discard(task)
        self._pending -= 1
        self._metrics.pending.set(self._pending)
        self._slot_freed.set()
        if task.cancelled():
            return  # abandoned on revoke/shutdown: uncommitted, so redelivered
        if (exc := task.exception()) is not None:
            # A bug, not a delivery failure (those end as FAILED). Stop without committing
            # this offset: after the restart the message is redelivered.
            if self._crash is None:
                log.error("processing crashed", partition=key, offset=offset, exc_info=exc)
                self._crash = exc
            return
        offsets.finish(offset)

    async def _release(self, keys: list[PartitionKey], *, drain: bool) -> dict[PartitionKey, int]:
        tasks = [task for key in keys for task in self._tasks.get(key, ())]
        if drain and tasks:
            # Our done callbacks were added before asyncio.wait's, so every finished
            # message is already marked when wait returns.
            await asyncio.wait(tasks, timeout=self._grace)
        for task in tasks:
            task.cancel()
        positions = self._offsets.positions(keys) if drain else {}
        for key in keys:
            self._offsets.drop(key)
            self._tasks.pop(key, None)
        return positions

    async def _shutdown(self) -> None:
        """Take nothing new, let in-flight work finish for a bounded time, commit, leave."""
        tasks = [task for group in self._tasks.values() for task in group]
        log.info("consumer stopping", pending=len(tasks))
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=self._grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        positions = self._offsets.positions()
        if positions:
            await self._in_kafka_thread(
                functools.partial(self._commit, positions, asynchronous=False)
            )
        await self._in_kafka_thread(self._consumer.close)
        self._kafka.shutdown(wait=True)
        log.info("consumer stopped", committed=len(positions), abandoned=self._pending)

    async def _in_kafka_thread(self, call: Callable[[], T]) -> T:
        assert self._loop is not None
        return await self._loop.run_in_executor(self._kafka, call)


def _names(partitions: list[TopicPartition]) -> list[str]:
    return [f"{p.topic}[{p.partition}]" for p in partitions]


def _position(message: Message) -> tuple[PartitionKey, int]:
    """Where a message (without error) came from; the client types these as optional."""
    topic, partition, offset = message.topic(), message.partition(), message.offset()
    assert topic is not None
    assert partition is not None
    assert offset is not None
    return (topic, partition), offset
