"""The publisher settings: environment overrides, and the producer configuration built on them."""

from __future__ import annotations

import pytest

from pos.config import DatabaseSettings, KafkaSettings, PublisherSettings
from pos.order_publisher.app import (
    claim_idle_limit_ms,
    guarded,
    relay_options,
    relay_producer_config,
)
from pos.order_publisher.kafka_sender import delivery_bound_ms


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
    # An unknown topic is named as the cause before the delivery times out.
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


@pytest.mark.parametrize(
    ("overrides", "delivery", "request_ms"),
    [
        ("{}", 10_000, 5_000),
        ('{"delivery.timeout.ms": 120000}', 120_000, 5_000),
        ('{"message.timeout.ms": 90000}', 90_000, 5_000),
        ('{"request.timeout.ms": 60000}', 10_000, 60_000),
        ('{"delivery.timeout.ms": 30000, "message.timeout.ms": 200000}', 200_000, 5_000),
    ],
)
def test_the_claim_outlives_the_effective_send_time_overrides_included(
    monkeypatch: pytest.MonkeyPatch, overrides: str, delivery: int, request_ms: int
) -> None:
    """A claim cut off by idle_in_transaction_session_timeout while its send still runs
    would release its rows to another relay, which publishes them a second time."""
    monkeypatch.setenv("PUBLISHER_KAFKA_OVERRIDES", overrides)
    monkeypatch.setenv("PUBLISHER_DELIVERY_TIMEOUT_MS", "10000")
    config = relay_producer_config(KafkaSettings(kafka_broker="k:9092"), PublisherSettings())
    assert delivery_bound_ms(config) >= delivery + request_ms
    # Two sends (the batch ahead in the queue, then its own) and a margin.
    limit = claim_idle_limit_ms(config)
    assert limit >= 2 * (delivery + request_ms) + 30_000
    url = guarded(DatabaseSettings(database_url="postgresql://u:p@h:5432/d"), config)
    assert url.database_url.endswith(f"?idle_in_transaction_session_timeout={limit}")


def test_librdkafka_defaults_count_when_no_timeout_is_named() -> None:
    assert delivery_bound_ms({}) >= 300_000 + 30_000
