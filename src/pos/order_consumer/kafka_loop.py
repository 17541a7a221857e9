"""The Kafka side of the consumer: poll, hand out work, bound it, commit what is done.

confluent-kafka is blocking, so every call on the consumer runs in ONE dedicated thread
(poll, pause/resume, commits, close, and therefore the rebalance and commit callbacks,
which fire inside poll). The event loop never blocks on Kafka and never touches the
consumer; it decides what the next step does (commit these positions, pause or resume)
and receives the polled messages.

Ownership, the rule that keeps a group's offsets honest: this member commits a position
only for a partition it owns, in the assignment that position was computed in.
``_epochs`` (Kafka thread only) maps each owned partition to the epoch of its current
assignment; the assign callback adds it, the revoke and lost callbacks remove it. Each
polled message is tagged with its partition's epoch right after the ``poll`` that
returned it (a rebalance callback served by that poll ran before it returned), and at
the end of the step every message whose partition was revoked meanwhile by a later poll
is dropped: its new owner reads it from the committed position. Positions carry their
epoch, and a commit is sent only while the epoch is still current. So a revoke served
between taking a message and handing it out can never make this member track it under a
fresh assignment and commit past messages the new owner has not finished.

Messages taken and not finished are bounded by ``max_pending``. When every slot is taken
the loop waits a little for one to free (pausing discards the messages librdkafka
prefetched), and if none does it pauses the assigned partitions and keeps polling: poll
keeps serving rebalances and ``max.poll.interval.ms`` is never exceeded, however long the
third party is down. The same pause holds while the third party's breaker is open.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from pos.logging import get_logger
from pos.order_consumer.commit_log import CommitLog
from pos.order_consumer.metrics import ConsumerMetrics
from pos.order_consumer.offsets import OffsetTracker, PartitionOffsets, Position, TopicPartitionId
from pos.order_consumer.processor import OrderProcessor

T = TypeVar("T")
OnCommit = Callable[[KafkaError | None, list[TopicPartition]], None]
log = get_logger(__name__)

POLL_BATCH = 500  # messages taken per step at most
POLL_TIMEOUT = 0.1  # seconds a step may block when no message is waiting
PAUSED_POLL_TIMEOUT = 0.02  # shorter while paused, so a freed slot resumes fetching soon
FULL_WAIT = 0.2  # how long a full loop waits for a slot before pausing the partitions

#: A polled message and the epoch of its partition's assignment when it was returned
#: (None for an error event, which belongs to no partition).
Taken = tuple[Message, int | None]


class ConsumeLoop:
    def __init__(
        self,
        make_consumer: Callable[[OnCommit], Consumer],
        topic: str,
        processor: OrderProcessor,
        metrics: ConsumerMetrics,
        *,
        max_pending: int,
        commit_interval: float,
        grace: float,
        hold: Callable[[], bool] = lambda: False,
        commit_log: Callable[[str], CommitLog] | None = None,
    ) -> None:
        self._consumer = make_consumer(self._on_commit)
        self._topic = topic
        self._processor = processor
        self._metrics = metrics
        self._max_pending = max_pending
        self._resume_at = max(1, max_pending // 4)  # free slots needed to fetch again
        self._commit_interval = commit_interval
        self._grace = grace
        self._hold = hold  # True while the destination cannot take calls (breaker open)
        self._open_commit_log = commit_log
        self._commit_log: CommitLog | None = None
        self._kafka = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kafka")
        self._offsets = OffsetTracker()
        self._tasks: defaultdict[TopicPartitionId, set[asyncio.Task[None]]] = defaultdict(set)
        self._pending = 0
        self._slot_freed = asyncio.Event()
        self._paused = False
        self._crash: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # Kafka thread only: owned partitions and the epoch of their assignment.
        self._epochs: dict[TopicPartitionId, int] = {}
        self._epoch_seq = 0

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
                commit: dict[TopicPartitionId, Position] = {}
                if time.monotonic() - last_commit >= self._commit_interval:
                    commit, last_commit = self._offsets.due(), time.monotonic()
                room = self._max_pending - self._pending
                taken = await self._in_kafka_thread(
                    functools.partial(
                        self._step,
                        commit,
                        pause,
                        max(1, min(room, POLL_BATCH)),
                        PAUSED_POLL_TIMEOUT if self._paused else POLL_TIMEOUT,
                    )
                )
                self._dispatch(taken)
        finally:
            await self._shutdown()
        if self._crash is not None:
            raise self._crash

    async def _decide_pause(self) -> bool | None:
        """True to pause fetching, False to resume, None to leave it as it is."""
        holding = self._hold()
        if not self._paused:
            if holding:
                return self._set_paused(True)
            if self._pending >= self._max_pending:
                self._slot_freed.clear()
                try:
                    await asyncio.wait_for(self._slot_freed.wait(), FULL_WAIT)
                    return None
                except TimeoutError:
                    return self._set_paused(True)
        elif not holding and self._max_pending - self._pending >= self._resume_at:
            return self._set_paused(False)
        return None

    def _set_paused(self, paused: bool) -> bool:
        self._paused = paused
        self._metrics.paused.set(int(paused))
        return paused

    # --- in the Kafka thread -------------------------------------------------------------

    def _step(
        self,
        commit: dict[TopicPartitionId, Position],
        pause: bool | None,
        want: int,
        timeout: float,
    ) -> list[Taken]:
        if commit:
            self._commit(commit, asynchronous=True)
        if pause is not None:
            assignment = self._consumer.assignment()
            if pause:
                self._consumer.pause(assignment)
            else:
                self._consumer.resume(assignment)
        # One message per poll: a rebalance callback served by a poll runs before that
        # poll returns, so the epoch read right after it is the message's own. (A batch
        # call could serve a revoke in the middle of the batch it returns.) poll(0) takes
        # what is already fetched without waiting.
        taken: list[Taken] = []
        message = self._consumer.poll(timeout)
        while message is not None:
            taken.append((message, self._epoch_of(message)))
            if len(taken) >= want:
                break
            message = self._consumer.poll(0)
        kept = [t for t in taken if t[0].error() is not None or self._current(t)]
        if len(kept) < len(taken):
            self._metrics.dropped.inc(len(taken) - len(kept))
        return kept

    def _epoch_of(self, message: Message) -> int | None:
        if message.error() is not None:
            return None
        return self._epochs.get((message.topic() or "", message.partition() or 0))

    def _current(self, taken: Taken) -> bool:
        message, epoch = taken
        key = (message.topic() or "", message.partition() or 0)
        return epoch is not None and self._epochs.get(key) == epoch

    def _commit(self, positions: dict[TopicPartitionId, Position], *, asynchronous: bool) -> None:
        """Commit the positions whose assignment is still the current one. Success is
        recorded when the broker acknowledges (``_on_commit``), never when sent."""
        offsets = [
            TopicPartition(t, p, offset)
            for (t, p), (offset, epoch) in positions.items()
            if self._epochs.get((t, p)) == epoch
        ]
        if not offsets:
            return
        try:
            if asynchronous:
                self._consumer.commit(offsets=offsets, asynchronous=True)
            else:
                result = self._consumer.commit(offsets=offsets, asynchronous=False)
                self._on_commit(None, result or [])
        except KafkaException as exc:
            # Not fatal: the messages are redelivered and found final in the database.
            log.warning("commit failed", error=str(exc), positions=len(offsets))

    def _on_commit(self, err: KafkaError | None, partitions: list[TopicPartition]) -> None:
        """The broker's answer to a commit (asynchronous ones arrive inside poll)."""
        if err is not None and err.code() != KafkaError._NO_OFFSET:
            log.warning("commit failed", error=str(err), positions=len(partitions))
            return
        for tp in partitions:
            if tp.error is not None or tp.offset < 0:
                if tp.error is not None:
                    log.warning("commit failed", partition=f"{tp.topic}[{tp.partition}]")
                continue
            if self._loop is not None:
                self._loop.call_soon_threadsafe(
                    self._offsets.committed, (tp.topic, tp.partition), tp.offset
                )
            if self._commit_log is not None:
                self._commit_log.write(tp.topic, tp.partition, tp.offset)
            _low, high = self._consumer.get_watermark_offsets(tp, cached=True)
            if high >= 0:
                self._metrics.lag.labels(tp.topic, str(tp.partition)).set(high - tp.offset)

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for p in partitions:
            self._epoch_seq += 1
            self._epochs[(p.topic, p.partition)] = self._epoch_seq
        if self._commit_log is None and self._open_commit_log is not None:
            self._commit_log = self._open_commit_log(consumer.memberid() or "")
        self._metrics.assigned.set(len(self._epochs))
        log.info("partitions assigned", partitions=_names(partitions))
        if self._paused:  # full, or the breaker is open: the new partitions must wait too
            consumer.incremental_assign(partitions)
            consumer.pause(partitions)

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Give the partitions' in-flight work a bounded time, then commit what is done,
        so the next owner starts after it and redelivers only the unfinished rest. They
        are still ours until this returns, so the commit is sent before ownership ends."""
        assert self._loop is not None
        keys = [(p.topic, p.partition) for p in partitions]
        positions = asyncio.run_coroutine_threadsafe(
            self._release(keys, drain=True), self._loop
        ).result()
        if positions:
            self._commit(positions, asynchronous=False)
        for key in keys:
            self._epochs.pop(key, None)
        self._metrics.assigned.set(len(self._epochs))
        log.info("partitions revoked", partitions=_names(partitions), committed=len(positions))

    def _on_lost(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Lost, not revoked: another member may own them already, nothing may be committed."""
        assert self._loop is not None
        keys = [(p.topic, p.partition) for p in partitions]
        for key in keys:
            self._epochs.pop(key, None)
        self._metrics.assigned.set(len(self._epochs))
        asyncio.run_coroutine_threadsafe(self._release(keys, drain=False), self._loop).result()
        log.warning("partitions lost", partitions=_names(partitions))

    # --- in the event loop ---------------------------------------------------------------

    def _dispatch(self, taken: Sequence[Taken]) -> None:
        good: list[tuple[Message, int]] = []
        for message, epoch in taken:
            if message.error() is None and epoch is not None:
                good.append((message, epoch))
            else:
                log.warning("kafka message error", error=str(message.error()))
        if not good:
            return
        tasks = self._processor.start([message for message, _ in good])
        for (message, epoch), task in zip(good, tasks, strict=True):
            key, offset = _position(message)
            offsets = self._offsets.track(key, offset, epoch)
            self._tasks[key].add(task)
            task.add_done_callback(functools.partial(self._finished, key, offsets, offset))
        self._pending += len(good)
        self._metrics.consumed.inc(len(good))
        self._metrics.pending.set(self._pending)

    def _finished(
        self,
        key: TopicPartitionId,
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

    async def _release(
        self, keys: list[TopicPartitionId], *, drain: bool
    ) -> dict[TopicPartitionId, Position]:
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
        if self._commit_log is not None:
            self._commit_log.close()
        log.info("consumer stopped", committed=len(positions), abandoned=self._pending)

    async def _in_kafka_thread(self, call: Callable[[], T]) -> T:
        assert self._loop is not None
        return await self._loop.run_in_executor(self._kafka, call)


def _names(partitions: list[TopicPartition]) -> list[str]:
    return [f"{p.topic}[{p.partition}]" for p in partitions]


def _position(message: Message) -> tuple[TopicPartitionId, int]:
    """Where a message (without error) came from; the client types these as optional."""
    topic, partition, offset = message.topic(), message.partition(), message.offset()
    assert topic is not None
    assert partition is not None
    assert offset is not None
    return (topic, partition), offset
