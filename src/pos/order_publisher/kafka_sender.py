"""Producing outbox rows to Kafka from asyncio, with one awaitable per batch of acknowledgements.

confluent-kafka's Producer is not asyncio-aware: ``produce()`` only enqueues (fast, never
blocks while there is queue room) and delivery reports arrive through ``poll()``. The
producer's :class:`~pos.messaging.bridge.KafkaThread` serves ``poll()`` and runs its
``flush``; each batch counts its reports down and resolves its future on the event loop
once, when the last one is in, so the loop never blocks and pays one cross-thread hop per
batch, not per message.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from pos import tracing
from pos.logging import get_logger
from pos.messaging.bridge import KafkaThread, resolve_soon
from pos.messaging.kafka import HEADER_EVENT_ID, HEADER_EVENT_TYPE
from pos.order_publisher import send_spans
from pos.order_publisher.kafka_errors import is_row_fault, needs_new_producer
from pos.order_publisher.model import DeliveryFailure, FailureKind, OutboxRow

log = get_logger(__name__)

# librdkafka's defaults, for a configuration that does not name a timeout.
_DEFAULT_TIMEOUTS_MS = {"delivery.timeout.ms": 300_000, "request.timeout.ms": 30_000}
# librdkafka checks message time-outs about once a second.
_TIMEOUT_SCAN_MS = 1_000


def delivery_bound_ms(config: Mapping[str, Any]) -> int:
    """The longest a produced record can wait for its delivery report, from the EFFECTIVE
    producer configuration (overrides included).

    ``message.timeout.ms`` is librdkafka's alias of ``delivery.timeout.ms``: both set one
    property and the one applied last (later in the mapping) wins. A record already in a
    request when its time-out passes is only failed once that request times out, so the
    request time-out is added, and the second the time-out scan may take.
    """
    delivery = _DEFAULT_TIMEOUTS_MS["delivery.timeout.ms"]
    for key, value in config.items():
        if key in ("delivery.timeout.ms", "message.timeout.ms"):
            delivery = int(float(value))
    request = int(
        float(config.get("request.timeout.ms", _DEFAULT_TIMEOUTS_MS["request.timeout.ms"]))
    )
    return delivery + request + _TIMEOUT_SCAN_MS


def kafka_headers(row: OutboxRow) -> list[tuple[str, str | bytes | None]]:
    """The record's headers: the event's identity first, then what the API stored (trace ids)."""
    return [
        (HEADER_EVENT_ID, row.event_id),
        (HEADER_EVENT_TYPE, row.event_type),
        *row.headers.items(),
    ]


def classify(err: KafkaError) -> FailureKind:
    return FailureKind.MESSAGE if is_row_fault(err) else FailureKind.BROKER


def describe(err: KafkaError) -> str:
    return f"{err.name()}: {err.str()}"


class PendingBatch:
    """Counts one batch's delivery reports down; resolves its future when the last arrives.

    Reports arrive on the producer's thread while ``produce()`` may still be refusing records on
    the loop thread, so the count is guarded by a lock.
    """

    __slots__ = ("_future", "_lock", "_loop", "_on_fatal", "_pending", "failures")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        size: int,
        on_fatal: Callable[[KafkaError], None] | None = None,
    ) -> None:
        self._loop = loop
        self._on_fatal = on_fatal
        self._future: asyncio.Future[list[DeliveryFailure]] = loop.create_future()
        self._lock = threading.Lock()
        self._pending = size
        self.failures: list[DeliveryFailure] = []
        if size == 0:
            self._future.set_result([])

    def delivered(self, row_id: int, err: KafkaError | None, _msg: Message) -> None:
        self.settle(row_id, err)

    def settle(self, row_id: int, err: KafkaError | None) -> None:
        if err is not None and self._on_fatal is not None and needs_new_producer(err):
            self._on_fatal(err)
        with self._lock:
            if err is not None:
                failure = DeliveryFailure(row_id, classify(err), describe(err), err.name())
                self.failures.append(failure)
            self._pending -= 1
            done = self._pending == 0
        if done:
            resolve_soon(self._loop, self._future, self.failures)

    @property
    def future(self) -> asyncio.Future[list[DeliveryFailure]]:
        return self._future


class KafkaSender:
    """The relay's producer: enqueue a batch now, await its acknowledgements later."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self._config = {**config, "error_cb": self._on_error}
        self._producer = Producer(self._config)
        self._fatal = False
        # Reads the attribute each time: a producer replaced after a fatal error is
        # served from the next turn on.
        self._thread = KafkaThread(
            "kafka-delivery-reports", serve=lambda timeout: self._producer.poll(timeout)
        )

    def _on_error(self, err: KafkaError) -> None:
        # Connection-level errors repeat every few seconds during an outage; the relay logs
        # broker state changes itself, from delivery reports, so these stay at debug.
        if needs_new_producer(err):
            self._mark_fatal(err)
        else:
            log.debug("kafka client error", error=describe(err))

    def _mark_fatal(self, err: KafkaError) -> None:
        """The producer refuses everything from now on: the next batch gets a new one."""
        if not self._fatal:
            self._fatal = True
            log.error("kafka producer fatal error; it will be replaced", error=describe(err))

    async def produce(self, rows: Sequence[OutboxRow]) -> asyncio.Future[list[DeliveryFailure]]:
        """Enqueue every row in order; the returned future resolves with the failures.

        Returns as soon as the rows are enqueued, so the caller can claim the next batch
        while this one is in flight.
        """
        if self._fatal:
            await self._replace_producer()
        batch = PendingBatch(asyncio.get_running_loop(), len(rows), self._mark_fatal)
        traced = tracing.enabled()  # off: not a single call more per row
        for row in rows:
            headers = kafka_headers(row)
            on_delivery: send_spans.DeliveryReport = partial(batch.delivered, row.id)
            if traced:
                span = send_spans.start(row)
                headers = send_spans.headers(row, span)
                on_delivery = send_spans.ended_on_delivery(span, on_delivery)
            while True:
                mark = self._thread.reports
                try:
                    self._producer.produce(
                        row.topic,
                        row.payload,
                        row.aggregate_id,
                        headers=headers,
                        on_delivery=on_delivery,
                    )
                    break
                except BufferError:
                    # Local queue full: the next delivery report frees room. The queue
                    # holds records, so one comes within the delivery time-out.
                    await self._thread.served(mark)
                except KafkaException as exc:
                    # Refused before it left the process (e.g. larger than message.max.bytes).
                    if traced:
                        send_spans.fail(span, exc.args[0])
                    batch.settle(row.id, exc.args[0])
                    break
        return batch.future

    async def _replace_producer(self) -> None:
        """An idempotent producer that hit a fatal error refuses every record; start afresh.

        Purging fails the old producer's outstanding records with _PURGE_* reports (broker
        kind: their rows stay unpublished and are simply claimed again), so no batch waits
        for ever.
        """
        old, self._producer = self._producer, Producer(self._config)
        self._fatal = False
        old.purge()
        await self._thread.call(partial(old.flush, 5))
        log.warning("kafka producer replaced after a fatal error")

    async def close(self, flush_seconds: float) -> int:
        """Flush what is still queued, stop the producer's thread; returns the records left."""
        left: int = await self._thread.call(partial(self._producer.flush, flush_seconds))
        await self._thread.stop()
        return left
