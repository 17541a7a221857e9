"""Settings for every part of the system: the only module that reads the environment.

One class per concern so each service takes only what it needs, and so the README's
configuration table can be generated from the classes (``pos.ops.configdoc``).
Names and defaults of the documented variables are part of the interface: kept exactly.

**Parsed once per process, then passed down.** An entry point parses the settings once:
the CLI (``pos.cli``) builds one :class:`Settings` before any command runs (so a bad value
stops it at once, naming the variable) and hands it to the command as ``args.settings``;
a process that does not start from the CLI (a uvicorn worker, a benchmark stage) parses
them once at its own start. Everything below an entry point (the services' wiring, the
adapters, ``pos.db``, ``pos.messaging``, ``pos.infra``, the operator tools, logging and
tracing) takes the settings it needs as parameters and never builds them itself, so one
process never acts on two readings of the environment, and a test or a benchmark can hand
a component exactly the settings it means. Tests may build settings freely.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from pos.db import dsn

#: The repository root: where `.env`, `.local/` (runtime state) and `bench/` live.
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _check_postgres_url(value: str) -> str:
    """Reject a malformed DATABASE_URL at start-up with a message that says what is wrong.

    Drivers fail much later and much less clearly (a DNS error for a typo in the scheme,
    a TypeError for a non-numeric port), so the shape is checked here once. Several hosts
    (a primary and its standby) are accepted: see ``pos.db.dsn``.
    """
    dsn.parse(value)  # DsnError is a ValueError: pydantic reports it as a settings error
    return value


PostgresUrl = Annotated[str, AfterValidator(_check_postgres_url)]


class _Base(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=PROJECT_ROOT / ".env", env_file_encoding="utf-8", extra="ignore"
    )


class DatabaseSettings(_Base):
    database_url: PostgresUrl = Field(
        "postgresql://postgres:postgres@localhost:5433/posdb",
        description="PostgreSQL; when it already answers, no local one is started.",
    )
    db_pool_min: int = Field(2, ge=1, description="Minimum connections in each service's pool.")
    db_pool_max: int = Field(
        20,
        ge=2,
        description="Maximum connections in each service's pool (the publisher takes at "
        "least PUBLISHER_PIPELINE_DEPTH + 2).",
    )

    @model_validator(mode="after")
    def _min_below_max(self) -> DatabaseSettings:
        if self.db_pool_min > self.db_pool_max:
            raise ValueError(
                f"DB_POOL_MIN ({self.db_pool_min}) is above DB_POOL_MAX ({self.db_pool_max})"
            )
        return self

    @property
    def parsed(self) -> dsn.PostgresDsn:
        return dsn.parse(self.database_url)

    @property
    def dsn(self) -> str:
        """The URL in the plain libpq form that asyncpg and psycopg accept (hosts listed)."""
        return self.parsed.libpq()

    @property
    def sqlalchemy_url(self) -> str:
        """The URL with the psycopg 3 driver named, for SQLAlchemy and Alembic."""
        return self.parsed.sqlalchemy()

    @property
    def database_name(self) -> str:
        return self.parsed.database


class KafkaSettings(_Base):
    kafka_broker: str = Field(
        "localhost:9092",
        description="Bootstrap servers, comma separated; when it already answers, "
        "no local broker is started.",
    )
    order_topic: str = Field("order.created", description="The topic the publisher writes.")
    dlq_topic: str = Field(
        "order.created.dlq", description="Dead letters: orders that failed for good."
    )
    order_topic_partitions: int = Field(
        6, ge=1, description="Partitions of the order topic when it is created."
    )

    @field_validator("kafka_broker")
    @classmethod
    def _non_empty(cls, value: str) -> str:
        hosts = [h.strip() for h in value.split(",") if h.strip()]
        if not hosts or any(":" not in h for h in hosts):
            raise ValueError("KAFKA_BROKER must be host:port[,host:port...], e.g. localhost:9092")
        return ",".join(hosts)


class ApiSettings(_Base):
    api_host: str = Field("127.0.0.1", description="Where the Order API listens.")
    api_port: int = Field(8000, ge=1, le=65535, description="Port of the Order API.")
    api_workers: int = Field(1, ge=1, description="Uvicorn worker processes for the Order API.")
    max_body_bytes: int = Field(
        256 * 1024, ge=1024, description="Request bodies above this are refused with 413."
    )
    idempotency_retention_seconds: int = Field(
        24 * 3600, ge=1, description="How long an Idempotency-Key's stored response is replayed."
    )
    idempotency_lock_timeout_ms: int = Field(
        2000,
        ge=1,
        description="How long a request waits for a concurrent one with the same key before 409.",
    )
    idempotency_cleanup_interval_seconds: float = Field(
        300.0, gt=0, description="Seconds between two sweeps of expired idempotency records."
    )
    idempotency_cleanup_batch_size: int = Field(
        5000, ge=1, description="Expired idempotency records deleted per statement."
    )
    api_db_timeout_seconds: float = Field(
        10.0,
        gt=0,
        description="Bound on each database call of a request, commit included: past it "
        "the call is cancelled and answered 503 (e.g. a commit waiting for a standby that "
        "is gone); a retry with the same Idempotency-Key replays the order if it committed.",
    )
    readiness_timeout_seconds: float = Field(
        1.0, gt=0, description="Bound on each /readyz check (database, Kafka)."
    )
    cursor_secret: SecretStr | None = Field(
        None,
        description="Key signing GET /orders cursors, shared by every API worker (at least 32 "
        "characters); unset, one is generated and kept in the database.",
    )
    prometheus_multiproc_dir: Path | None = Field(
        None,
        description="Shared metrics folder of the API's workers; `pos api` sets it when it "
        "runs more than one.",
    )

    @field_validator("cursor_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("CURSOR_SECRET must be at least 32 characters (or unset)")
        return value


class AuthSettings(_Base):
    """Device authentication of the Order API's order routes."""

    api_key_cache_seconds: float = Field(
        10.0,
        ge=0,
        description="How long a verified key is trusted without a lookup; also how long a "
        "revoked key may keep working in a running API.",
    )
    api_rate_limit_per_second: float = Field(
        50.0, gt=0, description="Sustained requests per second allowed to one device."
    )
    api_rate_limit_burst: int = Field(
        100, ge=1, description="Requests one device may send at once above its rate."
    )


class PublisherSettings(_Base):
    publisher_batch_size: int = Field(5000, ge=1, description="Outbox rows claimed per batch.")
    publisher_poll_interval: float = Field(
        1.0, gt=0, description="Seconds between polls when no NOTIFY arrives (fallback)."
    )
    publisher_max_attempts: int = Field(
        5, ge=1, description="Failed deliveries of one row before it is parked as poison."
    )
    # Longer than any broker outage the relay should ride out (a leader election takes
    # 3-13 s; two of three brokers down, until one is back, 25-75 s measured): a delivery
    # report that timed out does not mean the record was not written, and the idempotent
    # producer re-sends it under a new epoch the broker cannot de-duplicate, so a shorter
    # time-out turns every outage into duplicate records (the replicated chaos run counts
    # them). Meanwhile the relay backs off as a whole: its batches in flight wait in the
    # producer, nothing new is claimed, nothing is marked published.
    publisher_delivery_timeout_ms: int = Field(
        120_000,
        ge=1000,
        description="Kafka delivery.timeout.ms: how long one produce may wait through an "
        "outage before the relay backs off and sends it again.",
    )
    publisher_retention_seconds: int = Field(
        7 * 24 * 3600, ge=1, description="Published outbox rows older than this are deleted."
    )
    publisher_metrics_port: int = Field(9101, ge=0, description="Prometheus port (0 = off).")
    publisher_metrics_host: str = Field(
        "127.0.0.1", description="Address the publisher's metrics server binds."
    )
    publisher_pipeline_depth: int = Field(
        2, ge=1, description="Batches in flight at once: the next is claimed while one awaits acks."
    )
    publisher_listen: bool = Field(
        True, description="Wake on LISTEN/NOTIFY; off, the relay only polls (the naive relay)."
    )
    publisher_retry_base_seconds: float = Field(
        0.5, gt=0, description="Back-off after a row's first refused delivery; doubles per attempt."
    )
    publisher_retry_max_seconds: float = Field(60.0, gt=0, description="Cap of one row's back-off.")
    publisher_broker_retry_max_seconds: float = Field(
        5.0, gt=0, description="Cap of the back-off while Kafka is unavailable."
    )
    publisher_retention_interval_seconds: float = Field(
        60.0, gt=0, description="Seconds between two retention clean-ups."
    )
    publisher_sample_interval_seconds: float = Field(
        5.0, gt=0, description="Seconds between two backlog measurements for the metrics."
    )
    redeliver_pending_after_seconds: float = Field(
        600.0,
        gt=0,
        description="An order still PENDING this long after its event was published gets its "
        "event published again (checked every quarter of it, at most every 60 s).",
    )
    publisher_kafka_overrides: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        description='Producer settings over the project\'s, as JSON, e.g. {"linger.ms": 5}.',
    )


class ConsumerSettings(_Base):
    consumer_group: str = Field("order-consumer", description="Kafka consumer group id.")
    consumer_max_in_flight: int = Field(
        256, ge=1, description="Orders delivered to the third party at once, per process."
    )
    consumer_retry_budget: int = Field(
        8, ge=1, description="Delivery attempts per order before it is FAILED."
    )
    consumer_unknown_outcome_budget: int = Field(
        32,
        ge=1,
        description="Calls without a definite answer (timeouts, 409 key in progress) per "
        "order before its receipt is looked up and, if none, it is FAILED.",
    )
    consumer_retry_base_seconds: float = Field(
        0.2, gt=0, description="First retry back-off; doubles per attempt, with jitter."
    )
    consumer_retry_max_seconds: float = Field(10.0, gt=0, description="Cap of one back-off.")
    consumer_commit_interval_seconds: float = Field(
        0.5, gt=0, description="How often finished offsets are committed to Kafka."
    )
    consumer_shutdown_grace_seconds: float = Field(
        10.0,
        ge=0,
        description="On SIGTERM or a rebalance, how long in-flight orders may finish "
        "before they are abandoned (to be redelivered).",
    )
    consumer_breaker_threshold: int = Field(
        10,
        ge=1,
        description="Consecutive failed calls (5xx, timeouts, 401/403/404) that open the "
        "third party's circuit breaker.",
    )
    consumer_breaker_open_seconds: float = Field(
        1.0,
        gt=0,
        description="First wait of an open breaker before its probe; doubles per failed probe.",
    )
    consumer_breaker_max_open_seconds: float = Field(
        30.0, gt=0, description="Cap of the open breaker's wait between two probes."
    )
    consumer_breaker_ramp_seconds: float = Field(
        5.0,
        ge=0,
        description="After the breaker closes, calls in flight ramp from 1 to "
        "CONSUMER_MAX_IN_FLIGHT over this time (no retry storm).",
    )
    consumer_commit_log: Path | None = Field(
        None,
        description="JSON-lines file: one line per partition for each offset commit the "
        "broker acknowledged, for audits. Off when unset.",
    )
    consumer_metrics_port: int = Field(9102, ge=0, description="Prometheus port (0 = off).")
    consumer_metrics_host: str = Field(
        "127.0.0.1", description="Address the consumer's metrics server binds."
    )


class ThirdPartySettings(_Base):
    third_party_url: str = Field(
        "http://127.0.0.1:8081", description="Base URL of the external system."
    )
    third_party_timeout_seconds: float = Field(
        2.0, gt=0, description="Client timeout of one call to the third party."
    )
    third_party_receipt_path: str | None = Field(
        "/receipts/{key}",
        description="Path of the third party's receipt lookup ({key}: the order id), asked "
        "before an order is given up; empty when the destination has none.",
    )

    @field_validator("third_party_receipt_path")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        if not value:
            return None
        if "{key}" not in value:
            raise ValueError("must contain {key}, where the order id goes")
        return value

    # Fault injection of the simulated third party (also settable at run time).
    tp_error_rate: float = Field(0.0, ge=0, le=1, description="Share of 5xx answers.")
    tp_refusal_rate: float = Field(0.0, ge=0, le=1, description="Share of 4xx refusals.")
    tp_timeout_rate: float = Field(
        0.0, ge=0, le=1, description="Share of calls that hang past the client timeout."
    )
    tp_latency_ms: float = Field(0.0, ge=0, description="Fixed latency added to each call.")
    tp_jitter_ms: float = Field(0.0, ge=0, description="Random extra latency, 0..N ms.")
    tp_conflict_rate: float = Field(
        0.0, ge=0, le=1, description='Share of 409 "key in progress" answers (nothing recorded).'
    )
    tp_outage: bool = Field(False, description="Answer every call with 503.")
    tp_status_override: int | None = Field(
        None,
        ge=400,
        le=599,
        description="Answer every call with this status (e.g. 401, 403, 404): a misconfigured "
        "destination. Unset: off.",
    )
    tp_hang_seconds: float = Field(
        30.0, ge=0, description="How long a simulated timeout hangs before it answers."
    )
    tp_store_path: Path = Field(
        PROJECT_ROOT / ".local" / "third_party" / "receipts.jsonl",
        description="Where the simulated third party persists its receipts.",
    )


class InfraSettings(_Base):
    """Where `pos infra up` keeps what it starts; tests point these at a scratch folder."""

    pos_state_dir: Path = Field(
        PROJECT_ROOT / ".local", description="Data dirs, logs and pid files of local services."
    )
    kafka_libs_dir: Path = Field(
        PROJECT_ROOT / ".local" / "kafka" / "libs",
        description="Cache of the Kafka jars resolved from Maven Central.",
    )
    kafka_controller_port: int = Field(
        9093, description="KRaft controller port of the local broker."
    )
    kafka_heap_opts: str = Field("-Xmx1g -Xms512m", description="JVM heap of the local broker.")
    kafka_cluster_port_base: int = Field(
        19090,
        ge=1024,
        le=65000,
        description="`pos infra up --kafka-brokers 3`: node i listens on base+2i, its "
        "controller on base+2i+1 (19092/19093, 19094/19095, 19096/19097).",
    )
    kafka_cluster_heap_opts: str = Field(
        "-Xmx512m -Xms512m", description="JVM heap of each node of the replicated cluster."
    )
    postgres_pair_port_base: int = Field(
        15432,
        ge=1024,
        le=65000,
        description="`pos infra up --postgres-standby`: pg1 listens on this port, pg2 on the next.",
    )


LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
LogFormat = Literal["auto", "json", "console"]


class LogSettings(_Base):
    log_level: LogLevel = Field(
        "INFO", description="Minimum log level: DEBUG, INFO, WARNING, ERROR or CRITICAL."
    )
    log_format: LogFormat = Field(
        "auto", description="json, console, or auto (console on a terminal, else json)."
    )

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _any_case(cls, value: object, info: ValidationInfo) -> object:
        """``debug`` and ``JSON`` are meant as ``DEBUG`` and ``json``: accept either case."""
        if not isinstance(value, str):
            return value
        value = value.strip()
        return value.upper() if info.field_name == "log_level" else value.lower()


TracesExporter = Literal["otlp", "console", "none"]


class TraceSettings(_Base):
    """The standard OpenTelemetry variables that decide whether a service records spans.

    The OTLP exporter and the span processor read their own standard variables too
    (headers, timeouts, ``OTEL_BSP_*``, ``OTEL_TRACES_SAMPLER``); only the ones that turn
    tracing on and name the service are read here (see ``pos.tracing``).
    """

    otel_exporter_otlp_endpoint: str | None = Field(
        None,
        description="OTLP/HTTP collector base URL (spans go to its /v1/traces); setting it "
        "turns traces on. Unset: traces off.",
    )
    otel_exporter_otlp_traces_endpoint: str | None = Field(
        None, description="Full OTLP/HTTP traces URL; overrides the one above and turns traces on."
    )
    otel_traces_exporter: TracesExporter | None = Field(
        None,
        description="otlp, console or none. Unset: otlp when an endpoint is set, else none.",
    )
    otel_service_name: str | None = Field(
        None, description="The service name on spans. Unset: pos-api, pos-publisher, pos-consumer."
    )
    otel_sdk_disabled: bool = Field(False, description="`true` turns traces off whatever is set.")

    @field_validator("otel_traces_exporter", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @property
    def exporter(self) -> TracesExporter:
        """What the variables ask for: the exporter named, else OTLP when an endpoint is set."""
        if self.otel_sdk_disabled:
            return "none"
        if self.otel_traces_exporter is not None:
            return self.otel_traces_exporter
        endpoint = self.otel_exporter_otlp_traces_endpoint or self.otel_exporter_otlp_endpoint
        return "otlp" if endpoint else "none"


class Settings(_Base):
    """Every concern at once: what an entry point parses, then hands out part by part."""

    db: DatabaseSettings = Field(default_factory=DatabaseSettings)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    publisher: PublisherSettings = Field(default_factory=PublisherSettings)
    consumer: ConsumerSettings = Field(default_factory=ConsumerSettings)
    third_party: ThirdPartySettings = Field(default_factory=ThirdPartySettings)
    log: LogSettings = Field(default_factory=LogSettings)
    trace: TraceSettings = Field(default_factory=TraceSettings)
    infra: InfraSettings = Field(default_factory=InfraSettings)


SETTINGS_CLASSES: tuple[type[BaseSettings], ...] = (
    DatabaseSettings,
    KafkaSettings,
    ApiSettings,
    AuthSettings,
    PublisherSettings,
    ConsumerSettings,
    ThirdPartySettings,
    InfraSettings,
    LogSettings,
    TraceSettings,
)
