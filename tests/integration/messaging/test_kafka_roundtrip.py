"""A produce/consume round trip through the real broker with the project's own settings.

On a topic of its own: the session's order topic also holds what other tests on the same
worker sent, which this test, reading everything, would take for its own.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka import KafkaError, Message

from pos.config import KafkaSettings
from pos.messaging.kafka import HEADER_EVENT_ID, make_consumer, make_producer
from pos.scratch.topics import own_topics


@pytest.fixture
def own_topic(kafka_settings: KafkaSettings) -> Iterator[KafkaSettings]:
    with own_topics(kafka_settings, "roundtrip.test") as settings:
        yield settings


def test_round_trip_keeps_key_value_headers_and_partitioning(
    own_topic: KafkaSettings,
) -> None:
    kafka_settings = own_topic
    producer = make_producer(kafka_settings)
    sent: dict[str, tuple[bytes, str]] = {}
    acked: list[Message] = []
    errors: list[KafkaError] = []

    def on_delivery(err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            errors.append(err)
        else:
            acked.append(msg)

    for i in range(50):
        key, event_id = str(uuid.uuid4()), str(uuid.uuid4())
        value = f'{{"n": {i}}}'.encode()
        sent[key] = (value, event_id)
        producer.produce(
            kafka_settings.order_topic,
            key=key,
            value=value,
            headers={HEADER_EVENT_ID: event_id},
            on_delivery=on_delivery,
        )
    assert producer.flush(30) == 0
    assert errors == []
    assert len(acked) == 50

    consumer = make_consumer(f"test-{uuid.uuid4().hex[:8]}", kafka_settings)
    consumer.subscribe([kafka_settings.order_topic])
    received: dict[str, Message] = {}
    deadline = time.monotonic() + 30
    try:
        while len(received) < 50 and time.monotonic() < deadline:
            for msg in consumer.consume(100, timeout=0.5):
                assert msg.error() is None
                received[msg.key().decode()] = msg
        for msg in received.values():
            consumer.store_offsets(msg)
        consumer.commit(asynchronous=False)
    finally:
        consumer.close()

    assert set(received) == set(sent)
    partitions = {m.partition() for m in received.values()}
    assert len(partitions) > 1, "keys should spread over the topic's partitions"
    for key, msg in received.items():
        value, event_id = sent[key]
        assert msg.value() == value
        assert dict(msg.headers() or [])[HEADER_EVENT_ID] == event_id.encode()
        # The same key always maps to the partition the producer was told about.
        assert msg.partition() == next(a.partition() for a in acked if a.key() == msg.key())
