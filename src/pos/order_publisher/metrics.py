"""The relay's Prometheus metrics, served on ``publisher_metrics_port`` (0 = not served).

Each relay owns its registry rather than using the process-global one (see
``pos.metrics``), so several relays in one process neither collide nor mix their figures.
"""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import Counter, Gauge, Histogram

from pos.metrics import ServiceMetrics
from pos.order_publisher.model import FailureKind, OutboxRow

# Insert → acknowledgement: milliseconds when idle, seconds while draining a backlog,
# minutes during a broker outage.
LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
)  # fmt: skip


class PublisherMetrics(ServiceMetrics):
    def __init__(self) -> None:
        super().__init__()
        r = self.registry
        self.backlog = Gauge(
            "pos_publisher_backlog_rows", "Outbox rows waiting to be published.", registry=r
        )
        self.oldest_age = Gauge(
            "pos_publisher_oldest_unpublished_age_seconds",
            "Age of the oldest outbox row not yet published.",
            registry=r,
        )
        self.published = Counter(
            "pos_publisher_events_published", "Events acknowledged by Kafka.", registry=r
        )
        self.latency = Histogram(
            "pos_publisher_publish_latency_seconds",
            "Outbox insert to Kafka acknowledgement.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.broker_available = Gauge(
            "pos_publisher_broker_available",
            "1 while Kafka acknowledges deliveries, 0 while it does not.",
            registry=r,
        )
        self.broker_available.set(1)
        self.failures = Counter(
            "pos_publisher_delivery_failures",
            "Failed deliveries, by kind (broker: not charged to the row; message: charged).",
            ["kind"],
            registry=r,
        )
        self.broker_errors = Counter(
            "pos_publisher_broker_errors",
            "Rows not sent for an error that is not theirs (outage, ACLs, credentials, "
            "unknown topic, fenced producer), by Kafka error name: never charged to the row.",
            ["code"],
            registry=r,
        )
        self.parked = Counter(
            "pos_publisher_events_parked", "Rows parked as poison after their retries.", registry=r
        )
        self.redelivered = Counter(
            "pos_publisher_events_redelivered",
            "New events enqueued for orders still PENDING long after their event was published.",
            registry=r,
        )
        self.retention_deleted = Counter(
            "pos_publisher_retention_deleted_rows",
            "Published rows deleted after the retention period.",
            registry=r,
        )

    def observe_published(self, rows: Sequence[OutboxRow], acked_at: float) -> None:
        self.published.inc(len(rows))
        observe = self.latency.observe
        for row in rows:
            observe(acked_at - row.created_at)

    def count_failures(self, kind: FailureKind, n: int) -> None:
        if n:
            self.failures.labels(kind.value).inc(n)
