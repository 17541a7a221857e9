"""Prometheus metrics of the Order API: one :class:`ApiMetrics` per app (see ``pos.metrics``).

Routes are labelled by their template (``/orders/{order_id}``), never by the raw path, so
a scan of random URLs cannot blow up the number of series; unmatched paths share one label.
"""

from __future__ import annotations

from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

from pos.metrics import ServiceMetrics

UNMATCHED_ROUTE = "<unmatched>"


class ApiMetrics(ServiceMetrics):
    def __init__(self) -> None:
        super().__init__()
        r = self.registry
        self.requests = Counter(
            "pos_api_requests_total",
            "HTTP requests answered.",
            ["method", "route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "pos_api_request_duration_seconds",
            "Time from the first byte of the request to the end of the answer.",
            ["method", "route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=r,
        )
        self.orders_created = Counter(
            "pos_api_orders_created_total", "Orders accepted (201, not replays).", registry=r
        )
        self.replays = Counter(
            "pos_api_idempotent_replays_total",
            "Stored answers replayed for a repeated key.",
            registry=r,
        )
        self.conflicts = Counter(
            "pos_api_idempotency_conflicts_total",
            "Requests refused because of their Idempotency-Key.",
            ["reason"],  # in_flight | body_mismatch | expired
            registry=r,
        )
        self.auth_failures = Counter(
            "pos_api_auth_failures_total",
            "Requests refused with 401.",
            ["reason"],  # missing | malformed | unknown (or revoked) | wrong_secret
            registry=r,
        )
        self.rate_limited = Counter(
            "pos_api_rate_limited_total", "Requests refused with 429 (device rate).", registry=r
        )
        self.expired_keys_deleted = Counter(
            "pos_api_idempotency_keys_deleted_total",
            "Expired idempotency records removed by cleanup.",
            registry=r,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def exposed(self, multiprocess_dir: Path | None) -> CollectorRegistry:
        """What ``/metrics`` exposes: this app's metrics, or all workers' added up.

        Each uvicorn worker is its own process with its own counters; with several, a
        scrape would see whichever worker answered. prometheus_client's multiprocess mode
        (chosen by PROMETHEUS_MULTIPROC_DIR before the first metric is created) has every
        worker write its values to files in one folder, whatever registry holds them, and
        any worker can then answer for all of them.
        """
        if multiprocess_dir is None:
            return self.registry
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(multiprocess_dir))  # type: ignore[no-untyped-call]
        return registry


def exposition(registry: CollectorRegistry) -> tuple[bytes, str]:
    return generate_latest(registry), CONTENT_TYPE_LATEST
