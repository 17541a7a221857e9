"""Configuration: contract defaults, environment overrides, clear errors for bad values."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pos.config import ApiSettings, DatabaseSettings, KafkaSettings, ThirdPartySettings


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "DATABASE_URL",
        "KAFKA_BROKER",
        "ORDER_TOPIC",
        "DLQ_TOPIC",
        "API_HOST",
        "API_PORT",
        "THIRD_PARTY_URL",
    ):
        monkeypatch.delenv(name, raising=False)


def test_contract_defaults() -> None:
    assert DatabaseSettings(_env_file=None).database_url == (  # type: ignore[call-arg]
        "postgresql://postgres:postgres@localhost:5433/posdb"
    )
    kafka = KafkaSettings(_env_file=None)  # type: ignore[call-arg]
    assert kafka.kafka_broker == "localhost:9092"
    assert kafka.order_topic == "order.created"
    assert kafka.dlq_topic == "order.created.dlq"
    api = ApiSettings(_env_file=None)  # type: ignore[call-arg]
    assert (api.api_host, api.api_port) == ("127.0.0.1", 8000)
    third = ThirdPartySettings(_env_file=None)  # type: ignore[call-arg]
    assert third.third_party_url == "http://127.0.0.1:8081"


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db.example:6000/orders")
    monkeypatch.setenv("KAFKA_BROKER", " k1:9092 , k2:9092 ")
    monkeypatch.setenv("API_PORT", "9000")
    db = DatabaseSettings(_env_file=None)  # type: ignore[call-arg]
    assert db.database_name == "orders"
    assert db.sqlalchemy_url == "postgresql+psycopg://u:p@db.example:6000/orders"
    assert KafkaSettings(_env_file=None).kafka_broker == "k1:9092,k2:9092"  # type: ignore[call-arg]
    assert ApiSettings(_env_file=None).api_port == 9000  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u:p@localhost/db", "must start with postgresql://"),
        ("postgresql://u:p@localhost:notaport/db", "invalid port"),
        ("postgresql:///db", "no host"),
        ("postgresql://u:p@localhost:5433", "names no database"),
        ("localhost:5433/posdb", "must start with postgresql://"),
    ],
)
def test_malformed_database_url_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, url: str, message: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    with pytest.raises(ValidationError) as excinfo:
        DatabaseSettings(_env_file=None)  # type: ignore[call-arg]
    assert message in str(excinfo.value)
    assert "database_url" in str(excinfo.value)


def test_driver_qualified_url_is_normalised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://u:p@h:1/d")
    assert DatabaseSettings(_env_file=None).dsn == "postgresql://u:p@h:1/d"  # type: ignore[call-arg]


@pytest.mark.parametrize("broker", ["", "localhost", "a:1,b"])
def test_malformed_kafka_broker(monkeypatch: pytest.MonkeyPatch, broker: str) -> None:
    monkeypatch.setenv("KAFKA_BROKER", broker)
    with pytest.raises(ValidationError, match="host:port"):
        KafkaSettings(_env_file=None)  # type: ignore[call-arg]


def test_out_of_range_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_PORT", "70000")
    with pytest.raises(ValidationError):
        ApiSettings(_env_file=None)  # type: ignore[call-arg]
