"""Reading the facts: one function per source, each bounded in time and tolerant of its
source being down (it reports the error instead of raising).

The sources are read in parallel threads so a dead broker (whose metadata request only
gives up at its time-out) does not also delay the database figures on the screen.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime

import httpx
import psycopg
from confluent_kafka import KafkaError, KafkaException
from prometheus_client.parser import text_string_to_metric_families

from pos.config import (
    ApiSettings,
    ConsumerSettings,
    DatabaseSettings,
    KafkaSettings,
    PublisherSettings,
    Settings,
    ThirdPartySettings,
)
from pos.infra.kafka import admin
from pos.infra.process import port_open
from pos.logging import redact_text
from pos.ops import observe
from pos.ops.status.facts import (
    BreakerView,
    DatabaseReading,
    KafkaReading,
    Probe,
    StatusReport,
    ThirdPartyReading,
    assemble,
    breaker_view,
    orders_by_status,
)
from pos.order_publisher import admin as outbox_admin

TIMEOUT = 2.0  # per source: a status screen that hangs is worse than one that says "down"


def _error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return redact_text(text)


def probe_database(settings: DatabaseSettings) -> DatabaseReading:
    hosts = ",".join(f"{h}:{p}" for h, p in settings.parsed.hosts)
    address = f"{hosts}/{settings.database_name}"
    try:
        conn = psycopg.connect(
            settings.dsn,
            autocommit=True,
            connect_timeout=int(TIMEOUT),
            application_name="pos-status",
            options=f"-c statement_timeout={int(TIMEOUT * 1000)}",
        )
    except psycopg.Error as exc:
        return DatabaseReading(Probe("postgresql", address, up=False, detail=_error(exc)))
    # Connected means up, even if a figure cannot be read (a schema not migrated yet, a
    # count cut off by the statement timeout on a huge table): that is said, not "down".
    with conn:
        try:
            figures = observe.database_figures(conn)
        except psycopg.Error as exc:
            detail = f"figures unavailable: {_error(exc)}"
            return DatabaseReading(Probe("postgresql", address, up=True, detail=detail))
    return DatabaseReading(
        Probe("postgresql", address, up=True),
        orders=orders_by_status(figures.orders),
        outbox=figures.outbox,
        oldest_pending_age_seconds=figures.oldest_pending_age_seconds,
    )


def _kafka_error(exc: KafkaException) -> str:
    error = exc.args[0] if exc.args else None
    return error.str() if isinstance(error, KafkaError) else _error(exc)


def probe_kafka(settings: KafkaSettings, group: str) -> KafkaReading:
    def down(detail: str) -> KafkaReading:
        probe = Probe("kafka", settings.kafka_broker, up=False, detail=detail)
        return KafkaReading(probe, settings.order_topic, group, settings.dlq_topic)

    # A refused connection is known at once; the client would only give up at its time-out,
    # which would make every refresh of a broker outage two seconds slower.
    servers = [server.rpartition(":") for server in settings.kafka_broker.split(",")]
    if not any(port_open(host, int(port), timeout=TIMEOUT) for host, _, port in servers):
        return down(f"no bootstrap server accepts connections ({settings.kafka_broker})")
    client = admin(settings)
    try:
        if not client.list_topics(timeout=TIMEOUT).brokers:
            return down("no broker in the cluster metadata")
        partitions = observe.topic_offsets(client, settings.order_topic, group, timeout=TIMEOUT)
        dlq_partitions = observe.topic_offsets(client, settings.dlq_topic, timeout=TIMEOUT)
        state, members = observe.group_state(client, group, timeout=TIMEOUT)
    except KafkaException as exc:
        return down(_kafka_error(exc))
    found = {settings.order_topic: partitions, settings.dlq_topic: dlq_partitions}
    missing = [topic for topic, offsets in found.items() if offsets is None]
    return KafkaReading(
        Probe(
            "kafka",
            settings.kafka_broker,
            up=True,
            detail=f"missing topics: {', '.join(missing)}" if missing else "",
        ),
        settings.order_topic,
        group,
        settings.dlq_topic,
        group_state=state,
        group_members=members,
        partitions=partitions,
        dlq_partitions=dlq_partitions,
    )


def probe_third_party(settings: ThirdPartySettings) -> ThirdPartyReading:
    base = settings.third_party_url.rstrip("/")
    try:
        stats = observe.third_party_stats(base, timeout=TIMEOUT)
    except (httpx.HTTPError, ValueError) as exc:
        return ThirdPartyReading(Probe("third-party", base, up=False, detail=_error(exc)))
    return ThirdPartyReading(Probe("third-party", base, up=True), stats=stats)


def probe_http(name: str, url: str | None) -> Probe:
    """A service answers when its health (API) or metrics (workers) endpoint does."""
    if url is None:
        return Probe(name, "-", up=False, detail="metrics port is 0: cannot be asked")
    try:
        response = httpx.get(url, timeout=TIMEOUT)
    except httpx.HTTPError as exc:
        return Probe(name, url, up=False, detail=_error(exc) or "not answering")
    ok = response.status_code < 500
    return Probe(name, url, up=ok, detail="" if ok else f"HTTP {response.status_code}")


def probe_consumer(url: str | None) -> tuple[Probe, BreakerView | None]:
    """The consumer answers, and its circuit breaker's state (its own gauges)."""
    if url is None:
        return probe_http("consumer", url), None
    try:
        response = httpx.get(url, timeout=TIMEOUT)
    except httpx.HTTPError as exc:
        return Probe("consumer", url, up=False, detail=_error(exc) or "not answering"), None
    if response.status_code >= 500:
        return Probe("consumer", url, up=False, detail=f"HTTP {response.status_code}"), None
    probe = Probe("consumer", url, up=True)
    try:
        gauges = {
            sample.name: sample.value
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples
            if sample.name in _BREAKER_GAUGES
        }
    except ValueError:  # not a Prometheus page: something else answers on that port
        return probe, None
    view = breaker_view(
        gauges.get("pos_consumer_breaker_state"),
        gauges.get("pos_consumer_breaker_open_since_seconds"),
        time.time(),
    )
    if view is not None and view.state != "closed":
        probe = replace(probe, detail=f"third-party breaker {view.state}")
    return probe, view


_BREAKER_GAUGES = {"pos_consumer_breaker_state", "pos_consumer_breaker_open_since_seconds"}


def probe_publisher(url: str | None) -> Probe:
    """The relay answers, and whether Kafka acknowledges its deliveries (its own gauge).

    The relay can see the broker differently from this tool (another network, a listener
    it cannot reach), and it is the relay's view that decides whether events move.
    """
    probe = probe_http("publisher", url)
    if url is None or not probe.up:
        return probe
    if outbox_admin.broker_available(url, timeout=TIMEOUT) is False:
        return replace(probe, detail="Kafka does not acknowledge: the relay is backing off")
    return probe


def _local(host: str) -> str:
    """Where to reach a server bound to all interfaces from this machine."""
    return "127.0.0.1" if host in {"0.0.0.0", "::", ""} else host


def service_urls(
    api: ApiSettings, publisher: PublisherSettings, consumer: ConsumerSettings
) -> dict[str, str | None]:
    def metrics(host: str, port: int) -> str | None:
        return f"http://{_local(host)}:{port}/metrics" if port else None

    return {
        "api": f"http://{_local(api.api_host)}:{api.api_port}/healthz",
        "publisher": metrics(publisher.publisher_metrics_host, publisher.publisher_metrics_port),
        "consumer": metrics("127.0.0.1", consumer.consumer_metrics_port),
    }


def collect(settings: Settings) -> StatusReport:
    """Read every source at once and put the answers together."""
    urls = service_urls(settings.api, settings.publisher, settings.consumer)
    with ThreadPoolExecutor(max_workers=3 + len(urls)) as pool:
        db = pool.submit(probe_database, settings.db)
        kafka = pool.submit(probe_kafka, settings.kafka, settings.consumer.consumer_group)
        third_party = pool.submit(probe_third_party, settings.third_party)
        services = [
            pool.submit(probe_http, "api", urls["api"]),
            pool.submit(probe_publisher, urls["publisher"]),
        ]
        consumer = pool.submit(probe_consumer, urls["consumer"])
        consumer_probe, breaker = consumer.result()
        return assemble(
            datetime.now(UTC),
            db.result(),
            kafka.result(),
            third_party.result(),
            [*(s.result() for s in services), consumer_probe],
            stuck_after=2 * settings.publisher.redeliver_pending_after_seconds,
            breaker=breaker,
        )
