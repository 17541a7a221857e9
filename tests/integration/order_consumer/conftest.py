"""A topic pair per test: a fresh group must not read other tests' events. (The third
party, one per module reset before each test, is `tp` in tests/integration/conftest.py.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pos.config import KafkaSettings
from pos.scratch.topics import own_topics


@pytest.fixture
def topics(kafka_settings: KafkaSettings) -> Iterator[KafkaSettings]:
    with own_topics(kafka_settings, kafka_settings.order_topic, partitions=3) as settings:
        yield settings
