"""A topic pair per test: a fresh group must not read other tests' events. (The third
party, one per module reset before each test, is `tp` in tests/integration/conftest.py.)"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from pos.config import KafkaSettings
from pos.infra import kafka
from pos.scratch.topics import drop_topics


@pytest.fixture
def topics(kafka_settings: KafkaSettings) -> Iterator[KafkaSettings]:
    name = f"{kafka_settings.order_topic}.{uuid.uuid4().hex[:6]}"
    settings = kafka_settings.model_copy(
        update={"order_topic": name, "dlq_topic": f"{name}.dlq", "order_topic_partitions": 3}
    )
    kafka.ensure_topics(settings)
    yield settings
    # The admin client is held until the futures resolve: once it is garbage collected
    # its pending requests are dropped and the topics stay.
    drop_topics(settings, [name, settings.dlq_topic])
