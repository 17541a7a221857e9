"""The relay loop: claim a batch, produce it, await the acknowledgements, mark, commit.

Throughput comes from pipelining. ``pipeline_depth`` workers each keep their own connection;
claiming and producing happen under one lock, acknowledgements and marking outside it. So
while batch N waits for Kafka and is marked, batch N+1 is already claimed (SKIP LOCKED
passes over N's locked rows) and in the producer's queue. The lock also keeps each relay's
records in claim order (oldest first) inside every partition, and it makes exactly one
worker wait for wake-ups while the outbox is empty: the others queue behind it and claim
straight after it, so a backlog drains in full batches back to back.

Ordering across relays is the price of scaling out: relay B skips relay A's locked rows and
may put newer rows onto a partition before A's batch lands (the tests measure how many).
Each order yields one ``order.created`` event, and a redrive adds the next event for the
same key only long after the first was published, so what gets reordered are events of
*different* orders, which no consumer relies on. A deployment that needs strict
per-partition order runs a single relay.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Protocol

from pos.domain.backoff import Backoff
from pos.logging import get_logger
from pos.order_publisher.kafka_errors import is_alert
from pos.order_publisher.metrics import PublisherMetrics
from pos.order_publisher.model import (
    BatchOutcome,
    BrokerHealth,
    DeliveryFailure,
    FailureKind,
    OutboxRow,
    RowRetryPolicy,
    ScanCursor,
    Transition,
    settle,
)
from pos.order_publisher.outbox_store import DB_ERRORS, Claim, OutboxStore
from pos.order_publisher.wakeup import Wakeup, sleep_unless

log = get_logger(__name__)

#: A worker that lost its database connection reconnects 0.1 s, 0.2 s, ... at most 5 s later.
RECONNECT = Backoff(0.1, 5.0)


class Sender(Protocol):
    async def produce(self, rows: list[OutboxRow]) -> asyncio.Future[list[DeliveryFailure]]: ...


@dataclass(frozen=True, slots=True)
class RelayOptions:
    batch_size: int
    pipeline_depth: int
    poll_interval: float
    retry: RowRetryPolicy
    broker_retry_base: float
    broker_retry_max: float


class Relay:
    """``pipeline_depth`` workers sharing one claim lock; see the module docstring.

    Why a row is never sent by two relays at once is explained in ``outbox_store``.
    """

    def __init__(
        self,
        store: OutboxStore,
        sender: Sender,
        wakeup: Wakeup,
        metrics: PublisherMetrics,
        options: RelayOptions,
    ) -> None:
        self._store = store
        self._sender = sender
        self._wakeup = wakeup
        self._metrics = metrics
        self._opts = options
        self._health = BrokerHealth(options.broker_retry_base, options.broker_retry_max)
        self._claim_lock = asyncio.Lock()
        self._cursor = ScanCursor(rescan_interval=options.poll_interval)
        self._stop = asyncio.Event()

    def stop(self) -> None:
        """Finish the batches in flight, claim no more."""
        self._stop.set()
        self._wakeup.notify()

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            for _ in range(self._opts.pipeline_depth):
                tg.create_task(self._worker())

    async def _worker(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                async with self._store.session() as claim:
                    failures = 0
                    while not self._stop.is_set():
                        await self._one_batch(claim)
            except DB_ERRORS as exc:
                # The claim's locks went with the connection: its rows are claimable again.
                # Jittered: the workers of every relay lost the database at once.
                failures += 1
                delay = RECONNECT.jittered(failures)
                log.warning(
                    "outbox database error; reconnecting", error=str(exc), retry_in=round(delay, 3)
                )
                await sleep_unless(self._stop, delay)

    async def _one_batch(self, claim: Claim) -> None:
        async with self._claim_lock:
            rows = await self._claim_when_available(claim)
            if not rows:
                return
            # Enqueued in claim order while the lock is held; acknowledged outside it.
            acks = await self._sender.produce(rows)
        left_rows = True
        try:
            failures = await acks
            acked_at = time.time()
            outcome = settle(rows, failures, self._opts.retry)
            await claim.settle(outcome)
            left_rows = len(outcome.published) < len(rows)
        finally:
            self._cursor.settled(left_rows=left_rows)
        self._account(rows, outcome, acked_at)

    async def _claim_when_available(self, claim: Claim) -> list[OutboxRow]:
        while not self._stop.is_set():
            pause = self._health.resume_at - time.monotonic()
            if pause > 0 and await sleep_unless(self._stop, pause):
                break
            limit = self._opts.batch_size
            rows = await claim.claim(limit, self._cursor.start_after(time.monotonic()))
            self._cursor.claimed(rows[-1].id if rows else None, full=len(rows) == limit)
            if rows:
                return rows
            await self._wakeup.wait(self._opts.poll_interval)
        return []

    def _account(self, rows: list[OutboxRow], outcome: BatchOutcome, acked_at: float) -> None:
        """Metrics, broker state and the log lines that go with a settled batch."""
        now = time.monotonic()
        m = self._metrics
        published = rows
        if len(outcome.published) != len(rows):
            done = set(outcome.published)
            published = [r for r in rows if r.id in done]
        if published:
            m.observe_published(published, acked_at)
        # One line per event only at DEBUG (the check keeps a 50k/s drain from paying for
        # it otherwise): then an order's id leads from the API's line to this one.
        if published and logging.getLogger().isEnabledFor(logging.DEBUG):
            for r in published:
                log.debug(
                    "event published",
                    event_id=r.event_id,
                    order_id=r.aggregate_id,
                    outbox_id=r.id,
                    request_id=r.headers.get("request-id"),
                    traceparent=r.headers.get("traceparent"),
                )
        m.count_failures(FailureKind.BROKER, len(outcome.untouched))
        for code, n in outcome.broker_codes.items():
            m.broker_errors.labels(code).inc(n)
        m.count_failures(FailureKind.MESSAGE, len(outcome.retries))
        for retry in outcome.retries:
            if retry.park:
                m.parked.inc()
                log.error(
                    "outbox row parked",
                    outbox_id=retry.row_id,
                    attempts=retry.attempts,
                    error=retry.error,
                )
            else:
                log.warning(
                    "outbox row refused by kafka; will retry",
                    outbox_id=retry.row_id,
                    attempts=retry.attempts,
                    retry_in=retry.delay_seconds,
                    error=retry.error,
                )
        # A batch of refusals alone proves the broker answers; only silence says it is down.
        transition = self._health.record(broker_failed=outcome.broker_failed, now=now)
        if transition is Transition.WENT_DOWN:
            m.broker_available.set(0)
            alerts = sorted(code for code in outcome.broker_codes if is_alert(code))
            log.error(
                # Not an outage that passes by itself: credentials, ACLs, a missing topic
                # or a fenced producer. Rows are still never charged for it.
                "kafka refuses every row; fix the set-up: keeping rows and backing off"
                if alerts
                else "kafka unavailable; keeping rows and backing off",
                unsent_rows=len(outcome.untouched),
                error=outcome.broker_error,
                codes=sorted(outcome.broker_codes),
            )
        elif transition is Transition.CAME_BACK:
            m.broker_available.set(1)
            log.info(
                "kafka available again", outage_seconds=round(self._health.outage_seconds(now), 1)
            )
