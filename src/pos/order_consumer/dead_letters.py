"""The dead-letter topic: the original message, untouched, plus why it could not be
delivered, in headers (reason, attempts, where it came from).

A dead letter is acknowledged by the broker BEFORE the order is marked FAILED and its
offset committed: otherwise a crash in between would leave a FAILED order with no dead
letter, or a committed offset with neither.
"""

from __future__ import annotations

import asyncio

import stamina
from confluent_kafka import KafkaError, KafkaException, Message, Producer

HEADER_REASON = "dlq-reason"
HEADER_ATTEMPTS = "dlq-attempts"
HEADER_TOPIC = "dlq-original-topic"
HEADER_PARTITION = "dlq-original-partition"
HEADER_OFFSET = "dlq-original-offset"


class DeadLetterError(Exception):
    """The broker did not acknowledge a dead letter (it is retried until it does)."""


class DeadLetters:
    def __init__(self, producer: Producer, topic: str) -> None:
        self._producer = producer
        self._topic = topic
        self._pending = 0
        self._pump: asyncio.Task[None] | None = None

    async def send(self, source: Message, *, reason: str, attempts: int) -> None:
        """Produce the dead letter for ``source`` and wait for the broker's ack."""
        async for attempt in stamina.retry_context(
            on=(DeadLetterError, KafkaException, BufferError),
            attempts=None,
            timeout=None,
            wait_max=5.0,
        ):
            with attempt:
                await self._send_once(source, reason, attempts)

    async def _send_once(self, source: Message, reason: str, attempts: int) -> None:
        loop = asyncio.get_running_loop()
        acked: asyncio.Future[None] = loop.create_future()

        def on_delivery(err: KafkaError | None, _msg: Message) -> None:
            loop.call_soon_threadsafe(_settle, acked, err)

        headers = [
            *(source.headers() or []),
            (HEADER_REASON, reason.encode()),
            (HEADER_ATTEMPTS, str(attempts).encode()),
            (HEADER_TOPIC, (source.topic() or "").encode()),
            (HEADER_PARTITION, str(source.partition()).encode()),
            (HEADER_OFFSET, str(source.offset()).encode()),
        ]
        self._producer.produce(
            self._topic,
            key=source.key(),
            value=source.value(),
            headers=headers,
            on_delivery=on_delivery,
        )
        self._pending += 1
        if self._pump is None or self._pump.done():
            self._pump = asyncio.create_task(self._serve_delivery_reports())
        try:
            await acked
        finally:
            self._pending -= 1

    async def _serve_delivery_reports(self) -> None:
        """Delivery reports arrive only through ``poll``; poll without blocking the loop
        while some are awaited (dead letters are rare, so this task is usually absent)."""
        while self._pending:
            self._producer.poll(0)
            await asyncio.sleep(0.005)

    def close(self, timeout: float = 5.0) -> None:
        self._producer.flush(timeout)


def _settle(acked: asyncio.Future[None], err: KafkaError | None) -> None:
    if acked.done():
        return
    if err is None:
        acked.set_result(None)
    else:
        acked.set_exception(DeadLetterError(str(err)))
