"""Prometheus metrics of one consumer, in a registry of its own (see ``pos.metrics``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from pos.metrics import ServiceMetrics


class ConsumerMetrics(ServiceMetrics):
    def __init__(self) -> None:
        super().__init__()
        r = self.registry
        self.consumed = Counter("pos_consumer_consumed", "Messages taken from Kafka.", registry=r)
        self.succeeded = Counter(
            "pos_consumer_succeeded", "Orders delivered and marked SUCCESS.", registry=r
        )
        self.failed = Counter(
            "pos_consumer_failed",
            "Messages dead-lettered (orders marked FAILED, or unreadable events).",
            ["reason"],
            registry=r,
        )
        self.skipped = Counter(
            "pos_consumer_skipped",
            "Events of orders already SUCCESS/FAILED: acknowledged without a call.",
            registry=r,
        )
        self.retries = Counter(
            "pos_consumer_retries",
            "Deliveries scheduled again after a transient failure.",
            registry=r,
        )
        self.pending = Gauge(
            "pos_consumer_pending",
            "Messages taken from Kafka and not finished (delivering, backing off, recording).",
            registry=r,
        )
        self.calls_in_flight = Gauge(
            "pos_consumer_calls_in_flight", "Calls to the third party under way.", registry=r
        )
        self.paused = Gauge(
            "pos_consumer_paused",
            "1 while fetching is paused because the pending limit is reached.",
            registry=r,
        )
        self.third_party_seconds = Histogram(
            "pos_consumer_third_party_seconds",
            "Duration of one call to the third party, whatever its outcome.",
            ["outcome"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=r,
        )
        self.assigned = Gauge(
            "pos_consumer_assigned_partitions",
            "Partitions this member owns (its share of the group's assignment).",
            registry=r,
        )
        self.lag = Gauge(
            "pos_consumer_lag",
            "Messages of a partition not yet committed (high watermark - committed).",
            ["topic", "partition"],
            registry=r,
        )
        self.unknown_outcomes = Counter(
            "pos_consumer_unknown_outcomes",
            "Calls without a definite answer (timeouts, 409 key in progress): retried "
            "without spending the order's budget.",
            ["kind"],
            registry=r,
        )
        self.breaker_state = Gauge(
            "pos_consumer_breaker_state",
            "The third party's circuit breaker: 0 closed, 1 half-open, 2 open.",
            registry=r,
        )
        self.breaker_open_since = Gauge(
            "pos_consumer_breaker_open_since_seconds",
            "Unix time the breaker opened (0 while closed): how long it has been open.",
            registry=r,
        )
        self.breaker_trips = Counter(
            "pos_consumer_breaker_trips",
            "Times the breaker opened, by the kind of failure that opened it.",
            ["kind"],
            registry=r,
        )
        self.receipt_lookups = Counter(
            "pos_consumer_receipt_lookups",
            "Receipt lookups at the third party before giving an order up, by result.",
            ["result"],
            registry=r,
        )
        self.corrected = Counter(
            "pos_consumer_corrected",
            "FAILED orders found to hold a third-party receipt and corrected to SUCCESS.",
            registry=r,
        )
        self.dropped = Counter(
            "pos_consumer_dropped",
            "Messages polled for a partition no longer owned (revoked in the same poll): "
            "left to the new owner, never processed or committed here.",
            registry=r,
        )
