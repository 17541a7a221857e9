"""The topics the project creates keep their events a week, whatever the broker's default."""

from __future__ import annotations

import uuid

from confluent_kafka.admin import ConfigResource, ResourceType  # type: ignore[attr-defined]

from pos.config import KafkaSettings
from pos.infra import kafka
from pos.scratch.topics import drop_topics


def test_created_topics_keep_events_at_least_seven_days(kafka_settings: KafkaSettings) -> None:
    name = f"test.retention.{uuid.uuid4().hex[:10]}"
    kafka.ensure_topics(kafka_settings, {name: 1})
    client = kafka.admin(kafka_settings)
    try:
        resource = ConfigResource(ResourceType.TOPIC, name)
        configs = client.describe_configs([resource])[resource].result(timeout=15)
        retention = configs["retention.ms"]
        assert not retention.is_default, "set on the topic, not inherited from the broker"
        assert int(retention.value) >= 7 * 24 * 3600 * 1000
    finally:
        drop_topics(kafka_settings, [name])
