"""The publisher settings: environment overrides, and the producer configuration built on them."""

from __future__ import annotations

import pytest

from pos.config import KafkaSettings, PublisherSettings
from pos.order_publisher.app import relay_options, relay_producer_config


def test_producer_keeps_the_delivery_guarantees_and_takes_overrides_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PUBLISHER_KAFKA_OVERRIDES", '{"linger.ms": 7, "log_level": 6}')
    monkeypatch.setenv("PUBLISHER_DELIVERY_TIMEOUT_MS", "4000")
    settings = PublisherSettings(_env_file=None)
    config = relay_producer_config(KafkaSettings(kafka_broker="k:9092"), settings)
    assert config["acks"] == "all"
    assert config["enable.idempotence"] is True
    assert config["delivery.timeout.ms"] == 4000
    # An unknown topic must be reported before the delivery times out.
    assert config["topic.metadata.propagation.max.ms"] == 2000
    assert config["linger.ms"] == 7
    assert config["log_level"] == 6


def test_the_naive_relay_is_a_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBLISHER_BATCH_SIZE", "1")
    monkeypatch.setenv("PUBLISHER_PIPELINE_DEPTH", "1")
    monkeypatch.setenv("PUBLISHER_LISTEN", "false")
    settings = PublisherSettings(_env_file=None)
    options = relay_options(settings)
    assert (options.batch_size, options.pipeline_depth, options.poll_interval) == (1, 1, 1.0)
    assert settings.publisher_listen is False
    assert options.retry.max_attempts == settings.publisher_max_attempts
