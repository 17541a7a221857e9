"""The dead-letter topic: the original message, untouched, plus why it could not be
delivered, in headers (reason, attempts, where it came from).

A dead letter is acknowledged by the broker BEFORE the order is marked FAILED and its
offset committed: otherwise a crash in between would leave a FAILED order with no dead
letter, or a committed offset with neither. The producer's
:class:`~pos.messaging.bridge.KafkaThread` serves its delivery reports and its flush.
"""

from __future__ import annotations

import asyncio
from functools import partial

import stamina
from confluent_kafka import KafkaError, KafkaException, Message, Producer

from pos.messaging.bridge import KafkaThread, resolve_soon

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
        self._thread = KafkaThread("kafka-dead-letters", serve=producer.poll)

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
            error = None if err is None else DeadLetterError(str(err))
            resolve_soon(loop, acked, None, error)

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
        await acked

    async def close(self, flush_seconds: float = 5.0) -> None:
        await self._thread.call(partial(self._producer.flush, flush_seconds))
        await self._thread.stop()
